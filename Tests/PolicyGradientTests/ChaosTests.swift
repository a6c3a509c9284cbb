import Foundation
import GaussianProcess
import LinearAlgebra
import Policies
import PolicyGradient
import Robots
import Testing

/// The curse of chaos on the cart-pole (PIPPS §4.1): a GP trained on random trials, an RBF policy
/// moved along a fixed direction of parameter space (its weights) from a well-behaved point into a
/// region where the particle trajectories mix chaotically.
@Suite("Gradient variance on the cart-pole")
struct ChaosTests {
    static let setup: (GPParticleDynamics, Task, RBFPolicy) = {
        let task = Task.cartPoleSwingUp(noiseMultiplier: 1)
        let trials = task.randomRollouts(count: 10, seed: 3).map { ObservedTrial(states: $0.observations, controls: $0.controls) }
        let features = DynamicsFeatures(state: InputTransform(stateDimension: 4, angleIndices: [3]), controlDimension: 1)
        let model = try! DynamicsModel.train(trials: trials, features: features).model
        var prng = SeededGenerator(seed: 7)
        let policy = RBFPolicy.random(transform: InputTransform(stateDimension: 4, angleIndices: [3]), controlLimits: [10], basisCount: 20,
                                      centreMean: [0, 0, 0, 0], centreStandardDeviations: [0.5, 0.5, 3, 2], using: &prng)
        return (GPParticleDynamics(model: model), task, policy)
    }()

    /// Mean over `evaluations` of each estimator's variance estimate (trace of V[g], from its particles),
    /// and the trace of the empirical covariance of the gradients across the evaluations.
    static func variances(_ name: String, weightScale: Double, evaluations: Int) -> (estimated: Double, empirical: Double) {
        let (dynamics, task, base) = setup
        var policy = base
        policy.weights.scale(by: weightScale)
        let est = ParticleGradientEstimator(spec: EstimatorSpec(name: name)!, dynamics: dynamics, cost: task.cost,
                                            initialState: task.initialState, particles: 100, horizon: 30)
        var rng = SeededGenerator(seed: 9)
        var estimated = 0.0
        var gradients: [[Double]] = []
        for _ in 0..<evaluations {
            let g = est.estimate(policy: policy, using: &rng)
            estimated += g.gradientVariance.reduce(0, +)
            gradients.append(g.gradient)
        }
        let n = policy.parameterCount
        var empirical = 0.0
        for k in 0..<n { empirical += meanAndSampleVariance(gradients.map { $0[k] }).variance }
        return (estimated / Double(evaluations), empirical)
    }

    @Test("TP's variance is at most the smaller of RP's and BIW-LR's", arguments: [1.0, 30.0])
    func totalPropagationIsTheBest(weightScale: Double) {
        let rp = Self.variances("rp", weightScale: weightScale, evaluations: 4)
        let lr = Self.variances("biw-lr", weightScale: weightScale, evaluations: 4)
        let tp = Self.variances("tp", weightScale: weightScale, evaluations: 4)
        // 25% allows for the sampling error of variance estimates from 4 × 100 particles.
        #expect(tp.estimated <= 1.25 * min(rp.estimated, lr.estimated),
                "scale \(weightScale): TP \(tp.estimated), RP \(rp.estimated), BIW-LR \(lr.estimated)")
    }

    @Test func rpVarianceExplodesInTheChaoticRegion() {
        let calm = Self.variances("rp", weightScale: 1, evaluations: 4)
        let rp = Self.variances("rp", weightScale: 30, evaluations: 6)
        let tp = Self.variances("tp", weightScale: 30, evaluations: 6)
        #expect(rp.estimated > 1e3 * tp.estimated, "RP \(rp.estimated) vs TP \(tp.estimated)")
        #expect(rp.empirical > 1e3 * tp.empirical, "across evaluations: RP \(rp.empirical) vs TP \(tp.empirical)")
        #expect(rp.estimated > 1e3 * calm.estimated, "RP in the chaotic region \(rp.estimated), at the calm point \(calm.estimated)")
    }
}
