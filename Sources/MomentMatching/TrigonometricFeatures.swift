import Foundation
import LinearAlgebra

/// A feature `sin(cᵀx)` or `cos(cᵀx)` of a Gaussian input x.
public struct TrigonometricFeature: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case sin, cos }
    public var kind: Kind
    /// c, one coefficient per input.
    public var coefficients: [Double]

    public init(_ kind: Kind, _ coefficients: [Double]) {
        self.kind = kind
        self.coefficients = coefficients
    }
}

/// `y = A f(x)` with f a list of ``TrigonometricFeature``s: exact moments for a Gaussian x.
///
/// Everything reduces to `φ(c, g) = E[g(cᵀx)] = exp(−½ cᵀΣc) g(cᵀμ)` for g = sin, cos, and products
/// of two features to sums (sin α sin β = ½[cos(α−β) − cos(α+β)], …). This one piece gives PILCO's
/// sin/cos augmentation of angles (features sin x_k, cos x_k, A = I), its saturation
/// `u_max (9 sin z + sin 3z)/8` (features sin z, sin 3z), and the trigonometric parts of the costs.
final class TrigonometricPiece: MomentPiece {
    let features: [TrigonometricFeature]
    let outputMap: Matrix          // A [K × F]
    private var input = Gaussian(mean: [], covariance: Matrix(rows: 0, columns: 0))
    private var featureMean: [Double] = []

    init(features: [TrigonometricFeature], outputMap: Matrix? = nil) {
        self.features = features
        self.outputMap = outputMap ?? Matrix.identity(features.count)
        precondition(self.outputMap.columns == features.count, "TrigonometricPiece: map has \(self.outputMap.columns) columns for \(features.count) features")
    }

    /// φ(c, g) and, for the backward pass, the pieces of its derivative.
    private static func phi(_ c: [Double], _ kind: TrigonometricFeature.Kind, _ x: Gaussian) -> (value: Double, damping: Double, angle: Double) {
        let n = c.count
        var m = 0.0, v = 0.0
        for i in 0..<n where c[i] != 0 {
            m += c[i] * x.mean[i]
            for j in 0..<n where c[j] != 0 { v += c[i] * x.covariance.storage[i * n + j] * c[j] }
        }
        let damping = exp(-0.5 * v)
        return (damping * (kind == .sin ? sin(m) : cos(m)), damping, m)
    }

    /// Adds `bar · ∂φ(c, g)/∂(μ, Σ)` to the adjoints.
    private static func phiBackward(_ c: [Double], _ kind: TrigonometricFeature.Kind, _ x: Gaussian, bar: Double,
                                    mean: inout [Double], covariance: inout Matrix) {
        guard bar != 0 else { return }
        let (value, damping, angle) = phi(c, kind, x)
        let dm = kind == .sin ? damping * cos(angle) : -damping * sin(angle)
        let n = c.count
        for i in 0..<n where c[i] != 0 {
            mean[i] += bar * dm * c[i]
            for j in 0..<n where c[j] != 0 { covariance.storage[i * n + j] += bar * (-0.5 * value) * c[i] * c[j] }
        }
    }

    /// The (up to two) φ terms of E[f_r f_s], with their coefficients.
    private func productTerms(_ r: Int, _ s: Int) -> [(Double, [Double], TrigonometricFeature.Kind)] {
        let a = features[r], b = features[s]
        let plus = zip(a.coefficients, b.coefficients).map { $0 + $1 }
        let minus = zip(a.coefficients, b.coefficients).map { $0 - $1 }
        switch (a.kind, b.kind) {
        case (.sin, .sin): return [(0.5, minus, .cos), (-0.5, plus, .cos)]
        case (.cos, .cos): return [(0.5, minus, .cos), (0.5, plus, .cos)]
        case (.sin, .cos): return [(0.5, plus, .sin), (0.5, minus, .sin)]
        case (.cos, .sin): return [(0.5, plus, .sin), (-0.5, minus, .sin)]
        }
    }

    func forward(_ x: Gaussian) throws -> MomentOutput {
        input = x
        let f = features.count, n = x.dimension
        precondition(features.allSatisfy { $0.coefficients.count == n }, "TrigonometricPiece: coefficient vectors must have \(n) entries")
        featureMean = features.map { Self.phi($0.coefficients, $0.kind, x).value }
        var fc = Matrix(rows: f, columns: f)
        for r in 0..<f {
            for s in r..<f {
                var e = 0.0
                for (w, c, k) in productTerms(r, s) { e += w * Self.phi(c, k, x).value }
                let v = e - featureMean[r] * featureMean[s]
                fc.storage[r * f + s] = v
                fc.storage[s * f + r] = v
            }
        }
        // E[∂f_r/∂x] = φ(c_r, cos) c_r for sin, −φ(c_r, sin) c_r for cos.
        var jf = Matrix(rows: f, columns: n)
        for r in 0..<f {
            let c = features[r].coefficients
            let g = features[r].kind == .sin ? Self.phi(c, .cos, x).value : -Self.phi(c, .sin, x).value
            for i in 0..<n { jf.storage[r * n + i] = g * c[i] }
        }
        let a = outputMap
        var cov = a * fc.multiplied(by: a, .none, .transposed)
        cov.symmetrize()
        return MomentOutput(mean: a.multiplied(by: featureMean), covariance: cov, expectedJacobian: a * jf)
    }

    func backward(meanAdjoint: [Double], covarianceAdjoint: Matrix, jacobianAdjoint: Matrix) -> (mean: [Double], covariance: Matrix) {
        let x = input, f = features.count, n = x.dimension, a = outputMap
        var meanFBar = a.multiplied(by: meanAdjoint, .transposed)
        let covFBar = a.multiplied(by: covarianceAdjoint * a, .transposed, .none)
        let jacFBar = a.multiplied(by: jacobianAdjoint, .transposed, .none)   // [F × n]
        // V_f = E[ff] − m mᵀ: m̄ −= 2 V̄ m.
        for r in 0..<f { for s in 0..<f { meanFBar[r] -= 2 * covFBar.storage[r * f + s] * featureMean[s] } }
        var meanBar = [Double](repeating: 0, count: n)
        var covBar = Matrix(rows: n, columns: n)
        for r in 0..<f {
            Self.phiBackward(features[r].coefficients, features[r].kind, x, bar: meanFBar[r], mean: &meanBar, covariance: &covBar)
            for s in r..<f {
                let weight = r == s ? covFBar.storage[r * f + r] : 2 * covFBar.storage[r * f + s]
                for (w, c, k) in productTerms(r, s) {
                    Self.phiBackward(c, k, x, bar: weight * w, mean: &meanBar, covariance: &covBar)
                }
            }
            let c = features[r].coefficients
            var dot = 0.0
            for i in 0..<n { dot += jacFBar.storage[r * n + i] * c[i] }
            if features[r].kind == .sin {
                Self.phiBackward(c, .cos, x, bar: dot, mean: &meanBar, covariance: &covBar)
            } else {
                Self.phiBackward(c, .sin, x, bar: -dot, mean: &meanBar, covariance: &covBar)
            }
        }
        covBar.symmetrize()
        return (meanBar, covBar)
    }
}
