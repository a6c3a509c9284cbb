import ControlRuntime
import Foundation
import Learning
import Messages
import Robots
import TrialStore
import ZeroMQ

/// The scheduler of `pipps cycle` and `pipps demo`: for one robot and task, random trial(s), then
/// learn → deploy → run a trial, until the task's success test holds for `successes` consecutive
/// trials or the trial budget is spent.
///
/// **Resumable.** Everything it knows is in the trial store: the cycle (robot, task, running), its
/// trials (the recorder tags them with the running cycle), its learning rounds and policies. Started
/// again after a kill, it first waits for a trial the runtime is still running, then counts the
/// complete trials and goes on; a learning round whose policy has not run yet (killed after
/// learning) is reused, so no trial is repeated or lost and no round is learned twice.
final class CycleRunner {
    struct Configuration {
        var robot: String
        var taskName: String
        var task: Task
        var learning = LearningSettings()
        var randomTrials = 1
        /// Complete trials at most (random ones included).
        var maxTrials = 16
        /// Consecutive successful trials that end the cycle.
        var successes = 1
        /// Steps per trial (default: the task's horizon).
        var maxSteps: Int?
        /// Learn and run a trial at most this often (seconds); nil: right after each trial.
        var every: Double?
        var basisCount = 50
        var seed: UInt64 = 0
    }

    enum Event {
        case resumed(cycle: Int64, completeTrials: Int)
        case started(cycle: Int64)
        case waitingForRobot(String)
        case waitingForRunningTrial(Int64)
        case learning(trial: Int, evaluation: Int, of: Int, predictedReturn: Double)
        /// `startedFrom`: the stored policy version the round continued from; nil: a random policy.
        case learned(round: Int64, version: UInt64, seconds: Double, predictedReturn: Double, startedFrom: Int64?)
        case trialStarted(number: Int, id: Int64, version: UInt64, random: Bool)
        case trialFinished(number: Int, id: Int64, status: TrialStatus, cost: Double, finalCost: Double, success: Bool)
        case finished(status: String, reason: String)
    }

    let configuration: Configuration
    let store: TrialStore
    let admin: AdminClient
    let report: (Event) -> Void

    init(configuration: Configuration, store: TrialStore, admin: AdminClient, report: @escaping (Event) -> Void) {
        self.configuration = configuration
        self.store = store
        self.admin = admin
        self.report = report
    }

