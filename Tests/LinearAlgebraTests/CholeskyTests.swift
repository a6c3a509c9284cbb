import Foundation
import LinearAlgebra
import Testing

@Suite("Cholesky, solves, inverses and log-determinants against naive references")
struct CholeskyTests {
    @Test("factor, solve, inverse and log det on random SPD matrices", arguments: [1, 2, 5, 17, 64, 150])
    func randomSPD(order n: Int) throws {
        var rng = SeededGenerator(seed: UInt64(n))
        let a = Matrix.randomSPD(order: n, using: &rng)
        let chol = try Cholesky(a)
        #expect(chol.jitter == 0)
        let naiveL = try #require(Naive.cholesky(a.nested))
        #expect(maxRelativeDifference(chol.lower.nested, naiveL) < 1e-11)
        for i in 0..<n { for j in (i + 1)..<n { #expect(chol.lower[i, j] == 0) } }

        let b = Matrix.gaussian(rows: n, columns: 3, using: &rng)
        let x = chol.solve(b)
        let naiveX = Naive.backward(Naive.transpose(naiveL), Naive.forward(naiveL, b.nested))
        #expect(maxRelativeDifference(x.nested, naiveX) < 1e-9)
        // Residual of the solve, relative to ‖A‖‖x‖.
        let r = Naive.multiply(a.nested, x.nested)
        #expect(maxRelativeDifference(r, b.nested) < 1e-9)

        let expectedLogDet = 2 * naiveL.indices.reduce(0.0) { $0 + log(naiveL[$1][$1]) }
        #expect(abs(chol.logDeterminant - expectedLogDet) <= 1e-10 * max(1, abs(expectedLogDet)))

        let inv = try chol.inverse()
        let naiveInv = Naive.backward(Naive.transpose(naiveL), Naive.forward(naiveL, Naive.identity(n)))
        #expect(maxRelativeDifference(inv.nested, naiveInv) < 1e-9)
        #expect(inv == inv.transposed)

        let linv = try chol.lowerInverse()
        #expect(maxRelativeDifference(linv.nested, Naive.forward(naiveL, Naive.identity(n))) < 1e-10)
    }

    @Test func vectorSolve() throws {
        let a = Matrix([[4, 2], [2, 3]])
        let x = try Cholesky(a).solve([2, 1])
        // [4 2; 2 3] x = [2; 1]  ⇒  x = [0.5, 0]
        #expect(abs(x[0] - 0.5) < 1e-15 && abs(x[1]) < 1e-15)
    }

    @Test func notPositiveDefiniteIsAClearError() {
        // Eigenvalues 3 and −1.
        let a = Matrix([[1, 2], [2, 1]])
        #expect(throws: LinearAlgebraError.notPositiveDefinite(order: 2, minor: 2, jitter: 0)) {
            try Cholesky(a)
        }
        let negative = Matrix([[-1, 0], [0, 1]])
        #expect(throws: LinearAlgebraError.notPositiveDefinite(order: 2, minor: 1, jitter: 0)) {
            try Cholesky(negative)
        }
        let message = LinearAlgebraError.notPositiveDefinite(order: 2, minor: 2, jitter: 0).description
        #expect(message.contains("not positive definite"))
    }

    @Test func nonFiniteInputIsRefused() {
        var a = Matrix.identity(3)
        a[1, 1] = .nan
        #expect(throws: LinearAlgebraError.nonFinite(routine: "Cholesky")) { try Cholesky(a) }
    }

    @Test func jitterRescuesASemidefiniteMatrix() throws {
        var rng = SeededGenerator(seed: 3)
        // Rank 3 in 8 dimensions: positive semi-definite, singular.
        let g = Matrix.gaussian(rows: 8, columns: 3, using: &rng)
        let a = g.multiplied(by: g, .none, .transposed)
        #expect(throws: LinearAlgebraError.self) { try Cholesky(a) }
        let chol = try Cholesky(a, jitter: .standard)
        #expect(chol.jitter > 0)
        #expect(chol.jitter <= 1e-4 * a.trace / 8)
        var shifted = a
        shifted.addToDiagonal(chol.jitter)
        let rebuilt = chol.lower.multiplied(by: chol.lower, .none, .transposed)
        #expect(isApproximatelyEqual(rebuilt, shifted, relative: 1e-9, absolute: 1e-12))
    }

    @Test func jitterHasALimit() {
        let a = Matrix([[1, 0], [0, -5]])
        #expect(throws: LinearAlgebraError.self) { try Cholesky(a, jitter: .standard) }
    }

    @Test func singularTriangularMatrices() throws {
        let t = Matrix([[1, 0, 0], [2, 0, 0], [3, 4, 5]])
        #expect(throws: LinearAlgebraError.singular(order: 3, index: 1)) { try t.triangularInverse(triangle: .lower) }
        #expect(throws: LinearAlgebraError.singular(order: 3, index: 1)) {
            try t.solveTriangular(Matrix(rows: 3, columns: 1, repeating: 1), triangle: .lower)
        }
        let u = Matrix([[2, 1], [0, 4]])
        let inv = try u.triangularInverse(triangle: .upper)
        #expect(isApproximatelyEqual(u * inv, .identity(2), relative: 0, absolute: 1e-15))
        #expect(inv[1, 0] == 0)
    }

    @Test func blasThreadCountCanBePinned() {
        let before = BLASThreads.current
        BLASThreads.set(1)
        #expect(BLASThreads.current == 1)
        BLASThreads.set(before)
        #expect(BLASThreads.configuration.lowercased().contains("openblas"))
    }
}
