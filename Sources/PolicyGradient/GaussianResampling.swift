import Foundation
import LinearAlgebra

/// Gaussian resampling of a particle set (PIPPS §3.1, resampling paper §3): fit μ̂ and Σ̂ (1/(P−1))
/// to the particles x_i, draw z_i = μ̂ + L e_i with L = chol(Σ̂), and move each particle to
/// z'_i = (1 − r) z_i + r x_i (r = 0: full resampling; r = 1: no change).
///
/// ``backward(_:)`` differentiates through it, including through the Cholesky factor (Murray 2016:
/// Σ̄ = sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹), Φ taking the lower triangle with its diagonal halved).
struct GaussianResampling {
    let ratio: Double
    let mean: [Double]
    /// x_i − μ̂ `[P × D]`.
    let centred: Matrix
    /// L `[D × D]`.
    let factor: Matrix
    /// e_i `[P × D]`.
    let draws: Matrix
    /// z'_i `[P × D]`.
    let output: Matrix

    init(samples x: Matrix, ratio: Double, using rng: inout some RandomNumberGenerator) {
        let p = x.rows, d = x.columns
        precondition(p >= 2, "Gaussian resampling needs at least 2 particles")
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<p { for a in 0..<d { mean[a] += x.storage[i * d + a] } }
        for a in 0..<d { mean[a] /= Double(p) }
        var centred = x
        for i in 0..<p { for a in 0..<d { centred.storage[i * d + a] -= mean[a] } }
        var covariance = centred.multiplied(by: centred, .transposed, .none)
        covariance.scale(by: 1 / Double(p - 1))
        covariance.symmetrize()
        // A collapsed particle cloud is singular; jitter keeps the factor defined.
        let factor = (try? Cholesky(covariance, jitter: .standard).lower) ?? Matrix.identity(d)
        let draws = Matrix.gaussian(rows: p, columns: d, using: &rng)
        var output = draws.multiplied(by: factor, .none, .transposed)   // e_i Lᵀ
        for i in 0..<p {
            for a in 0..<d {
                let z = mean[a] + output.storage[i * d + a]
                output.storage[i * d + a] = (1 - ratio) * z + ratio * x.storage[i * d + a]
            }
        }
        self.ratio = ratio
        self.mean = mean
        self.centred = centred
        self.factor = factor
        self.draws = draws
        self.output = output
    }

    /// Maps ∂G/∂z'_i `[P × D]` to ∂G/∂x_i `[P × D]`.
    func backward(_ g: Matrix) -> Matrix {
        let p = g.rows, d = g.columns
        let r = ratio
        // Through μ̂: (1 − r) Σ_k g_k / P for every particle.
        var sum = [Double](repeating: 0, count: d)
        for k in 0..<p { for a in 0..<d { sum[a] += g.storage[k * d + a] } }
        // L̄ = (1 − r) Σ_k g_k e_kᵀ, lower triangle.
        var lBar = g.multiplied(by: draws, .transposed, .none)
        lBar.scale(by: 1 - r)
        for a in 0..<d { for b in (a + 1)..<max(a + 1, d) { lBar[a, b] = 0 } }
        let sigmaBar = Self.choleskyBackward(factor: factor, adjoint: lBar)
        // ∂G/∂x_i = r g_i + (1 − r) ḡ/P + 2/(P − 1) Σ̄ (x_i − μ̂).
        var out = centred.multiplied(by: sigmaBar, .none, .transposed)
        out.scale(by: 2 / Double(p - 1))
        for i in 0..<p {
            for a in 0..<d {
                out.storage[i * d + a] += r * g.storage[i * d + a] + (1 - r) * sum[a] / Double(p)
            }
        }
        return out
    }

    /// The symmetric adjoint of Σ = L Lᵀ given the adjoint L̄ of its lower Cholesky factor.
    static func choleskyBackward(factor l: Matrix, adjoint lBar: Matrix) -> Matrix {
        let d = l.rows
        var phi = l.multiplied(by: lBar, .transposed, .none)   // Lᵀ L̄
        for a in 0..<d {
            for b in 0..<d {
                if b > a { phi[a, b] = 0 } else if a == b { phi[a, b] *= 0.5 }
            }
        }
        // Σ̄ = L⁻ᵀ Φ L⁻¹ by two triangular solves.
        var s = phi
        Matrix.trsm(.left, l, triangle: .lower, .transposed, &s)
        Matrix.trsm(.right, l, triangle: .lower, .none, &s)
        var sym = s
        for a in 0..<d { for b in 0..<d { sym[a, b] = 0.5 * (s[a, b] + s[b, a]) } }
        return sym
    }
}
