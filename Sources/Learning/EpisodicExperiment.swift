import Foundation
import GaussianProcess
import LinearAlgebra
import Policies
import PolicyGradient
import Robots

/// One run of the episodic learning experiment of PIPPS §4.2: which task, which method, how much
/// observation noise, which seed, and the budget. Everything a run depends on is here, so a result
/// file that carries its settings says exactly how to make it again.
public struct EpisodicSettings: Codable, Sendable, Hashable {
    /// Task name as ``Task/named(_:noiseMultiplier:)`` takes it (`cartpole-angle`, `cartpole-tip`,
    /// `unicycle`, `cartpole-balance`).
    public var task: String
    /// Method name (``LearningSettings/methodNames``).
    public var method: String
    /// Observation noise multiplier k (σ² = k σ²_base).
    public var noiseMultiplier: Double
    public var seed: UInt64
    /// Particles per evaluation and policy evaluations per learned trial (PIPPS: 300 and 600).
    public var particles = 300
    public var evaluations = 600
    /// Trials before and after learning starts; `nil` takes the task's (cart-pole 1 + 15,
    /// unicycle 5 + 30).
    public var randomTrials: Int?
    public var learnedTrials: Int?
    /// Rollouts that evaluate each trial's controller (evaluation only; the learner never sees them).
    public var evaluationRollouts = 30
    /// RBF basis functions of the cart-pole policy (PIPPS: 50). The unicycle's policy is linear.
    public var basisCount = 50
    /// The optimiser's step size α (PIPPS: 5e-4).
    public var learningRate = 5e-4
    /// L-BFGS iterations when the GP hyperparameters are trained.
    public var gpIterations = 150

    public init(task: String, method: String, noiseMultiplier: Double = 1, seed: UInt64 = 0) {
        self.task = task
        self.method = method
        self.noiseMultiplier = noiseMultiplier
        self.seed = seed
    }

    /// A file-name-safe identifier that differs whenever a setting differs.
    public var runID: String {
        var parts = [task, method, "k\(Self.format(noiseMultiplier))", "s\(seed)", "P\(particles)", "E\(evaluations)"]
        if let randomTrials { parts.append("R\(randomTrials)") }
        if let learnedTrials { parts.append("L\(learnedTrials)") }
        if evaluationRollouts != 30 { parts.append("V\(evaluationRollouts)") }
        if basisCount != 50 { parts.append("B\(basisCount)") }
        if learningRate != 5e-4 { parts.append("a\(Self.format(learningRate))") }
        if gpIterations != 150 { parts.append("g\(gpIterations)") }
        return parts.joined(separator: "_").map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "~" }.reduce(into: "") { $0.append($1) }
    }

    /// A number as a short label: integers without a decimal point.
    public static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e9 ? String(Int(x)) : String(x)
    }

    /// The task with these settings' noise and trial counts.
    ///
    /// - Throws: ``ExperimentError/unknownTask(_:)``.
    public func makeTask() throws -> Task {
        guard var task = Task.named(task, noiseMultiplier: noiseMultiplier) else { throw ExperimentError.unknownTask(task) }
        if let randomTrials { task.randomTrials = randomTrials }
        if let learnedTrials { task.learnedTrials = learnedTrials }
        return task
    }

    /// Checks every setting; the experiment refuses to start on any of these.
    public func validate() throws {
        guard noiseMultiplier >= 0, noiseMultiplier.isFinite else { throw ExperimentError.invalid("noise multiplier must be ≥ 0, got \(noiseMultiplier)") }
        _ = try makeTask()
        var learning = LearningSettings()
        try learning.selectMethod(method)
        guard particles >= 2 else { throw ExperimentError.invalid("need at least 2 particles, got \(particles)") }
        guard evaluations >= 1 else { throw ExperimentError.invalid("need at least 1 evaluation per trial, got \(evaluations)") }
        guard (randomTrials ?? 1) >= 1 else { throw ExperimentError.invalid("need at least 1 random trial") }
        guard (learnedTrials ?? 1) >= 1 else { throw ExperimentError.invalid("need at least 1 learned trial") }
        guard evaluationRollouts >= 1 else { throw ExperimentError.invalid("need at least 1 evaluation rollout") }
        guard basisCount >= 1, learningRate > 0, gpIterations >= 1 else { throw ExperimentError.invalid("basis count, learning rate and GP iterations must be positive") }
        if case .mixtureResampling(let k, _) = learning.estimator.method, particles % k != 0 || particles / k < 2 {
            throw ExperimentError.invalid("\(method) needs a particle count divisible by \(k) with at least 2 per component")
        }
    }
}

