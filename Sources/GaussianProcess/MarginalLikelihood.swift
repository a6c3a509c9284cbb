import Foundation
import LinearAlgebra

/// The negative log marginal likelihood of one output's GP and its gradient with respect to the log
/// hyperparameters (Rasmussen & Williams 2006, eq. 5.8–5.9):
///
/// `nlml = ½ yᵀ K⁻¹ y + ½ log|K| + N/2 log 2π`, K = K_f + σn² I, and
/// `∂nlml/∂θ = ½ tr((K⁻¹ − α αᵀ) ∂K/∂θ)`, α = K⁻¹ y, with
/// ∂K/∂log s = 2 K_f, ∂K/∂log σn = 2 σn² I, ∂K/∂log ℓ_e = K_f ∘ (x_ie − x_je)²/ℓ_e².
public struct MarginalLikelihood: Sendable {
    /// Training inputs X `[N × E]`.
    public let inputs: Matrix
    /// Targets y `[N]`.
    public let targets: [Double]

    public init(inputs: Matrix, targets: [Double]) {
        precondition(inputs.rows == targets.count, "MarginalLikelihood: \(inputs.rows) inputs, \(targets.count) targets")
        self.inputs = inputs
        self.targets = targets
    }

    /// `nlml` and its gradient `[E + 2]` (order of ``GPHyperparameters/vector``).
    ///
    /// - Throws: ``LinearAlgebraError`` when K is not positive definite even with `jitter`.
    public func negativeLogLikelihood(_ h: GPHyperparameters, jitter: JitterPolicy = .none, gradient wantGradient: Bool = true) throws -> (value: Double, gradient: [Double], jitter: Double) {
        let n = inputs.rows, e = inputs.columns
        let kf = seKernel(inputs, inputs, h)
        var k = kf
        k.addToDiagonal(h.noiseVariance)
        let chol = try Cholesky(k, jitter: jitter)
        let alpha = chol.solve(targets)
        var fit = 0.0
        for i in 0..<n { fit += targets[i] * alpha[i] }
        let value = 0.5 * fit + 0.5 * chol.logDeterminant + 0.5 * Double(n) * log(2 * Double.pi)
        guard wantGradient else { return (value, [], chol.jitter) }

        // W = K⁻¹ − α αᵀ; V = W ∘ K_f.
        var w = try chol.inverse()
        w.storage.withUnsafeMutableBufferPointer { ww in
            for i in 0..<n { for j in 0..<n { ww[i * n + j] -= alpha[i] * alpha[j] } }
        }
        var traceW = 0.0
        for i in 0..<n { traceW += w.storage[i * n + i] }
        var v = w
        var sumVK = 0.0
        v.storage.withUnsafeMutableBufferPointer { vv in
            kf.storage.withUnsafeBufferPointer { kk in
                for i in 0..<(n * n) {
                    vv[i] *= kk[i]
                    sumVK += vv[i]
                }
            }
        }
        // ½ Σ_ij V_ij (x_ie − x_je)² = Σ_i x_ie² r_i − x_eᵀ V x_e, with r = V 1 (V symmetric).
        let r = (0..<n).map { i in v.storage[(i * n)..<((i + 1) * n)].reduce(0, +) }
        let vx = v * inputs
        var gradient = [Double](repeating: 0, count: e + 2)
        let invSq = h.logLengthScales.map { exp(-2 * $0) }
        for c in 0..<e {
            var a = 0.0, b = 0.0
            for i in 0..<n {
                let x = inputs.storage[i * e + c]
                a += x * x * r[i]
                b += x * vx.storage[i * e + c]
            }
            gradient[c] = (a - b) * invSq[c]
        }
        gradient[e] = sumVK
        gradient[e + 1] = h.noiseVariance * traceW
        return (value, gradient, chol.jitter)
    }
}
