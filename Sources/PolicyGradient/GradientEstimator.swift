import Foundation
import LinearAlgebra
import Robots

/// The gradient estimators of PIPPS and the resampling paper, by name.
public enum GradientMethod: Sendable, Equatable {
    /// RP: back-propagation through the sampled trajectories.
    case reparameterization
    /// Model-based LR with leave-one-out baselines.
    case likelihoodRatio
    /// Batch-importance-weighted LR (PIPPS §3.2).
    case batchImportanceWeightedLR
    /// Inverse-variance weighted average of the whole-trajectory RP and BIW-LR estimators.
    case rpLRAverage
    /// Total propagation (PIPPS Algorithm 2), combining BIW-LR and RP at every step.
    case totalPropagation
    /// RP through Gaussian resampling at every step; `ratio` r moves particles to
    /// (1 − r)·resampled + r·original (0: full resampling, GR).
    case gaussianResampling(ratio: Double)
    /// RP through resampling from a mixture of K Gaussians fitted by M EM iterations at every step
    /// (resampling paper, Algorithm 1).
    case mixtureResampling(components: Int, iterations: Int)
}

/// A named estimator configuration: `rp`, `rp-fs`, `lr`, `biw-lr`, `rp-lr-avg`, `tp`, `gr`, `gr-fs`,
/// `partial:R`, `mog:K:M`, and any of them with `-fs` for a fixed seed (PEGASUS).
public struct EstimatorSpec: Sendable, Equatable, CustomStringConvertible {
    public var method: GradientMethod
    /// Fixed-seed mode: every evaluation reuses the same initial particles and noise.
    public var fixedSeed: Bool

    public init(method: GradientMethod, fixedSeed: Bool = false) {
        self.method = method
        self.fixedSeed = fixedSeed
    }

    /// The names the command line takes.
    public static let names = ["rp", "rp-fs", "lr", "biw-lr", "rp-lr-avg", "tp", "gr", "gr-fs", "partial:R", "mog:K:M"]

    /// Parses a name; `nil` for an unknown one.
    public init?(name: String) {
        var base = name.lowercased()
        var fixed = false
        if base.hasSuffix("-fs") {
            fixed = true
            base.removeLast(3)
        }
        switch base {
        case "rp": method = .reparameterization
        case "lr": method = .likelihoodRatio
        case "biw-lr": method = .batchImportanceWeightedLR
        case "rp-lr-avg": method = .rpLRAverage
        case "tp": method = .totalPropagation
        case "gr": method = .gaussianResampling(ratio: 0)
        default:
            let parts = base.split(separator: ":")
            if parts.count == 2, parts[0] == "partial", let r = Double(parts[1]), r >= 0, r <= 1 {
                method = .gaussianResampling(ratio: r)
            } else if parts.count == 3, parts[0] == "mog", let k = Int(parts[1]), let m = Int(parts[2]), k >= 1, m >= 0 {
                method = .mixtureResampling(components: k, iterations: m)
            } else {
                return nil
            }
        }
        fixedSeed = fixed
    }

    public var description: String {
        let base: String
        switch method {
        case .reparameterization: base = "rp"
        case .likelihoodRatio: base = "lr"
        case .batchImportanceWeightedLR: base = "biw-lr"
        case .rpLRAverage: base = "rp-lr-avg"
        case .totalPropagation: base = "tp"
        case .gaussianResampling(let r): base = r == 0 ? "gr" : "partial:\(r)"
        case .mixtureResampling(let k, let m): base = "mog:\(k):\(m)"
        }
        return fixedSeed ? base + "-fs" : base
    }
}

/// One evaluation of an estimator.
public struct GradientEstimate: Sendable {
    /// dJ/dθ, J = E[Σ_{t=1}^T c(x_t)].
    public var gradient: [Double]
    /// The particles' mean return Σ_t c(x_t), and its standard error.
    public var value: Double
    public var valueStandardError: Double
    /// Per-coordinate variance of the estimate (sample variance of per-particle gradients / P): the
    /// V[g] of the paper's optimiser (§3.3).
    public var gradientVariance: [Double]
    /// Trace of the per-particle gradient covariance.
    public var perParticleVariance: Double
    /// k_LR per step t = 1 … T for TP; the single weight for rp-lr-avg; empty otherwise.
    public var kLR: [Double]
    /// Each particle's contribution to the gradient `[P × N]` (the gradient is their mean): for
    /// variances along a direction, which the per-coordinate ones cannot give.
    public var perParticle: Matrix

    /// Estimated variance of the gradient's projection on `direction`: the sample variance over the
    /// particles of their projected contributions, divided by P (PIPPS §4.1's Var/P).
    public func projectedVariance(_ direction: [Double]) -> Double {
        let p = perParticle.rows, n = perParticle.columns
        precondition(direction.count == n, "projectedVariance: direction has \(direction.count) values, gradient \(n)")
        return meanAndSampleVariance(perParticle.multiplied(by: direction)).variance / Double(p)
    }
}