/// Errors of the experiments.
public enum ExperimentError: Error, Equatable, CustomStringConvertible {
    case unknownTask(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .unknownTask(let name): "unknown task '\(name)'; known: \(Task.names.joined(separator: ", "))"
        case .invalid(let why): why
        }
    }
}

/// What happened in one trial of a run.
public struct TrialOutcome: Codable, Sendable, Equatable {
    /// 1-based trial number, random trials first.
    public var trial: Int
    /// Whether the controller was learned (false: random controls).
    public var learned: Bool
    /// Return Σ c of the trial the learner saw (true states).
    public var observedCost: Double
    /// Mean and standard error of the return over the evaluation rollouts of the same controller.
    public var evaluationCost: Double
    public var evaluationCostStandardError: Double
    /// The success test's statistic over the evaluation rollouts (mean cost of the final steps).
    public var finalCost: Double
    public var success: Bool
    /// Predicted return of the optimised policy on the model (1000 fixed-seed particles; nil for random trials).
    public var predictedReturn: Double?
    /// Time to train the model and to optimise the policy before this trial.
    public var modelSeconds: Double
    public var optimisationSeconds: Double

    public init(trial: Int, learned: Bool, observedCost: Double, evaluationCost: Double, evaluationCostStandardError: Double, finalCost: Double,
                success: Bool, predictedReturn: Double?, modelSeconds: Double, optimisationSeconds: Double) {
        self.trial = trial
        self.learned = learned
        self.observedCost = observedCost
        self.evaluationCost = evaluationCost
        self.evaluationCostStandardError = evaluationCostStandardError
        self.finalCost = finalCost
        self.success = success
        self.predictedReturn = predictedReturn
        self.modelSeconds = modelSeconds
        self.optimisationSeconds = optimisationSeconds
    }
}

/// One finished run.
public struct EpisodicResult: Codable, Sendable {
    public var settings: EpisodicSettings
    public var trials: [TrialOutcome]
    /// The task's success test on the final trial's evaluation rollouts.
    public var success: Bool
    public var wallSeconds: Double
    /// Parameters of the final policy (the layout of the task's policy type).
    public var finalParameters: [Double]

    public init(settings: EpisodicSettings, trials: [TrialOutcome], success: Bool, wallSeconds: Double, finalParameters: [Double]) {
        self.settings = settings
        self.trials = trials
        self.success = success
        self.wallSeconds = wallSeconds
        self.finalParameters = finalParameters
    }
}

/// Where a run is, for progress displays.
public struct EpisodicProgress: Sendable {
    /// 1-based trial being prepared (learning before it), the run's total, and how many of them are
    /// random trials.
    public var trial: Int
    public var trials: Int
    public var randomTrials: Int
    /// Policy evaluation within the trial's learning round, and its budget; 0 while the model trains
    /// or the trial runs.
    public var evaluation: Int
    public var evaluations: Int
    /// The latest return estimate of the optimiser, if any.
    public var currentReturn: Double?
    /// A finished trial, when one has just finished.
    public var finished: TrialOutcome?
}

/// The episodic learning experiment (PIPPS §4.2): random trials, then learned trials, each run on the
/// true simulator with observation noise; after each trial its controller is evaluated by rollouts
/// that the learner never sees; success is the task's success test on the final trial.
public enum EpisodicExperiment {
    /// Runs one experiment.
    ///
    /// Every random choice comes from `settings.seed` through separate streams (trials, evaluation,
    /// random controls, learning), so a run with the same settings repeats exactly and the evaluation
    /// of one trial does not change what the learner sees in the next.
    public static func run(_ settings: EpisodicSettings, progress: (@Sendable (EpisodicProgress) -> Void)? = nil) throws -> EpisodicResult {
        try settings.validate()
        let task = try settings.makeTask()
        var rng = SeededGenerator(seed: stream(settings.seed, 0, 0))
        switch task.kind {
        case .cartPole:
            let s = task.initialLearningState
            let policy = RBFPolicy.random(transform: policyTransform(task), controlLimits: task.controlLimits, basisCount: settings.basisCount,
                                          centreMean: s.mean, centreStandardDeviations: s.standardDeviations, using: &rng)
            return try run(settings, task: task, initialPolicy: policy, progress: progress)
        case .unicycle:
            let policy = LinearPolicy.random(transform: policyTransform(task), controlLimits: task.controlLimits, using: &rng)
            return try run(settings, task: task, initialPolicy: policy, progress: progress)
        }
    }

