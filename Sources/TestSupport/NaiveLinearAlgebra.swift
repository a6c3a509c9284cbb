/// Textbook O(n³) linear algebra written from the definitions with plain loops (no BLAS or
/// LAPACK): the references that fast paths are checked against.
public enum NaiveLinearAlgebra {
    /// Cholesky–Banachiewicz: L with A = L Lᵀ, or nil when a pivot is not positive.
    public static func cholesky(_ a: [[Double]]) -> [[Double]]? {
        let n = a.count
        var l = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n {
            for j in 0...i {
                var s = a[i][j]
                for k in 0..<j { s -= l[i][k] * l[j][k] }
                if i == j {
                    guard s > 0 else { return nil }
                    l[i][i] = s.squareRoot()
                } else {
                    l[i][j] = s / l[j][j]
                }
            }
        }
        return l
    }

    /// Solves L y = b by forward substitution (L lower triangular), column by column of b.
    public static func forward(_ l: [[Double]], _ b: [[Double]]) -> [[Double]] {
        let n = l.count, k = b.first?.count ?? 0
        var y = b
        for c in 0..<k { for i in 0..<n { var s = b[i][c]; for j in 0..<i { s -= l[i][j] * y[j][c] }; y[i][c] = s / l[i][i] } }
        return y
    }

    /// Solves U x = y by back substitution (U upper triangular).
    public static func backward(_ u: [[Double]], _ y: [[Double]]) -> [[Double]] {
        let n = u.count, k = y.first?.count ?? 0
        var x = y
        for c in 0..<k {
            for i in stride(from: n - 1, through: 0, by: -1) {
                var s = y[i][c]
                for j in (i + 1)..<max(i + 1, n) { s -= u[i][j] * x[j][c] }
                x[i][c] = s / u[i][i]
            }
        }
        return x
    }

    public static func transpose(_ a: [[Double]]) -> [[Double]] {
        guard let n = a.first?.count else { return [] }
        return (0..<n).map { j in a.map { $0[j] } }
    }

    /// Solves A x = b given A's lower Cholesky factor L.
    public static func solve(cholesky l: [[Double]], _ b: [Double]) -> [Double] {
        backward(transpose(l), forward(l, b.map { [$0] })).map { $0[0] }
    }
}
