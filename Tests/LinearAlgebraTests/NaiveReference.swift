import LinearAlgebra

/// Textbook O(n³) implementations with no BLAS or LAPACK, written from the definitions, as the
/// reference the fast paths are checked against.
enum Naive {
    static func multiply(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        let m = a.count, k = b.count, n = b.first?.count ?? 0
        var c = [[Double]](repeating: [Double](repeating: 0, count: n), count: m)
        for i in 0..<m { for j in 0..<n { var s = 0.0; for p in 0..<k { s += a[i][p] * b[p][j] }; c[i][j] = s } }
        return c
    }

    static func transpose(_ a: [[Double]]) -> [[Double]] {
        guard let n = a.first?.count else { return [] }
        return (0..<n).map { j in a.map { $0[j] } }
    }

    /// Cholesky–Banachiewicz: L with A = L Lᵀ, or nil when a pivot is not positive.
    static func cholesky(_ a: [[Double]]) -> [[Double]]? {
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
    static func forward(_ l: [[Double]], _ b: [[Double]]) -> [[Double]] {
        let n = l.count, k = b.first?.count ?? 0
        var y = b
        for c in 0..<k { for i in 0..<n { var s = b[i][c]; for j in 0..<i { s -= l[i][j] * y[j][c] }; y[i][c] = s / l[i][i] } }
        return y
    }

    /// Solves U x = y by back substitution (U upper triangular).
    static func backward(_ u: [[Double]], _ y: [[Double]]) -> [[Double]] {
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

    static func identity(_ n: Int) -> [[Double]] {
        (0..<n).map { i in (0..<n).map { $0 == i ? 1.0 : 0.0 } }
    }
}

extension Matrix {
    var nested: [[Double]] { (0..<rows).map { row($0) } }
}

func maxRelativeDifference(_ a: [[Double]], _ b: [[Double]]) -> Double {
    let scale = max(a.joined().map(abs).max() ?? 0, b.joined().map(abs).max() ?? 0, 1e-300)
    var m = 0.0
    for (ra, rb) in zip(a, b) { for (x, y) in zip(ra, rb) { m = max(m, abs(x - y)) } }
    return m / scale
}
