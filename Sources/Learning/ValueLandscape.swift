import Foundation
import GaussianProcess
import LinearAlgebra
import Policies
import PolicyGradient
import Robots

/// The problem of PIPPS §4.1 and the resampling paper's figures: the cart-pole swing-up with a GP
/// trained on random trials, an RBF policy θ₀, and a fixed random direction d in the policy's weight
/// space; the policy at Δ is θ₀ + Δ·d. With |d| = |weights of θ₀|, Δ of a few tens moves the policy
/// from a well-behaved region into one where particle trajectories mix chaotically.
public struct LandscapeSetup: Sendable {
    public let task: Task
    public let dynamics: GPParticleDynamics
    public let basePolicy: RBFPolicy
    /// d, `[N]`, zero outside the weights.
    public let direction: [Double]

    /// Builds the setup from `seed`: `randomTrials` random trials of the cart-pole (angle cost,
    /// noise multiplier k), the GP trained on them, a policy with `basisCount` centres spread over the
    /// swing-up region, and the direction.
    public static func cartPole(seed: UInt64, randomTrials: Int = 10, basisCount: Int = 50, noiseMultiplier k: Double = 1) throws -> LandscapeSetup {
        let task = Task.cartPoleSwingUp(cost: .angle, noiseMultiplier: k)
        let trials = task.randomRollouts(count: randomTrials, seed: seed).map { ObservedTrial($0, task: task) }
        var options = GPModelOptions()
        options.training.seed = seed
        let model = try DynamicsModel.train(trials: trials, features: LearningRound.features(task), options: options).model
        var rng = SeededGenerator(seed: seed &+ 1)
        let policy = RBFPolicy.random(transform: EpisodicExperiment.policyTransform(task), controlLimits: task.controlLimits, basisCount: basisCount,
                                      centreMean: [0, 0, 0, .pi / 2], centreStandardDeviations: [0.5, 0.5, 3, 2], using: &rng)
        let weightNorm = policy.weights.storage.reduce(0) { $0 + $1 * $1 }.squareRoot()
        var d = [Double](repeating: 0, count: policy.parameterCount)
        let firstWeight = policy.parameterCount - policy.weights.storage.count
        for i in firstWeight..<d.count { d[i] = rng.nextGaussian() }
        let norm = d.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for i in firstWeight..<d.count { d[i] *= weightNorm / norm }
        return LandscapeSetup(task: task, dynamics: GPParticleDynamics(model: model), basePolicy: policy, direction: d)
    }

    public func policy(at delta: Double) -> RBFPolicy {
        var p = basePolicy
        p.parameters = zip(basePolicy.parameters, direction).map { $0 + delta * $1 }
        return p
    }

    /// dJ/dΔ = ∇J·d for a gradient ∇J.
    public func slope(_ gradient: [Double]) -> Double {
        zip(gradient, direction).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// An estimator on this setup.
    public func estimator(_ spec: EstimatorSpec, particles: Int, seed: UInt64) -> ParticleGradientEstimator<GPParticleDynamics> {
        ParticleGradientEstimator(spec: spec, dynamics: dynamics, cost: task.cost, initialState: task.initialLearningState,
                                  particles: particles, horizon: task.horizon, seed: seed)
    }
}

/// One point of a directional sweep: the objective and dJ/dΔ = ∇J·d at Δ by one estimator, each with
/// its standard error from the particles.
public struct DirectionalPoint: Sendable, Equatable {
    public var delta: Double
    public var estimator: String
    public var value: Double
    public var valueStandardError: Double
    public var gradient: Double
    public var gradientStandardError: Double
}

/// One estimator's spread at one point: the variance of dJ/dΔ across independent evaluations.
public struct VariancePoint: Sendable, Equatable {
    public var delta: Double
    public var estimator: String
    public var particles: Int
    public var repetitions: Int
    /// Empirical variance of dJ/dΔ across the repetitions, and the mean of the estimators' own
    /// variance estimates (Var/P from the particles).
    public var variance: Double
    public var estimatedVariance: Double
    /// Empirical variance summed over every parameter (the trace of the covariance).
    public var traceVariance: Double
}

/// PIPPS Figures 2 and 3 and the resampling paper's Figures 3 and 4.
public enum ValueLandscape {
    /// The objective and its gradient along d at each Δ, with the random numbers fixed (every
    /// estimator is used in its fixed-seed form with `seed`): Figure 2a, 2d–f (estimators rp, biw-lr,
    /// tp) and the resampling figures (partial:R, mog:K:M).
    public static func directional(
        _ setup: LandscapeSetup, estimators: [EstimatorSpec], deltas: [Double], particles: Int, seed: UInt64,
        progress: ((Int, Int) -> Void)? = nil
    ) -> [DirectionalPoint] {
        var rows: [DirectionalPoint] = []
        let total = deltas.count * estimators.count
        for delta in deltas {
            let policy = setup.policy(at: delta)
            for spec in estimators {
                var fixed = spec
                fixed.fixedSeed = true
                var unused = SeededGenerator(seed: 0)
                let g = setup.estimator(fixed, particles: particles, seed: seed).estimate(policy: policy, using: &unused)
                rows.append(DirectionalPoint(delta: delta, estimator: spec.description, value: g.value, valueStandardError: g.valueStandardError,
                                             gradient: setup.slope(g.gradient), gradientStandardError: g.projectedVariance(setup.direction).squareRoot()))
                progress?(rows.count, total)
            }
        }
        return rows
    }

