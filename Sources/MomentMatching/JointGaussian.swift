import Foundation
import LinearAlgebra

/// A Gaussian `N(mean, covariance)` over a vector.
public struct Gaussian: Sendable, Equatable {
    public var mean: [Double]
    public var covariance: Matrix

    public init(mean: [Double], covariance: Matrix) {
        precondition(covariance.rows == mean.count && covariance.columns == mean.count, "Gaussian: covariance is \(covariance.rows)×\(covariance.columns) for \(mean.count) means")
        self.mean = mean
        self.covariance = covariance
    }

    public var dimension: Int { mean.count }

    /// The marginal over `indices`.
    public func marginal(_ indices: [Int]) -> Gaussian {
        Gaussian(mean: indices.map { mean[$0] }, covariance: covariance.submatrix(indices, indices))
    }
}

/// The moments of `y = f(x)` for a Gaussian input x: mean, covariance and the expected Jacobian
/// `E[∂f/∂x]` `[K × n]`.
///
/// The expected Jacobian is what makes the pieces chain: for jointly Gaussian (v, x), Stein's lemma
/// gives `cov(v, f(x)) = cov(v, x) E[∂f/∂x]ᵀ` exactly, so appending y to a joint Gaussian over v needs
/// nothing else (PILCO's "inv(s)·cov" matrices are the same quantity).
struct MomentOutput {
    var mean: [Double]
    var covariance: Matrix
    var expectedJacobian: Matrix
}

/// One moment-matching piece: forward moments of its input, and the vector–Jacobian product that
/// takes adjoints of (mean, covariance, expected Jacobian) back to adjoints of the input's mean and
/// covariance. Parameter adjoints, where a piece has parameters, accumulate inside the piece.
///
/// Convention: covariance adjoints are symmetric (the gradient with respect to a symmetric matrix,
/// ½(G + Gᵀ)); every piece takes them so and returns them so.
protocol MomentPiece: AnyObject {
    func forward(_ input: Gaussian) throws -> MomentOutput
    func backward(meanAdjoint: [Double], covarianceAdjoint: Matrix, jacobianAdjoint: Matrix) -> (mean: [Double], covariance: Matrix)
}

/// Appending a piece's output to a joint Gaussian: `v' = [v; f(v_I)]` with
/// `cov(v, f) = Σ_{:,I} Cᵀ` (Stein's lemma, see ``MomentOutput``).
struct AppendRecord {
    let piece: any MomentPiece
    let indices: [Int]
    let input: Gaussian
    let output: MomentOutput

    static func append(_ v: Gaussian, _ piece: any MomentPiece, indices: [Int]) throws -> (Gaussian, AppendRecord) {
        let input = v.marginal(indices)
        guard input.mean.allSatisfy(\.isFinite), input.covariance.isFinite else { throw MomentMatchingError.nonFinite }
        let out = try piece.forward(input)
        let n = v.dimension, k = out.mean.count
        // cross = S[:, I] Cᵀ  [n × k]
        let cross = v.covariance.submatrix(Array(0..<n), indices).multiplied(by: out.expectedJacobian, .none, .transposed)
        var s = Matrix(rows: n + k, columns: n + k)
        for i in 0..<n { for j in 0..<n { s.storage[i * (n + k) + j] = v.covariance.storage[i * n + j] } }
        for i in 0..<n {
            for j in 0..<k {
                s.storage[i * (n + k) + n + j] = cross.storage[i * k + j]
                s.storage[(n + j) * (n + k) + i] = cross.storage[i * k + j]
            }
        }
        for i in 0..<k { for j in 0..<k { s.storage[(n + i) * (n + k) + n + j] = out.covariance.storage[i * k + j] } }
        s.symmetrize()
        return (Gaussian(mean: v.mean + out.mean, covariance: s), AppendRecord(piece: piece, indices: indices, input: v, output: out))
    }

    /// Adjoints of the joint before the append from adjoints of the joint after it.
    func backward(meanAdjoint mBar: [Double], covarianceAdjoint sBar: Matrix) -> (mean: [Double], covariance: Matrix) {
        let n = input.dimension, k = output.mean.count, nk = n + k, ni = indices.count
        var meanBar = Array(mBar[0..<n])
        let outMeanBar = Array(mBar[n..<nk])
        var covBar = Matrix(rows: n, columns: n)
        for i in 0..<n { for j in 0..<n { covBar.storage[i * n + j] = sBar.storage[i * nk + j] } }
        var outCovBar = Matrix(rows: k, columns: k)
        for i in 0..<k { for j in 0..<k { outCovBar.storage[i * k + j] = sBar.storage[(n + i) * nk + n + j] } }
        // The cross block X = S[:, I] Cᵀ appears twice (symmetric adjoint): X̄ = 2 S̄[:n, n:].
        var crossBar = Matrix(rows: n, columns: k)
        for i in 0..<n { for j in 0..<k { crossBar.storage[i * k + j] = 2 * sBar.storage[i * nk + n + j] } }
        // S̄[:, I] += X̄ C;  C̄ = X̄ᵀ S[:, I].
        let sColumns = input.covariance.submatrix(Array(0..<n), indices)
        let toColumns = crossBar * output.expectedJacobian                      // [n × ni]
        for i in 0..<n { for (c, j) in indices.enumerated() { covBar.storage[i * n + j] += toColumns.storage[i * ni + c] } }
        let jacobianBar = crossBar.multiplied(by: sColumns, .transposed, .none)  // [k × ni]
        let inner = piece.backward(meanAdjoint: outMeanBar, covarianceAdjoint: outCovBar, jacobianAdjoint: jacobianBar)
        for (c, i) in indices.enumerated() {
            meanBar[i] += inner.mean[c]
            for (d, j) in indices.enumerated() { covBar.storage[i * n + j] += inner.covariance.storage[c * ni + d] }
        }
        covBar.symmetrize()
        return (meanBar, covBar)
    }
}

/// `y = L v + b` for a Gaussian v: exact.
struct LinearMap {
    let matrix: Matrix
    let offset: [Double]

    func apply(_ v: Gaussian) -> Gaussian {
        var m = matrix.multiplied(by: v.mean)
        for i in m.indices { m[i] += offset[i] }
        var s = matrix * v.covariance.multiplied(by: matrix, .none, .transposed)
        s.symmetrize()
        return Gaussian(mean: m, covariance: s)
    }

    func backward(meanAdjoint: [Double], covarianceAdjoint: Matrix) -> (mean: [Double], covariance: Matrix) {
        var s = matrix.multiplied(by: covarianceAdjoint * matrix, .transposed, .none)
        s.symmetrize()
        return (matrix.multiplied(by: meanAdjoint, .transposed), s)
    }
}

extension Matrix {
    /// The submatrix of the given rows and columns.
    func submatrix(_ rowIndices: [Int], _ columnIndices: [Int]) -> Matrix {
        var out = Matrix(rows: rowIndices.count, columns: columnIndices.count)
        for (a, i) in rowIndices.enumerated() {
            for (b, j) in columnIndices.enumerated() { out.storage[a * columnIndices.count + b] = storage[i * columns + j] }
        }
        return out
    }

    /// `(A + Aᵀ)/2` as a new matrix.
    var symmetrized: Matrix {
        var m = self
        m.symmetrize()
        return m
    }
}
