import LinearAlgebra
import Testing

@Suite(.serialized) struct BLASFlopsTests {
    @Test func everyLevel3CallIsCountedByShapeWithItsFlops() {
        var c = Matrix(rows: 3, columns: 5)
        let a = Matrix(rows: 3, columns: 4, repeating: 1), b = Matrix(rows: 4, columns: 5, repeating: 1)
        Matrix.gemm(a, .none, b, into: &c)  // not counted: counting is off
        let (_, calls) = BLASFlops.count {
            Matrix.gemm(a, .none, b, into: &c)
            Matrix.gemm(a, .none, b, into: &c)
            var e = Matrix(rows: 5, columns: 3)
            Matrix.gemm(b, .transposed, a, .transposed, into: &e)  // [5×4]·[4×3]
            var d = Matrix(rows: 4, columns: 5, repeating: 1)
            Matrix.symm(.left, .identity(4), b, into: &d)
            Matrix.trmm(.right, .identity(5), triangle: .lower, .none, &d)
            Matrix.trsm(.left, .identity(4), triangle: .lower, .none, &d)
        }
        let expected: [BLASFlops.Shape: Int] = [
            BLASFlops.Shape(.gemm, m: 3, n: 5, k: 4): 2, BLASFlops.Shape(.gemm, m: 5, n: 3, k: 4): 1,
            BLASFlops.Shape(.symm, m: 4, n: 5, k: 4): 1, BLASFlops.Shape(.trmm, m: 4, n: 5, k: 5): 1,
            BLASFlops.Shape(.trsm, m: 4, n: 5, k: 4): 1,
        ]
        #expect(calls == expected)
        // gemm 2mnk, symm 2mn·order, trmm/trsm mn·order.
        let gemms: Double = 3 * 120, symm: Double = 2 * 4 * 5 * 4, trmm: Double = 4 * 5 * 5, trsm: Double = 4 * 5 * 4
        #expect(BLASFlops.total(calls) == gemms + symm + trmm + trsm)
        // Counting stops with the body.
        Matrix.gemm(a, .none, b, into: &c)
        #expect(BLASFlops.count { () }.calls.isEmpty)
    }
}
