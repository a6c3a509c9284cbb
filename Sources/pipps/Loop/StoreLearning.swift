import Foundation
import GaussianProcess
import Learning
import LinearAlgebra
import Messages
import Policies
import PolicyGradient
import Robots
import TrialStore

/// One offline learning round on the trial store: the stored trials of a robot and task → GP model →
/// policy optimisation (``LearningRound``) → a new policy version in the store. Used by `pipps learn`
/// and `pipps cycle`.
enum StoreLearning {
    struct Outcome {
        var policy: Pipps_V1_Policy
        var roundID: Int64
        var trials: [Int64]
        var predictedReturn: Double
        var initialReturn: Double
        var modelSeconds: Double
        var optimisationSeconds: Double
        /// The stored policy version the optimisation started from; nil: a fresh random policy.
        var startedFrom: Int64?
    }

    /// The newest stored policy of `robot` that fits `task`: for its robot kind, of type `P` and on
    /// the task's policy inputs. Versions that do not fit (another kind's policy, one that does not
    /// decode) are passed over.
    static func newestFittingPolicy<P: Policy>(_ type: P.Type, store: TrialStore, robot: String, task: Task) throws -> (policy: P, version: Int64)? {
        for stored in try store.policies(robot: robot) {
            guard let wire = try? Pipps_V1_Policy(serializedBytes: stored.policy), wire.robotKind.robotKind == task.kind,
                  let policy = (try? wire.makePolicy()) as? P, policy.transform == EpisodicExperiment.policyTransform(task)
            else { continue }
            return (policy, stored.version)
        }
        return nil
    }

    /// The complete trials of `robot` on `task` as the learner sees them: chains of observed states
    /// (as learning states) with the controls applied between them, N states and N − 1 controls from
    /// N steps. Steps the runtime refused as out of order or stale are left out (their state is not
    /// the robot's state at that time), and a trial is cut where sequence numbers skip (a lost state)
    /// or a state is malformed: only real consecutive transitions are learned from. A step without a
    /// (well-formed) control ends a chain as its final state. Chains shorter than two steps carry no
    /// transition and are left out.
    static func observedTrials(store: TrialStore, robot: String, taskName: String, task: Task) throws -> (ids: [Int64], trials: [ObservedTrial]) {
        var ids: [Int64] = [], trials: [ObservedTrial] = []
        let n = task.plant.stateDimension, m = task.plant.controlDimension
        let refused: Set<Int> = [Pipps_V1_FallbackReason.outOfOrder.rawValue, Pipps_V1_FallbackReason.staleState.rawValue]
        for trial in try store.trials(robot: robot, task: taskName, statuses: [.complete]) {
            var chains: [[StoredStep]] = [[]]
            for step in try store.steps(trial: trial.id) where !refused.contains(step.reason) {
                let wellFormed = step.state.count == n && step.state.allSatisfy(\.isFinite)
                if let last = chains[chains.count - 1].last,
                   step.sequence != last.sequence + 1 || !wellFormed || last.control.count != m || !last.control.allSatisfy(\.isFinite) {
                    chains.append([])
                }
                if wellFormed { chains[chains.count - 1].append(step) }
            }
            var used = false
            for chain in chains where chain.count >= 2 {
                trials.append(ObservedTrial(states: chain.map { task.representation.learningState(from: $0.state) },
                                            controls: chain.dropLast().map(\.control)))
                used = true
            }
            if used { ids.append(trial.id) }
        }
        return (ids, trials)
    }

    /// A random policy for the first trial(s) on a robot (PILCO starts from random controls; through
    /// the runtime a random RBF network with large weights plays that part: an erratic, saturated
    /// function of the state).
    static func randomPolicy(task: Task, version: UInt64, seed: UInt64, basisCount: Int = 50) -> Pipps_V1_Policy {
        var rng = SeededGenerator(seed: seed)
        let transform = EpisodicExperiment.policyTransform(task)
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        switch task.kind {
        case .cartPole:
            let s = task.initialLearningState
            var policy = RBFPolicy.random(transform: transform, controlLimits: task.controlLimits, basisCount: basisCount,
                                          centreMean: s.mean, centreStandardDeviations: s.standardDeviations.map { max($0, 1) }, using: &rng)
            for i in policy.weights.storage.indices { policy.weights.storage[i] *= 20 }
            return (try? Pipps_V1_Policy(policy, version: version, robotKind: task.kind, createdUnixNanoseconds: now).withChecksum())!
        case .unicycle:
            let policy = LinearPolicy.random(transform: transform, controlLimits: task.controlLimits, using: &rng)
            return (try? Pipps_V1_Policy(policy, version: version, robotKind: task.kind, createdUnixNanoseconds: now).withChecksum())!
        }
    }

