import Foundation
import LinearAlgebra
import Optimizers
import Testing

@Suite("Stochastic optimisers")
struct StochasticOptimizerTests {
    @Test func momentumRMSpropFollowsThePapersUpdate() {
        var opt = MomentumRMSprop(learningRate: 0.1, momentum: 0.5)
        var theta = [1.0, -2.0]
        // z = g² + V: first coordinate 3² + 16 = 25 → g/√z = 0.6; second 0 variance → sign 1.
        opt.step(&theta, gradient: [3, -0.5], gradientVariance: [16, 0])
        #expect(abs(theta[0] - (1 - 0.1 * 0.6)) < 1e-15 && abs(theta[1] - (-2 + 0.1)) < 1e-15)
        opt.step(&theta, gradient: [3, -0.5], gradientVariance: [16, 0])
        // m = 0.5·0.6 + 0.6 = 0.9.
        #expect(abs(theta[0] - (1 - 0.06 - 0.09)) < 1e-15)
        // No gradient and no variance: nothing moves.
        var still = MomentumRMSprop()
        var x = [4.0]
        still.step(&x, gradient: [0], gradientVariance: [0])
        #expect(x == [4])
    }

    @Test func bothMinimiseANoisyQuadratic() {
        // f(θ) = ½ Σ c_k θ_k², gradient observed with noise of known variance.
        let c = [1.0, 10.0, 0.3]
        for var optimizer in [MomentumRMSprop(learningRate: 0.02) as any StochasticOptimizer, Adam(learningRate: 0.05)] {
            var rng = SeededGenerator(seed: 12)
            var theta = [2.0, -1.5, 3.0]
            for _ in 0..<2000 {
                let g = zip(c, theta).map { $0 * $1 + 0.01 * Double.random(in: -1...1, using: &rng) }
                optimizer.step(&theta, gradient: g, gradientVariance: Array(repeating: 1e-4 / 3, count: 3))
            }
            // Normalised steps keep moving by about α/(1 − γ) near the optimum: close, not exact.
            let f = zip(c, theta).reduce(0) { $0 + 0.5 * $1.0 * $1.1 * $1.1 }
            #expect(theta.allSatisfy { abs($0) < 0.5 } && f < 0.01 * 8.475, "\(type(of: optimizer)): \(theta), f = \(f)")
        }
    }
}
