import Foundation
import GaussianProcess
import LinearAlgebra
import MomentMatching
import Optimizers
import Policies
import PolicyGradient
import Robots

/// How a learning round optimises the policy (PIPPS §3.3, §4.2).
public struct LearningSettings: Sendable {
    /// The gradient estimator (default TP).
    public var estimator = EstimatorSpec(method: .totalPropagation)
    /// Particles per evaluation (300 in the paper).
    public var particles = 300
    /// Policy evaluations (gradient estimates) per round (600 in the paper).
    public var evaluations = 600
    /// Prediction noise: σf² + σn² (default), σn² only (TP−σf), 100 σn² (TP+σn).
    public var noise = PredictionNoise.full
    /// The paper's optimiser (α = 5e-4, γ = 0.9); fixed-seed estimators use L-BFGS instead.
    public var learningRate = 5e-4
    public var momentum = 0.9
    /// GP model options.
    public var model = GPModelOptions()
    /// Seed of every random choice in the round.
    public var seed: UInt64 = 0
    /// PILCO instead of particles: moment-matching prediction, analytic gradient, L-BFGS with
    /// `evaluations` as its budget of objective evaluations.
    public var momentMatching = false

    public init() {}

    /// The methods of the paper's experiments (PIPPS §4.2), by name: `pilco`, `tp-sf` (TP−σf: σn² only),
    /// `tp+sn` (TP+σn: 100 σn²), and every estimator name (``EstimatorSpec/names``).
    public static let methodNames = ["pilco", "rp", "rp-fs", "gr", "gr-fs", "lr", "tp", "tp-sf", "tp+sn"]

    /// Selects a method by name.
    ///
    /// - Throws: ``LearningError/unknownMethod(_:)``.
    public mutating func selectMethod(_ name: String) throws {
        momentMatching = false
        noise = .full
        switch name.lowercased() {
        case "pilco":
            momentMatching = true
        case "tp-sf":
            estimator = EstimatorSpec(method: .totalPropagation)
            noise = .noiseOnly
        case "tp+sn":
            estimator = EstimatorSpec(method: .totalPropagation)
            noise = .inflatedNoise
        default:
            guard let spec = EstimatorSpec(name: name) else { throw LearningError.unknownMethod(name) }
            estimator = spec
        }
    }
}

/// Errors of a learning round.
public enum LearningError: Error, Equatable, CustomStringConvertible {
    case unknownMethod(String)
    case momentMatchingNeedsRBFPolicy
    /// The caller asked the round to stop (``LearningRound/run(task:trials:policy:settings:hyperparameters:progress:isCancelled:)``).
    case cancelled

    public var description: String {
        switch self {
        case .unknownMethod(let name):
            "unknown learning method '\(name)'; known: \(LearningSettings.methodNames.joined(separator: ", ")), partial:R, mog:K:M, biw-lr, rp-lr-avg"
        case .momentMatchingNeedsRBFPolicy:
            "pilco (moment matching) needs an RBF policy"
        case .cancelled:
            "the learning round was stopped"
        }
    }
}

/// What a learning round produced.
public struct LearningResult<P: Policy & ParticlePolicy>: Sendable {
    public var policy: P
    public var model: DynamicsModel
    public var trainingReports: [GPTrainingReport]
    /// The return predicted by the particles at each evaluation (noisy, as the optimiser saw it).
    public var returnTrace: [Double]
    /// Predicted returns of the initial and final policies, each from 1000 particles on the model.
    public var initialReturn: Double
    public var finalReturn: Double
    public var modelSeconds: Double
    public var optimisationSeconds: Double
}

/// One learning round (PIPPS §2.1): fit the GP dynamics model to every trial so far, then improve
/// the policy by particle policy gradients on the model. A library call over trials, so trials
/// recorded by the runtime feed it unchanged.
public enum LearningRound {
    /// The dynamics model's inputs for a task: the learning state (angles as sin, cos; without the
    /// coordinates the dynamics do not depend on) and the controls.
    public static func features(_ task: Task) -> DynamicsFeatures {
        let r = task.representation
        return DynamicsFeatures(
            state: InputTransform(stateDimension: r.dimension, angleIndices: r.angleIndices,
                                  excluding: Array(Set(0..<r.dimension).subtracting(r.dynamicsInputIndices)).sorted()),
            controlDimension: task.plant.controlDimension)
    }