    /// The policy's input transform for a task: angles as (sin, cos).
    public static func policyTransform(_ task: Task) -> InputTransform {
        InputTransform(stateDimension: task.representation.dimension, angleIndices: task.representation.angleIndices)
    }

    /// A seed for stream `kind` of trial `trial` of the run seeded by `seed`.
    static func stream(_ seed: UInt64, _ trial: Int, _ kind: UInt64) -> UInt64 {
        var g = SeededGenerator(seed: seed ^ (UInt64(trial) &* 0x9E37_79B9_7F4A_7C15) ^ (kind &* 0xD1B5_4A32_D192_ED03))
        return g.next()
    }

    static func run<P: Policy & ParticlePolicy>(
        _ settings: EpisodicSettings, task: Task, initialPolicy: P, progress: (@Sendable (EpisodicProgress) -> Void)?
    ) throws -> EpisodicResult {
        let start = DispatchTime.now().uptimeNanoseconds
        let total = task.randomTrials + task.learnedTrials
        var learning = LearningSettings()
        try learning.selectMethod(settings.method)
        learning.particles = settings.particles
        learning.evaluations = settings.evaluations
        learning.learningRate = settings.learningRate
        learning.model.training.maxIterations = settings.gpIterations

        var observed: [ObservedTrial] = []
        var outcomes: [TrialOutcome] = []
        var policy = initialPolicy
        var hyperparameters: [GPHyperparameters]?

        func finish(_ trajectory: Trajectory, number: Int, learned: Bool, predicted: Double?, modelSeconds: Double, optimisationSeconds: Double,
                    controller: (inout SeededGenerator, [Double]) -> [Double]) {
            observed.append(ObservedTrial(trajectory, task: task))
            var evaluationRNG = SeededGenerator(seed: stream(settings.seed, number, 2))
            var evaluationControls = SeededGenerator(seed: stream(settings.seed, number, 3))
            let rollouts = (0..<settings.evaluationRollouts).map { _ in
                task.rollout(using: &evaluationRNG) { y, _ in controller(&evaluationControls, y) }
            }
            let returns = rollouts.map(\.totalCost)
            let (mean, variance) = meanAndSampleVariance(returns)
            let costs = rollouts.map(\.costs)
            let outcome = TrialOutcome(
                trial: number, learned: learned, observedCost: trajectory.totalCost, evaluationCost: mean,
                evaluationCostStandardError: (variance / Double(returns.count)).squareRoot(),
                finalCost: task.successTest.finalCost(costs), success: task.successTest.passes(costs),
                predictedReturn: predicted, modelSeconds: modelSeconds, optimisationSeconds: optimisationSeconds)
            outcomes.append(outcome)
            progress?(EpisodicProgress(trial: number, trials: total, randomTrials: task.randomTrials, evaluation: 0, evaluations: settings.evaluations, currentReturn: predicted, finished: outcome))
        }

        for number in 1...task.randomTrials {
            var trialRNG = SeededGenerator(seed: stream(settings.seed, number, 1))
            var controlRNG = SeededGenerator(seed: stream(settings.seed, number, 3))
            let trajectory = task.rollout(using: &trialRNG) { _, _ in task.randomControl(using: &controlRNG) }
            finish(trajectory, number: number, learned: false, predicted: nil, modelSeconds: 0, optimisationSeconds: 0) { rng, _ in task.randomControl(using: &rng) }
        }
        for number in (task.randomTrials + 1)...total {
            learning.seed = stream(settings.seed, number, 4)
            progress?(EpisodicProgress(trial: number, trials: total, randomTrials: task.randomTrials, evaluation: 0, evaluations: settings.evaluations, currentReturn: nil, finished: nil))
            let result = try LearningRound.run(task: task, trials: observed, policy: policy, settings: learning, hyperparameters: hyperparameters,
                                               progress: { e, value in
                progress?(EpisodicProgress(trial: number, trials: total, randomTrials: task.randomTrials, evaluation: e, evaluations: settings.evaluations, currentReturn: value, finished: nil))
            })
            policy = result.policy
            hyperparameters = result.model.gp.hyperparameters
            let learned = policy
            var trialRNG = SeededGenerator(seed: stream(settings.seed, number, 1))
            let trajectory = task.rollout(using: &trialRNG) { y, _ in learned.control(for: y) }
            finish(trajectory, number: number, learned: true, predicted: result.finalReturn,
                   modelSeconds: result.modelSeconds, optimisationSeconds: result.optimisationSeconds) { _, y in learned.control(for: y) }
        }
        return EpisodicResult(settings: settings, trials: outcomes, success: outcomes.last!.success,
                              wallSeconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, finalParameters: policy.parameters)
    }
}
