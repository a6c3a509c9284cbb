import LinearAlgebra
import Testing

@Suite struct BLASFlopsTests {
    /// Counting is process-wide and other suites run BLAS at the same time, so the test looks only at
    /// shapes no other test uses (odd primes) and checks those exactly.
    @Test func everyLevel3CallIsCountedByShapeWithItsFlops() {
        let (m, n, k) = (13, 17, 19)
        var c = Matrix(rows: m, columns: n)
        let a = Matrix(rows: m, columns: k, repeating: 1), b = Matrix(rows: k, columns: n, repeating: 1)
        Matrix.gemm(a, .none, b, into: &c)  // not counted: counting is off
        let (_, calls) = BLASFlops.count {
            Matrix.gemm(a, .none, b, into: &c)
            Matrix.gemm(a, .none, b, into: &c)
            var e = Matrix(rows: n, columns: m)
            Matrix.gemm(b, .transposed, a, .transposed, into: &e)  // [17×19]·[19×13]
            var d = Matrix(rows: k, columns: n, repeating: 1)
            Matrix.symm(.left, .identity(k), b, into: &d)
            Matrix.trmm(.right, .identity(n), triangle: .lower, .none, &d)
            Matrix.trsm(.left, .identity(k), triangle: .lower, .none, &d)
        }
        let expected: [BLASFlops.Shape: Int] = [
            BLASFlops.Shape(.gemm, m: 13, n: 17, k: 19): 2, BLASFlops.Shape(.gemm, m: 17, n: 13, k: 19): 1,
            BLASFlops.Shape(.symm, m: 19, n: 17, k: 19): 1, BLASFlops.Shape(.trmm, m: 19, n: 17, k: 17): 1,
            BLASFlops.Shape(.trsm, m: 19, n: 17, k: 19): 1,
        ]
        let ours = calls.filter { expected[$0.key] != nil }
        #expect(ours == expected, "\(ours)")
        // gemm 2mnk, symm 2mn·order, trmm and trsm mn·order.
        let gemms: Double = 3 * 2 * 13 * 17 * 19, symm: Double = 2 * 19 * 17 * 19, trmm: Double = 19 * 17 * 17, trsm: Double = 19 * 17 * 19
        #expect(BLASFlops.total(ours) == gemms + symm + trmm + trsm)
        // After the body, nothing more is counted.
        Matrix.gemm(a, .none, b, into: &c)
        #expect(BLASFlops.count { () }.calls[BLASFlops.Shape(.gemm, m: 13, n: 17, k: 19)] == nil)
    }

    @Test func differenceIsWhatTheLaterSnapshotAdded() {
        let s = BLASFlops.Shape(.gemm, m: 2, n: 3, k: 5), t = BLASFlops.Shape(.trsm, m: 2, n: 2, k: 2)
        #expect(BLASFlops.difference([s: 5, t: 1], [s: 2, t: 1]) == [s: 3])
        #expect(BLASFlops.difference([s: 1], [:]) == [s: 1])
    }
}