    private var c: Configuration { configuration }
    private var nowNs: Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }
    private var maxSteps: Int { c.maxSteps ?? c.task.horizon }

    /// Runs until the cycle ends (returns its status) or `stop` is set (returns nil; the cycle stays
    /// running in the store and a later run resumes it).
    func run(stop: StopFlag) throws -> String? {
        let settings = "{\"estimator\":\"\(c.learning.estimator)\",\"particles\":\(c.learning.particles),\"evaluations\":\(c.learning.evaluations),"
            + "\"random_trials\":\(c.randomTrials),\"max_trials\":\(c.maxTrials),\"successes\":\(c.successes),\"seed\":\"\(c.seed)\"}"
        let (cycle, resumed) = try store.openCycle(robot: c.robot, task: c.taskName, settings: settings, nowNs: nowNs)
        if resumed {
            report(.resumed(cycle: cycle, completeTrials: try store.trials(cycle: cycle).filter { $0.status == .complete }.count))
        } else {
            report(.started(cycle: cycle))
        }
        var lastStart: Date?
        while !stop.isSet {
            // A trial the runtime is still running (the scheduler was restarted mid-trial): let it end.
            if let running = try runningTrial() {
                report(.waitingForRunningTrial(running))
                guard try waitForTrialEnd(running, stop: stop) else { return nil }
            }
            let trials = try store.trials(cycle: cycle)
            let complete = trials.filter { $0.status == .complete }
            // Success: the last `successes` complete trials all pass the task's test.
            let recent = complete.suffix(c.successes)
            // Only learned trials count: the random ones come first.
            if recent.count == c.successes, complete.count - c.successes >= c.randomTrials, try recent.allSatisfy({ try evaluate($0).success }) {
                let reason = "\(c.successes) consecutive successful trial(s) after \(complete.count) trials"
                try store.finishCycle(cycle, status: "succeeded", reason: reason, nowNs: nowNs)
                report(.finished(status: "succeeded", reason: reason))
                return "succeeded"
            }
            if complete.count >= c.maxTrials {
                let reason = "trial budget of \(c.maxTrials) spent without \(c.successes) consecutive successes"
                try store.finishCycle(cycle, status: "exhausted", reason: reason, nowNs: nowNs)
                report(.finished(status: "exhausted", reason: reason))
                return "exhausted"
            }
            if let every = c.every, let lastStart {
                let wait = every - Date().timeIntervalSince(lastStart)
                if wait > 0 { sleep(seconds: wait, stop: stop); continue }
            }
            let number = complete.count + 1
            let random = complete.count < c.randomTrials
            let policy = try random ? randomPolicy(number: number) : learnedPolicy(cycle: cycle, number: number, stop: stop)
            guard let policy, !stop.isSet else { return nil }
            guard try waitForRobot(stop: stop) else { return nil }
            try deploy(policy)
            lastStart = Date()
            let reply = try admin.perform(.startTrial(.with { $0.robotID = c.robot; $0.task = c.taskName; $0.maxSteps = UInt32(maxSteps) }))
            let id = Int64(reply.trialID)
            report(.trialStarted(number: number, id: id, version: policy.version, random: random))
            guard try waitForTrialEnd(id, stop: stop) else { return nil }
            guard let trial = try waitForStoredEnd(id) else {
                throw StoreLearningError("trial \(id) is not in \(store.path): the runtime must record to the same store (pipps serve --store \(store.path))")
            }
            let outcome = try evaluate(trial)
            if trial.status == .complete, !random,
               let round = try store.learningRounds(cycle: cycle).last(where: { $0.policyVersion == Int64(policy.version) }) {
                try store.setAchievedReturn(round: round.id, outcome.cost)
            }
            report(.trialFinished(number: number, id: id, status: trial.status, cost: outcome.cost, finalCost: outcome.finalCost, success: outcome.success))
        }
        return nil
    }

    /// The trial's cost (sum over its observed states) and the task's success test on it.
    func evaluate(_ trial: StoredTrial) throws -> (cost: Double, finalCost: Double, success: Bool) {
        guard let o = c.task.outcome(observedStates: try store.steps(trial: trial.id).map(\.state)) else { return (.infinity, .infinity, false) }
        return (o.cost, o.finalCost, o.success)
    }

    private func randomPolicy(number: Int) throws -> Pipps_V1_Policy {
        let version = UInt64(try store.nextPolicyVersion(robot: c.robot))
        let policy = StoreLearning.randomPolicy(task: c.task, version: version, seed: c.seed &+ UInt64(number), basisCount: c.basisCount)
        let bytes: [UInt8] = try policy.serializedBytes()
        try store.insertPolicy(StoredPolicy(robotID: c.robot, version: Int64(version), createdNs: nowNs, policy: Data(bytes), checksum: policy.checksum))
        return policy
    }

    /// The policy learned from exactly these trials: reused when a round already made it (the
    /// scheduler was stopped between learning and running it), learned now otherwise.
    private func learnedPolicy(cycle: Int64, number: Int, stop: StopFlag) throws -> Pipps_V1_Policy? {
        // The trials a round would learn from now, exactly as the round itself records them.
        let ids = try StoreLearning.observedTrials(store: store, robot: c.robot, taskName: c.taskName, task: c.task).ids
        let key = "[" + ids.map(String.init).joined(separator: ",") + "]"
        if let round = try store.learningRounds(cycle: cycle).last(where: { $0.trainingTrials == key && $0.policyVersion != nil }),
           let stored = try store.policy(robot: c.robot, version: round.policyVersion!) {
            return try Pipps_V1_Policy(serializedBytes: stored.policy)
        }
        var settings = c.learning
        settings.seed = c.seed &+ UInt64(number) &* 0x9E37_79B9
        let started = Date()
        let outcome: StoreLearning.Outcome
        do {
            outcome = try StoreLearning.learn(store: store, robot: c.robot, taskName: c.taskName, task: c.task, settings: settings,
                                              cycleID: cycle, basisCount: c.basisCount,
                                              progress: { [report] e, value in
                                                  report(.learning(trial: number, evaluation: e, of: settings.evaluations, predictedReturn: value))
                                              },
                                              isCancelled: { stop.isSet })
        } catch LearningError.cancelled {
            return nil  // the unfinished round stays without a policy; the next run learns it again
        }
        report(.learned(round: outcome.roundID, version: outcome.policy.version, seconds: Date().timeIntervalSince(started),
                        predictedReturn: outcome.predictedReturn, startedFrom: outcome.startedFrom))
        return stop.isSet ? nil : outcome.policy
    }

    private func deploy(_ policy: Pipps_V1_Policy) throws {
        let status = try admin.perform(.status(.init())).status
        if let deployed = status.robots.first(where: { $0.robotID == c.robot })?.policyVersion, deployed >= policy.version {
            if deployed == policy.version { return }  // already live (deployed before a restart)
        }
        do {
            _ = try admin.perform(.deploy(.with { $0.robotID = c.robot; $0.policy = policy }))
        } catch {
            throw StoreLearningError("deploying version \(policy.version) to \(c.robot) failed: \(error)")
        }
    }

    /// The id of a trial the runtime is running on the robot now, if any.
    private func runningTrial() throws -> Int64? {
        let status = try admin.perform(.status(.init())).status
        guard let robot = status.robots.first(where: { $0.robotID == c.robot }), robot.trialID != 0 else { return nil }
        return Int64(robot.trialID)
    }

    private func waitForRobot(stop: StopFlag) throws -> Bool {
        var reported = false
        while !stop.isSet {
            if try admin.perform(.status(.init())).status.robots.contains(where: { $0.robotID == c.robot }) { return true }
            if !reported { report(.waitingForRobot(c.robot)); reported = true }
            sleep(seconds: 0.2, stop: stop)
        }
        return false
    }

    /// Waits until the runtime no longer runs trial `id` on the robot (false: stopped first). A
    /// trial that overruns its time by far is stopped.
    private func waitForTrialEnd(_ id: Int64, stop: StopFlag) throws -> Bool {
        let limit = Date().addingTimeInterval(Double(maxSteps) * c.task.controlPeriod * 3 + 30)
        while !stop.isSet {
            let status = try admin.perform(.status(.init())).status
            let robot = status.robots.first(where: { $0.robotID == c.robot })
            if robot?.trialID != UInt64(id) { return true }
            if Date() > limit {
                _ = try? admin.perform(.stopTrial(.with {
                    $0.robotID = c.robot; $0.trialID = UInt64(id); $0.reason = "overran its time (scheduler)"; $0.abort = true
                }))
            }
            sleep(seconds: 0.05, stop: stop)
        }
        return false
    }

    /// The trial as stored once the recorder has written its end (it commits every 50 ms).
    private func waitForStoredEnd(_ id: Int64) throws -> StoredTrial? {
        let limit = Date().addingTimeInterval(10)
        while Date() < limit {
            if let trial = try store.trial(id), trial.status != .running { return trial }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try store.trial(id).flatMap { $0.status == .running ? nil : $0 }
    }

    private func sleep(seconds: Double, stop: StopFlag) {
        let end = Date().addingTimeInterval(seconds)
        while !stop.isSet, Date() < end { Thread.sleep(forTimeInterval: min(0.05, max(end.timeIntervalSinceNow, 0))) }
    }
}
