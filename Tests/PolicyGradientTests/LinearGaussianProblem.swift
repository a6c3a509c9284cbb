import Foundation
import LinearAlgebra
import Policies
import PolicyGradient
import Robots

/// A problem with a closed-form expected return: linear dynamics with state- and control-dependent
/// noise, x' = A x + B u + σ(x, u) ∘ ε with σ_d² = a_d + (c_dᵀ x + e_d u)², an unsaturated linear
/// policy u = K x + k, and a quadratic cost xᵀ Q x. The first two moments propagate exactly, so
/// J(θ) = Σ_t tr(Q Σ_t) + m_tᵀ Q m_t is known in closed form; its gradient is taken by central
/// differences of that closed form, independently of every estimator.
enum LinearGaussianProblem {
    static let a = Matrix([[1.0, 0.1], [-0.2, 0.95]])
    static let b = [0.05, 0.1]
    static let baseVariance = [0.01, 0.02]
    static let c = Matrix([[0.1, 0.0], [0.0, 0.2]])
    static let e = [0.1, 0.05]
    static let q = [1.0, 0.5]
    static let initial = DiagonalGaussian(mean: [1, -0.5], standardDeviations: [0.1, 0.2])
    static let horizon = 5
    static let theta = [-0.5, -0.3, 0.2]   // K₁, K₂, k

    struct Dynamics: ParticleDynamics {
        var stateDimension: Int { 2 }
        var controlDimension: Int { 1 }
        func predict(states: Matrix, controls: Matrix, derivatives: Bool) -> TransitionDistribution {
            let p = states.rows
            var mean = Matrix(rows: p, columns: 2), sd = Matrix(rows: p, columns: 2)
            var msj = Matrix(rows: p, columns: 4), mcj = Matrix(rows: p, columns: 2)
            var ssj = Matrix(rows: p, columns: 4), scj = Matrix(rows: p, columns: 2)
            for i in 0..<p {
                let x = states.row(i), u = controls[i, 0]
                for d in 0..<2 {
                    mean[i, d] = a[d, 0] * x[0] + a[d, 1] * x[1] + b[d] * u
                    let v = c[d, 0] * x[0] + c[d, 1] * x[1] + e[d] * u
                    let s = (baseVariance[d] + v * v).squareRoot()
                    sd[i, d] = s
                    msj[i, d * 2] = a[d, 0]; msj[i, d * 2 + 1] = a[d, 1]; mcj[i, d] = b[d]
                    ssj[i, d * 2] = v * c[d, 0] / s; ssj[i, d * 2 + 1] = v * c[d, 1] / s; scj[i, d] = v * e[d] / s
                }
            }
            return derivatives
                ? TransitionDistribution(mean: mean, sd: sd, meanStateJacobian: msj, meanControlJacobian: mcj, sdStateJacobian: ssj, sdControlJacobian: scj)
                : TransitionDistribution(mean: mean, sd: sd)
        }
    }

    /// u = K x + k with no saturation.
    struct Policy: ParticlePolicy {
        var parameters: [Double]
        var parameterCount: Int { 3 }
        func evaluate(states: Matrix, derivatives: PolicyDerivatives) -> PolicyEvaluation {
            let p = states.rows
            var u = Matrix(rows: p, columns: 1)
            var sj = Matrix(rows: p, columns: 2), pj = Matrix(rows: p, columns: 3)
            for i in 0..<p {
                u[i, 0] = parameters[0] * states[i, 0] + parameters[1] * states[i, 1] + parameters[2]
                sj[i, 0] = parameters[0]; sj[i, 1] = parameters[1]
                pj[i, 0] = states[i, 0]; pj[i, 1] = states[i, 1]; pj[i, 2] = 1
            }
            var out = PolicyEvaluation(controls: u, rawOutputs: u)
            if derivatives.contains(.state) { out.stateJacobian = sj }
            if derivatives.contains(.parameters) { out.parameterJacobian = pj }
            return out
        }
    }

    struct QuadraticCost: CostFunction {
        var name: String { "quadratic" }
        var stateDimension: Int { 2 }
        func cost(_ s: [Double]) -> Double { q[0] * s[0] * s[0] + q[1] * s[1] * s[1] }
        func costAndGradient(_ s: [Double]) -> (cost: Double, gradient: [Double]) { (cost(s), [2 * q[0] * s[0], 2 * q[1] * s[1]]) }
    }

    /// J(θ) from the exact moment recursion.
    static func expectedReturn(_ theta: [Double]) -> Double {
        let k = [theta[0], theta[1]], k0 = theta[2]
        // M = A + B K.
        let m = Matrix(rows: 2, columns: 2) { i, j in a[i, j] + b[i] * k[j] }
        var mean = initial.mean
        var cov = Matrix.diagonal(initial.variances)
        var total = 0.0
        for _ in 0..<horizon {
            var noise = [0.0, 0.0]
            for d in 0..<2 {
                let g = [c[d, 0] + e[d] * k[0], c[d, 1] + e[d] * k[1]]
                let gm = g[0] * mean[0] + g[1] * mean[1] + e[d] * k0
                let gsg = g[0] * (cov[0, 0] * g[0] + cov[0, 1] * g[1]) + g[1] * (cov[1, 0] * g[0] + cov[1, 1] * g[1])
                noise[d] = baseVariance[d] + gm * gm + gsg
            }
            mean = [m[0, 0] * mean[0] + m[0, 1] * mean[1] + b[0] * k0, m[1, 0] * mean[0] + m[1, 1] * mean[1] + b[1] * k0]
            cov = m * cov * m.transposed + Matrix.diagonal(noise)
            total += q[0] * (cov[0, 0] + mean[0] * mean[0]) + q[1] * (cov[1, 1] + mean[1] * mean[1])
        }
        return total
    }

    static func estimator(_ spec: EstimatorSpec, particles: Int = 100, seed: UInt64 = 0) -> ParticleGradientEstimator<Dynamics> {
        ParticleGradientEstimator(spec: spec, dynamics: Dynamics(), cost: QuadraticCost(), initialState: initial,
                                  particles: particles, horizon: horizon, seed: seed)
    }
}