    /// Runs a round.
    ///
    /// - Parameters:
    ///   - trials: observed learning states and controls of all trials so far.
    ///   - policy: the policy to start from (the previous round's).
    ///   - hyperparameters: the previous round's GP hyperparameters, to start training from.
    ///   - progress: called after each evaluation with its index and predicted return.
    ///   - isCancelled: asked before each evaluation; `true` ends the round with
    ///     ``LearningError/cancelled`` (a scheduler stopping on Ctrl-C does not wait for a whole round).
    public static func run<P: Policy & ParticlePolicy>(
        task: Task, trials: [ObservedTrial], policy: P, settings: LearningSettings = LearningSettings(),
        hyperparameters: [GPHyperparameters]? = nil, progress: ((Int, Double) -> Void)? = nil, isCancelled: (() -> Bool)? = nil
    ) throws -> LearningResult<P> {
        let features = features(task)
        let modelStart = DispatchTime.now().uptimeNanoseconds
        var modelOptions = settings.model
        modelOptions.training.seed = settings.seed
        let (model, reports) = try DynamicsModel.train(trials: trials, features: features, options: modelOptions, start: hyperparameters)
        let modelSeconds = Double(DispatchTime.now().uptimeNanoseconds - modelStart) / 1e9

        let dynamics = GPParticleDynamics(model: model, noise: settings.noise)
        let initial = task.initialLearningState
        let estimator = ParticleGradientEstimator(spec: settings.estimator, dynamics: dynamics, cost: task.cost, initialState: initial,
                                                  particles: settings.particles, horizon: task.horizon, seed: settings.seed)
        let judge = ParticleGradientEstimator(spec: EstimatorSpec(method: .reparameterization, fixedSeed: true), dynamics: dynamics, cost: task.cost,
                                              initialState: initial, particles: 1000, horizon: task.horizon, seed: settings.seed &+ 1)
        var rng = SeededGenerator(seed: settings.seed &+ 2)
        let initialReturn = judge.value(policy: policy, using: &rng)

        let optimisationStart = DispatchTime.now().uptimeNanoseconds
        var current = policy
        var trace: [Double] = []
        /// L-BFGS on a deterministic objective from the current parameters, recording each value; an
        /// objective that cannot be evaluated (nil) counts as infinitely bad, so the line search backs off.
        func minimiseDeterministic(_ objective: ([Double]) -> (value: Double, gradient: [Double])?) -> [Double] {
            LBFGS(maxIterations: settings.evaluations, maxEvaluations: settings.evaluations).minimize(current.parameters) { theta in
                // Cancelled: every further point counts as infinitely bad, so the search ends at once.
                guard isCancelled?() != true, let (value, gradient) = objective(theta) else {
                    return (.infinity, [Double](repeating: 0, count: theta.count))
                }
                trace.append(value)
                progress?(trace.count, value)
                return (value, gradient)
            }.x
        }
        if settings.momentMatching {
            // PILCO: a deterministic analytic objective, minimised by L-BFGS (as PILCO does).
            guard let start = policy as? RBFPolicy else { throw LearningError.momentMatchingNeedsRBFPolicy }
            let predictor = try MomentMatchingPredictor(model: model, cost: task.cost, initialState: initial, horizon: task.horizon)
            let x = minimiseDeterministic { theta in
                var p = start
                p.parameters = theta
                guard let e = try? predictor.evaluate(policy: p), let g = e.gradient else { return nil }
                return (e.value, g)
            }
            current.parameters = x
        } else if settings.estimator.fixedSeed {
            // A deterministic objective: quasi-Newton (PEGASUS, §3.3).
            let start = current
            let x = minimiseDeterministic { theta in
                var p = start
                p.parameters = theta
                var r = SeededGenerator(seed: 0)
                let g = estimator.estimate(policy: p, using: &r)
                return (g.value, g.gradient)
            }
            current.parameters = x
        } else {
            var optimizer = MomentumRMSprop(learningRate: settings.learningRate, momentum: settings.momentum)
            var theta = current.parameters
            for e in 0..<settings.evaluations {
                if isCancelled?() == true { throw LearningError.cancelled }
                let g = estimator.estimate(policy: current, using: &rng)
                trace.append(g.value)
                progress?(e + 1, g.value)
                guard g.gradient.allSatisfy(\.isFinite) else { continue }
                optimizer.step(&theta, gradient: g.gradient, gradientVariance: g.gradientVariance)
                current.parameters = theta
            }
        }
        if isCancelled?() == true { throw LearningError.cancelled }
        let optimisationSeconds = Double(DispatchTime.now().uptimeNanoseconds - optimisationStart) / 1e9
        var judgeRNG = SeededGenerator(seed: settings.seed &+ 2)
        let finalReturn = judge.value(policy: current, using: &judgeRNG)
        return LearningResult(policy: current, model: model, trainingReports: reports, returnTrace: trace,
                              initialReturn: initialReturn, finalReturn: finalReturn,
                              modelSeconds: modelSeconds, optimisationSeconds: optimisationSeconds)
    }
}

extension ObservedTrial {
    /// The trial as the learner sees it: observed learning states and the controls applied.
    public init(_ trajectory: Trajectory, task: Task) {
        self.init(states: trajectory.observations.map { task.representation.learningState(from: $0) }, controls: trajectory.controls)
    }
}
