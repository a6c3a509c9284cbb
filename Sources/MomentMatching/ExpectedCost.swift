import Foundation
import LinearAlgebra
import Robots

/// A saturating cost written so that its expectation under a Gaussian state is exact:
/// `c(s) = 1 − exp(−½ yᵀ W y)`, `y = L [s; f(s)] + b`, with f trigonometric features of the state
/// (``TrigonometricFeature``), L and b constant, and W diagonal and non-negative.
///
/// Every cost of PIPPS and PILCO has this form: the cart-pole angle cost (y = [x, θ − π], no
/// features), the tip cost (y = [x + l sin θ, l cos θ + l]) and the unicycle cost
/// (cos θ cos ψ = ½[cos(θ+ψ) + cos(θ−ψ)] makes the height drop linear in features).
public struct GaussianCostForm: Sendable, Equatable {
    public var features: [TrigonometricFeature]
    /// L `[Y × (D + F)]`.
    public var linearMap: Matrix
    public var offset: [Double]
    /// diag W `[Y]`.
    public var weights: [Double]

    public init(features: [TrigonometricFeature], linearMap: Matrix, offset: [Double], weights: [Double]) {
        precondition(linearMap.rows == offset.count && offset.count == weights.count, "GaussianCostForm: sizes of L, b and W differ")
        precondition(weights.allSatisfy { $0 >= 0 }, "GaussianCostForm: weights must be non-negative")
        self.features = features
        self.linearMap = linearMap
        self.offset = offset
        self.weights = weights
    }

    /// The cost at one state (for tests: it must equal the cost function it stands for).
    public func cost(_ s: [Double]) -> Double {
        var augmented = s
        for f in features {
            let a = zip(f.coefficients, s).reduce(0) { $0 + $1.0 * $1.1 }
            augmented.append(f.kind == .sin ? sin(a) : cos(a))
        }
        var q = 0.0
        let y = linearMap.multiplied(by: augmented)
        for i in y.indices { q += weights[i] * (y[i] + offset[i]) * (y[i] + offset[i]) }
        return 1 - exp(-0.5 * q)
    }
}

/// Costs whose expectation under a Gaussian state moment matching computes exactly.
public protocol GaussianExpectableCost: CostFunction {
    var gaussianForm: GaussianCostForm { get }
}

extension CartPoleAngleCost: GaussianExpectableCost {
    public var gaussianForm: GaussianCostForm {
        // q = q_x x² + q_θ (θ − π)² = ½ yᵀ diag(2q_x, 2q_θ) y.
        GaussianCostForm(features: [], linearMap: Matrix([[1, 0, 0, 0], [0, 0, 0, 1]]), offset: [0, -.pi],
                         weights: [2 * positionWeight, 2 * angleWeight])
    }
}

extension CartPoleTipCost: GaussianExpectableCost {
    public var gaussianForm: GaussianCostForm {
        // d² / (2w²) with d = (x + l sin θ, l cos θ + l).
        let l = poleLength, w = 1 / (width * width)
        return GaussianCostForm(
            features: [TrigonometricFeature(.sin, [0, 0, 0, 1]), TrigonometricFeature(.cos, [0, 0, 0, 1])],
            linearMap: Matrix([[1, 0, 0, 0, l, 0], [0, 0, 0, 0, 0, l]]), offset: [0, l], weights: [w, w])
    }
}

extension UnicycleCost: GaussianExpectableCost {
    public var gaussianForm: GaussianCostForm {
        // State indices: xc 5, yc 6, roll θ 7, yaw φ 8, pitch ψ 9.
        func e(_ entries: [Int: Double]) -> [Double] { (0..<10).map { entries[$0] ?? 0 } }
        let features = [
            TrigonometricFeature(.cos, e([7: 1])),          // 10: cos θ
            TrigonometricFeature(.cos, e([7: 1, 9: 1])),    // 11: cos(θ + ψ)
            TrigonometricFeature(.cos, e([7: 1, 9: -1])),   // 12: cos(θ − ψ)
            TrigonometricFeature(.sin, e([9: 1])),          // 13: sin ψ
            TrigonometricFeature(.sin, e([7: 1])),          // 14: sin θ
        ]
        let rw = wheelRadius, r = rodLength, w = 1 / (width * width)
        var l = Matrix(rows: 4, columns: 15)
        // Δz = rw cos θ + ½ r [cos(θ+ψ) + cos(θ−ψ)] − (rw + r)
        l[0, 10] = rw; l[0, 11] = 0.5 * r; l[0, 12] = 0.5 * r
        // ex = xc − r sin ψ; ey = yc − (r + rw) sin θ; φ.
        l[1, 5] = 1; l[1, 13] = -r
        l[2, 6] = 1; l[2, 14] = -(r + rw)
        l[3, 8] = 1
        let yawScale = 1 / (4 * Double.pi)
        return GaussianCostForm(features: features, linearMap: l, offset: [-(rw + r), 0, 0, 0],
                                weights: [8 * w, 0.5 * w, 0.5 * w, yawScale * yawScale * w])
    }
}

/// `E[1 − exp(−½ yᵀ W y)]` for y ~ N(m, S): `1 − |K|^{-½} exp(−½ nᵀ K⁻¹ n)` with
/// `K = I + W^{½} S W^{½}` and `n = W^{½} m` (PILCO's `lossSat`).
struct SaturatingCostExpectation {
    let weights: [Double]

    func value(_ y: Gaussian) throws -> Double { try evaluate(y).value }

    func evaluate(_ y: Gaussian) throws -> (value: Double, meanAdjoint: [Double], covarianceAdjoint: Matrix) {
        guard y.mean.allSatisfy(\.isFinite), y.covariance.isFinite else { throw MomentMatchingError.nonFinite }
        let k = y.dimension
        let root = weights.map { $0.squareRoot() }
        var kMatrix = Matrix.identity(k)
        for i in 0..<k { for j in 0..<k { kMatrix.storage[i * k + j] += root[i] * y.covariance.storage[i * k + j] * root[j] } }
        let chol = try Cholesky(kMatrix, jitter: .standard)   // I + PSD: positive definite
        let n = (0..<k).map { root[$0] * y.mean[$0] }
        let kn = chol.solve(n)
        let quad = zip(n, kn).reduce(0) { $0 + $1.0 * $1.1 }
        let r = exp(-0.5 * chol.logDeterminant - 0.5 * quad)
        // d(1 − r) = −r d log r; log r = −½ log|K| − ½ nᵀK⁻¹n.
        let rho = -r
        let kInverse = try chol.inverse()
        var kBar = kInverse
        kBar.scale(by: -0.5 * rho)
        for i in 0..<k { for j in 0..<k { kBar.storage[i * k + j] += 0.5 * rho * kn[i] * kn[j] } }
        var sBar = Matrix(rows: k, columns: k)
        for i in 0..<k { for j in 0..<k { sBar.storage[i * k + j] = root[i] * kBar.storage[i * k + j] * root[j] } }
        sBar.symmetrize()
        let mBar = (0..<k).map { -rho * kn[$0] * root[$0] }
        return (1 - r, mBar, sBar)
    }
}
