import LinearAlgebra
import Policies
import Robots

/// One step of a particle prediction: from the particles x_t through the policy and the model to
/// the particles x_{t+1}.
struct ParticleStep {
    /// x_t `[P × D]`, the policy's input.
    var states: Matrix
    /// u_t and its Jacobians.
    var policy: PolicyEvaluation
    /// ζ_{t+1} = (μ, σ) and its Jacobians with respect to x_t and u_t.
    var transition: TransitionDistribution
    /// ε_{t+1} `[P × D]` with x̃_{t+1} = μ + σ ∘ ε.
    var epsilon: Matrix
    /// x̃_{t+1}, the model's samples.
    var samples: Matrix
    /// The resampling that turned x̃_{t+1} into x_{t+1}, if any.
    var resampling: GaussianResampling?
    /// The mixture resampling that produced x_{t+1} from (μ, σ²) directly, if used.
    var mixture: MixtureResampling?
    /// x_{t+1} `[P × D]`.
    var next: Matrix
    /// c(x_{t+1}) `[P]` and ∂c/∂x_{t+1} `[P × D]`.
    var cost: [Double]
    var costGradient: Matrix
}

/// Settings of a particle prediction.
struct RolloutSettings {
    var horizon: Int
    var derivatives: Bool
    /// Gaussian resampling after every step with this ratio r (z' = (1 − r) z + r x); nil for none.
    var resamplingRatio: Double?
    /// Mixture-of-Gaussians resampling with K components and M EM iterations; nil for none.
    var mixture: (components: Int, iterations: Int)?
}

/// Runs P particles for T steps (PIPPS §3.1): u = π(x), ζ = f(x, u), x' = μ + σ ε, cost c(x').
func predictParticles(
    initial: Matrix, policy: some ParticlePolicy, dynamics: some ParticleDynamics, cost: any CostFunction,
    settings: RolloutSettings, using rng: inout some RandomNumberGenerator
) -> [ParticleStep] {
    var x = initial
    var steps: [ParticleStep] = []
    steps.reserveCapacity(settings.horizon)
    let p = initial.rows, d = initial.columns
    let wanted: PolicyDerivatives = settings.derivatives ? .all : []
    var mixtureWeights: [Double]?
    for _ in 0..<settings.horizon {
        let policyEvaluation = policy.evaluate(states: x, derivatives: wanted)
        let transition = dynamics.predict(states: x, controls: policyEvaluation.controls, derivatives: settings.derivatives)
        if let (k, m) = settings.mixture {
            var variance = transition.sd
            for i in variance.storage.indices { variance.storage[i] *= variance.storage[i] }
            let mixture = MixtureResampling(mean: transition.mean, variance: variance, previousWeights: mixtureWeights ?? Array(repeating: 1 / Double(k), count: k),
                                            components: k, iterations: m, using: &rng)
            mixtureWeights = mixture.weightValues
            let next = mixture.particles
            let (costs, gradients) = cost.costsAndGradients(next)
            steps.append(ParticleStep(states: x, policy: policyEvaluation, transition: transition, epsilon: Matrix(rows: p, columns: d),
                                      samples: transition.mean, resampling: nil, mixture: mixture, next: next, cost: costs, costGradient: gradients))
            x = next
            continue
        }
        let epsilon = Matrix.gaussian(rows: p, columns: d, using: &rng)
        var samples = transition.mean
        for k in samples.storage.indices { samples.storage[k] += transition.sd.storage[k] * epsilon.storage[k] }
        var resampling: GaussianResampling?
        var next = samples
        if let ratio = settings.resamplingRatio {
            let r = GaussianResampling(samples: samples, ratio: ratio, using: &rng)
            next = r.output
            resampling = r
        }
        let (costs, gradients) = cost.costsAndGradients(next)
        steps.append(ParticleStep(states: x, policy: policyEvaluation, transition: transition, epsilon: epsilon,
                                  samples: samples, resampling: resampling, mixture: nil, next: next, cost: costs, costGradient: gradients))
        x = next
    }
    return steps
}
