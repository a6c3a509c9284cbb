import Foundation
import LinearAlgebra
import Testing

@Suite("BLAS products against naive references")
struct ProductTests {
    @Test("gemm with every transposition, alpha and beta", arguments: [(1, 1, 1), (3, 5, 2), (17, 9, 13), (64, 33, 40)])
    func gemm(sizes: (Int, Int, Int)) {
        let (m, k, n) = sizes
        var rng = SeededGenerator(seed: UInt64(m * 1000 + k * 10 + n))
        for opA in [Transposition.none, .transposed] {
            for opB in [Transposition.none, .transposed] {
                let a = opA == .none ? Matrix.gaussian(rows: m, columns: k, using: &rng) : Matrix.gaussian(rows: k, columns: m, using: &rng)
                let b = opB == .none ? Matrix.gaussian(rows: k, columns: n, using: &rng) : Matrix.gaussian(rows: n, columns: k, using: &rng)
                let c0 = Matrix.gaussian(rows: m, columns: n, using: &rng)
                var c = c0
                Matrix.gemm(a, opA, b, opB, alpha: 0.7, beta: -1.3, into: &c)
                let na = opA == .none ? a.nested : Naive.transpose(a.nested)
                let nb = opB == .none ? b.nested : Naive.transpose(b.nested)
                let prod = Naive.multiply(na, nb)
                let expected = (0..<m).map { i in (0..<n).map { j in 0.7 * prod[i][j] - 1.3 * c0[i, j] } }
                #expect(maxRelativeDifference(c.nested, expected) < 1e-13, "op \(opA), \(opB)")
            }
        }
    }

    @Test func operatorsAndVectors() {
        var rng = SeededGenerator(seed: 7)
        let a = Matrix.gaussian(rows: 6, columns: 4, using: &rng)
        let b = Matrix.gaussian(rows: 4, columns: 3, using: &rng)
        #expect(maxRelativeDifference((a * b).nested, Naive.multiply(a.nested, b.nested)) < 1e-14)
        let x = (0..<4).map { Double($0) - 1.5 }
        let y = a.multiplied(by: x)
        let expected = Naive.multiply(a.nested, x.map { [$0] }).map { $0[0] }
        #expect(maxRelativeDifference([y], [expected]) < 1e-14)
        let z = a.multiplied(by: y, .transposed)
        let expectedZ = Naive.multiply(Naive.transpose(a.nested), y.map { [$0] }).map { $0[0] }
        #expect(maxRelativeDifference([z], [expectedZ]) < 1e-14)
        let s = a + 2 * a - a
        #expect(maxRelativeDifference(s.nested, (2 * a).nested) < 1e-15)
        #expect(a.transposed.transposed == a)
    }

    @Test("symm reads one triangle", arguments: [Side.left, .right])
    func symm(side: Side) {
        var rng = SeededGenerator(seed: 11)
        let s = Matrix.randomSPD(order: 7, using: &rng)
        // Garbage in the upper triangle must be ignored when the lower is named.
        var lowerOnly = s
        for i in 0..<7 { for j in (i + 1)..<7 { lowerOnly[i, j] = 1e6 } }
        let b = side == .left ? Matrix.gaussian(rows: 7, columns: 5, using: &rng) : Matrix.gaussian(rows: 5, columns: 7, using: &rng)
        var c = Matrix(rows: b.rows, columns: b.columns)
        Matrix.symm(side, lowerOnly, triangle: .lower, b, into: &c)
        let expected = side == .left ? Naive.multiply(s.nested, b.nested) : Naive.multiply(b.nested, s.nested)
        #expect(maxRelativeDifference(c.nested, expected) < 1e-13)
    }

    @Test func trmmAndTrsm() throws {
        var rng = SeededGenerator(seed: 13)
        let n = 9
        let l = try Cholesky(Matrix.randomSPD(order: n, using: &rng)).lower
        let b = Matrix.gaussian(rows: n, columns: 4, using: &rng)
        var lb = b
        Matrix.trmm(.left, l, triangle: .lower, .none, &lb)
        #expect(maxRelativeDifference(lb.nested, Naive.multiply(l.nested, b.nested)) < 1e-13)
        var ltb = b
        Matrix.trmm(.left, l, triangle: .lower, .transposed, &ltb)
        #expect(maxRelativeDifference(ltb.nested, Naive.multiply(Naive.transpose(l.nested), b.nested)) < 1e-13)
        var x = b
        Matrix.trsm(.left, l, triangle: .lower, .none, &x)
        #expect(maxRelativeDifference(x.nested, Naive.forward(l.nested, b.nested)) < 1e-12)
        let bt = b.transposed  // 4×n
        var xr = bt
        Matrix.trsm(.right, l, triangle: .lower, .transposed, &xr)  // X Lᵀ = Bᵀ  ⇔  L Xᵀ = B
        #expect(maxRelativeDifference(xr.transposed.nested, Naive.forward(l.nested, b.nested)) < 1e-12)
    }
}

@Suite("fastExp")
struct FastExpTests {
    @Test func matchesTheLibraryToAFewUlp() {
        var rng = SeededGenerator(seed: 77)
        var worst = 0.0
        for _ in 0..<200_000 {
            let x = Double.random(in: -700...700, using: &rng)
            worst = max(worst, abs(fastExp(x) - exp(x)) / exp(x))
        }
        for x in stride(from: -40.0, through: 0, by: 0.0001) { worst = max(worst, abs(fastExp(x) - exp(x)) / exp(x)) }
        #expect(worst < 1e-15, "max relative error \(worst)")
        #expect(fastExp(0) == 1)
        #expect(fastExp(-.infinity) > 0 && fastExp(-.infinity) < 1e-300)
        #expect(fastExp(.nan).isNaN)
    }

    @Test("the portable loop equals the scalar form bit for bit; the loop in use is within 4e-16 of exp")
    func inPlaceLoops() {
        var rng = SeededGenerator(seed: 78)
        var values = (0..<1003).map { _ in Double.random(in: -800...800, using: &rng) }
        values += (0..<20_000).map { _ in Double.random(in: -40...0, using: &rng) }
        values[0] = .nan; values[1] = -.infinity; values[2] = .infinity; values[3] = 0; values[4] = -708.4; values[5] = 709.9
        values[9] = .nan; values[14] = .nan
        let expected = values.map(fastExp)
        var portable = values
        portable.withUnsafeMutableBufferPointer { fastExpInPlacePortable($0) }
        var mismatches = 0
        for (a, b) in zip(portable, expected) where !(a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN)) { mismatches += 1 }
        #expect(mismatches == 0)

        var fast = values
        fast.withUnsafeMutableBufferPointer { fastExpInPlace($0) }
        #expect(["avx2-fma", "portable"].contains(fastExpKernel))
        var worst = 0.0
        for (x, (a, b)) in zip(values, zip(fast, expected)) {
            if x.isNaN { #expect(a.isNaN); continue }
            // Clamped inputs: e^−708 or e^709, as the scalar form gives them (to rounding).
            if x <= -708 || x >= 709 { #expect(abs(a - b) <= 4e-16 * b, "clamped input \(x)"); continue }
            worst = max(worst, abs(a - exp(x)) / exp(x))
        }
        #expect(worst < 4e-16, "\(fastExpKernel): max relative error \(worst)")
    }
}