    /// Runs one round and stores its record and the new policy.
    static func learn(store: TrialStore, robot: String, taskName: String, task: Task, settings: LearningSettings,
                      cycleID: Int64? = nil, basisCount: Int = 50,
                      progress: ((Int, Double) -> Void)? = nil, isCancelled: (() -> Bool)? = nil) throws -> Outcome {
        let (ids, trials) = try observedTrials(store: store, robot: robot, taskName: taskName, task: task)
        guard !trials.isEmpty else {
            throw StoreLearningError("no complete trial of \(robot) on \(taskName) in \(store.path): run a trial first (pipps cycle runs a random one)")
        }
        let started = Int64(Date().timeIntervalSince1970 * 1e9)
        let settingsJSON = settingsDescription(settings)
        let roundID = try store.beginLearningRound(robot: robot, task: taskName, cycleID: cycleID, settings: settingsJSON,
                                                   seed: settings.seed, trainingTrials: ids, startedNs: started)
        // Continue from the robot's newest policy that fits the task; otherwise start afresh.
        var wire: Pipps_V1_Policy
        var startedFrom: Int64?
        let result: (initial: Double, final: Double, model: Double, optimisation: Double)
        switch task.kind {
        case .cartPole:
            let fresh = try randomPolicy(task: task, version: 1, seed: settings.seed, basisCount: basisCount).makePolicy() as! RBFPolicy
            let previous = try newestFittingPolicy(RBFPolicy.self, store: store, robot: robot, task: task)
            startedFrom = previous?.version
            let start = previous?.policy ?? fresh
            let r = try LearningRound.run(task: task, trials: trials, policy: start, settings: settings, progress: progress, isCancelled: isCancelled)
            wire = Pipps_V1_Policy(r.policy, version: 1, robotKind: task.kind, learningRound: UInt64(roundID),
                                   createdUnixNanoseconds: Int64(Date().timeIntervalSince1970 * 1e9))
            result = (r.initialReturn, r.finalReturn, r.modelSeconds, r.optimisationSeconds)
        case .unicycle:
            let fresh = try randomPolicy(task: task, version: 1, seed: settings.seed).makePolicy() as! LinearPolicy
            let previous = try newestFittingPolicy(LinearPolicy.self, store: store, robot: robot, task: task)
            startedFrom = previous?.version
            let start = previous?.policy ?? fresh
            let r = try LearningRound.run(task: task, trials: trials, policy: start, settings: settings, progress: progress, isCancelled: isCancelled)
            wire = Pipps_V1_Policy(r.policy, version: 1, robotKind: task.kind, learningRound: UInt64(roundID),
                                   createdUnixNanoseconds: Int64(Date().timeIntervalSince1970 * 1e9))
            result = (r.initialReturn, r.finalReturn, r.modelSeconds, r.optimisationSeconds)
        }
        // The version is taken now, after minutes of learning, so that one deployed meanwhile is not reused.
        let version = UInt64(try store.nextPolicyVersion(robot: robot))
        wire.version = version
        wire = try wire.withChecksum()
        let bytes: [UInt8] = try wire.serializedBytes()
        let finished = Int64(Date().timeIntervalSince1970 * 1e9)
        try store.finishLearningRound(roundID, policy: StoredPolicy(robotID: robot, version: Int64(version), createdNs: finished,
                                                                    learningRoundID: roundID, policy: Data(bytes), checksum: wire.checksum),
                                      modelSeconds: result.model, optimisationSeconds: result.optimisation, predictedReturn: result.final)
        return Outcome(policy: wire, roundID: roundID, trials: ids, predictedReturn: result.final, initialReturn: result.initial,
                       modelSeconds: result.model, optimisationSeconds: result.optimisation, startedFrom: startedFrom)
    }

    /// One line saying where a round's optimisation started.
    static func startDescription(_ outcome: Outcome) -> String {
        outcome.startedFrom.map { "started from the robot's policy version \($0), its newest that fits the task" }
            ?? "started from a random policy (no stored policy of this robot fits the task)"
    }

    static func settingsDescription(_ s: LearningSettings) -> String {
        let object: [String: Any] = [
            "estimator": "\(s.estimator)", "particles": s.particles, "evaluations": s.evaluations, "learning_rate": s.learningRate,
            "momentum": s.momentum, "moment_matching": s.momentMatching, "seed": String(s.seed),
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

struct StoreLearningError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