    /// Figure 3: the variance of each estimator's dJ/dΔ against the number of particles, from
    /// `repetitions` independent evaluations (fresh random numbers each).
    public static func variance(
        _ setup: LandscapeSetup, estimators: [EstimatorSpec], deltas: [Double], particleCounts: [Int], repetitions: Int, seed: UInt64,
        progress: ((Int, Int) -> Void)? = nil
    ) -> [VariancePoint] {
        precondition(repetitions >= 2, "variance: need at least 2 repetitions")
        var rows: [VariancePoint] = []
        let total = deltas.count * estimators.count * particleCounts.count
        for delta in deltas {
            let policy = setup.policy(at: delta)
            for spec in estimators {
                for p in particleCounts {
                    let estimator = setup.estimator(spec, particles: p, seed: seed)
                    var rng = SeededGenerator(seed: seed &+ UInt64(p) &* 7919)
                    var projections: [Double] = [], estimated = 0.0
                    var gradients: [[Double]] = []
                    for _ in 0..<repetitions {
                        let g = estimator.estimate(policy: policy, using: &rng)
                        projections.append(setup.slope(g.gradient))
                        estimated += g.projectedVariance(setup.direction)
                        gradients.append(g.gradient)
                    }
                    let trace = (0..<policy.parameterCount).reduce(0.0) { sum, k in sum + meanAndSampleVariance(gradients.map { $0[k] }).variance }
                    rows.append(VariancePoint(delta: delta, estimator: spec.description, particles: p, repetitions: repetitions,
                                              variance: meanAndSampleVariance(projections).variance, estimatedVariance: estimated / Double(repetitions), traceVariance: trace))
                    progress?(rows.count, total)
                }
            }
        }
        return rows
    }

    /// Figure 2b/2c: the value V(x₁; θ) = Σ_{t=1}^{T} c(x_t) over a grid of first states x₁, the cart
    /// position and pole angle varied over ±2 standard deviations of p(x₁; θ) predicted from the centre
    /// of the initial distribution, the velocities held at their means; each grid point averages
    /// `particles` trajectories whose noise is the same at every grid point (fixed seeds).
    /// Returns (position, angle, value) rows.
    public static func valueSlice(_ setup: LandscapeSetup, delta: Double, gridSize: Int, particles: Int = 4, seed: UInt64)
        -> [(position: Double, angle: Double, value: Double)]
    {
        precondition(gridSize >= 2 && particles >= 1, "valueSlice: need a grid of at least 2 × 2 and 1 particle")
        let policy = setup.policy(at: delta)
        let dynamics = setup.dynamics, cost = setup.task.cost
        let d = dynamics.stateDimension
        let x0 = Matrix(rows: 1, columns: d, storage: setup.task.initialLearningState.mean)
        let first = dynamics.predict(states: x0, controls: policy.evaluate(states: x0, derivatives: []).controls, derivatives: false)
        let centre = first.mean.storage, spread = first.sd.storage
        let position = CartPole.Index.position, angle = CartPole.Index.angle
        func axis(_ k: Int) -> [Double] { (0..<gridSize).map { centre[k] + spread[k] * (-2 + 4 * Double($0) / Double(gridSize - 1)) } }
        let positions = axis(position), angles = axis(angle)
        let n = gridSize * gridSize * particles
        var x = Matrix(rows: n, columns: d)
        for a in 0..<gridSize {
            for b in 0..<gridSize {
                for k in 0..<particles {
                    let row = (a * gridSize + b) * particles + k
                    for c in 0..<d { x.storage[row * d + c] = centre[c] }
                    x.storage[row * d + position] = positions[b]
                    x.storage[row * d + angle] = angles[a]
                }
            }
        }
        var rng = SeededGenerator(seed: seed)
        var values = [Double](repeating: 0, count: n)
        for t in 1...setup.task.horizon {
            for i in 0..<n { values[i] += cost.cost(Array(x.storage[(i * d)..<((i + 1) * d)])) }
            guard t < setup.task.horizon else { break }
            let noise = (0..<(particles * d)).map { _ in rng.nextGaussian() }
            let next = dynamics.predict(states: x, controls: policy.evaluate(states: x, derivatives: []).controls, derivatives: false)
            for i in 0..<n {
                let k = i % particles
                for c in 0..<d { x.storage[i * d + c] = next.mean.storage[i * d + c] + next.sd.storage[i * d + c] * noise[k * d + c] }
            }
        }
        var rows: [(Double, Double, Double)] = []
        for a in 0..<gridSize {
            for b in 0..<gridSize {
                let base = (a * gridSize + b) * particles
                rows.append((positions[b], angles[a], values[base..<(base + particles)].reduce(0, +) / Double(particles)))
            }
        }
        return rows
    }
}