/// Evaluates the expected return of a policy under a model with particles, and its gradient by one
/// of the estimators.
public struct ParticleGradientEstimator<Dynamics: ParticleDynamics>: Sendable {
    public let spec: EstimatorSpec
    public let dynamics: Dynamics
    public let cost: any CostFunction
    /// Initial distribution over the learning state.
    public let initialState: DiagonalGaussian
    public let particles: Int
    public let horizon: Int
    /// Seed of the fixed-seed mode.
    public let seed: UInt64

    public init(spec: EstimatorSpec, dynamics: Dynamics, cost: any CostFunction, initialState: DiagonalGaussian,
                particles: Int = 300, horizon: Int, seed: UInt64 = 0) {
        precondition(particles >= 2 && horizon >= 1, "estimator: need at least 2 particles and 1 step")
        precondition(initialState.dimension == dynamics.stateDimension && cost.stateDimension == dynamics.stateDimension,
                     "estimator: state dimensions of model \(dynamics.stateDimension), cost \(cost.stateDimension), initial state \(initialState.dimension)")
        self.spec = spec
        self.dynamics = dynamics
        self.cost = cost
        self.initialState = initialState
        self.particles = particles
        self.horizon = horizon
        self.seed = seed
    }

    /// The return estimate only (no derivatives).
    public func value(policy: some ParticlePolicy, using rng: inout some RandomNumberGenerator) -> Double {
        let steps = rollout(policy: policy, derivatives: false, using: &rng)
        return Self.returns(steps).reduce(0, +) / Double(particles)
    }

    /// One gradient evaluation.
    public func estimate(policy: some ParticlePolicy, using rng: inout some RandomNumberGenerator) -> GradientEstimate {
        let steps = rollout(policy: policy, derivatives: true, using: &rng)
        let n = policy.parameterCount
        var request = BackwardRequest()
        switch spec.method {
        case .reparameterization, .gaussianResampling, .mixtureResampling: request.reparameterization = true
        case .likelihoodRatio: request.likelihoodRatio = .plain
        case .batchImportanceWeightedLR: request.likelihoodRatio = .batchImportanceWeighted
        case .rpLRAverage:
            request.reparameterization = true
            request.likelihoodRatio = .batchImportanceWeighted
        case .totalPropagation:
            request.likelihoodRatio = .batchImportanceWeighted
            request.totalPropagation = true
        }
        let back = backwardPass(steps, parameterCount: n, request: request)
        let perParticle: PerParticleGradients
        var kLR: [Double] = []
        switch spec.method {
        case .reparameterization, .gaussianResampling, .mixtureResampling: perParticle = back.rp!
        case .likelihoodRatio, .batchImportanceWeightedLR: perParticle = back.lr!
        case .totalPropagation:
            perParticle = back.tp!
            kLR = back.kLR
        case .rpLRAverage:
            let rp = back.rp!, lr = back.lr!
            let vRP = rp.variance.reduce(0, +), vLR = lr.variance.reduce(0, +)
            let k = (vRP == 0 && vLR == 0) ? 0.5 : (vRP == 0 ? 0 : 1 / (1 + vLR / vRP))
            var rows = lr.rows
            rows.scale(by: k)
            rows.add(rp.rows, scaledBy: 1 - k)
            perParticle = PerParticleGradients(rows: rows)
            kLR = [k]
        }
        let returns = Self.returns(steps)
        let (mean, variance) = meanAndSampleVariance(returns)
        let perCoordinate = perParticle.variance
        return GradientEstimate(
            gradient: perParticle.mean, value: mean, valueStandardError: (variance / Double(particles)).squareRoot(),
            gradientVariance: perCoordinate.map { $0 / Double(particles) },
            perParticleVariance: perCoordinate.reduce(0, +), kLR: kLR, perParticle: perParticle.rows)
    }

    private func rollout(policy: some ParticlePolicy, derivatives: Bool, using rng: inout some RandomNumberGenerator) -> [ParticleStep] {
        var settings = RolloutSettings(horizon: horizon, derivatives: derivatives, resamplingRatio: nil, mixture: nil)
        if case .gaussianResampling(let r) = spec.method { settings.resamplingRatio = r }
        if case .mixtureResampling(let k, let m) = spec.method {
            precondition(particles % k == 0 && particles / k >= 2, "mog:\(k):\(m) needs a particle count divisible by \(k), with at least 2 per component")
            settings.mixture = (k, m)
        }
        if spec.fixedSeed {
            var fixed = SeededGenerator(seed: seed)
            let initial = initialState.sample(particles, using: &fixed)
            return predictParticles(initial: initial, policy: policy, dynamics: dynamics, cost: cost, settings: settings, using: &fixed)
        }
        let initial = initialState.sample(particles, using: &rng)
        return predictParticles(initial: initial, policy: policy, dynamics: dynamics, cost: cost, settings: settings, using: &rng)
    }

    /// Each particle's return Σ_t c(x_t).
    static func returns(_ steps: [ParticleStep]) -> [Double] {
        guard let p = steps.first?.cost.count else { return [] }
        var g = [Double](repeating: 0, count: p)
        for s in steps { for i in 0..<p { g[i] += s.cost[i] } }
        return g
    }
}
