import LinearAlgebra
import TestSupport

/// Textbook O(n³) implementations with no BLAS or LAPACK, written from the definitions, as the
/// reference the fast paths are checked against.
enum Naive {
    static func multiply(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        let m = a.count, k = b.count, n = b.first?.count ?? 0
        var c = [[Double]](repeating: [Double](repeating: 0, count: n), count: m)
        for i in 0..<m { for j in 0..<n { var s = 0.0; for p in 0..<k { s += a[i][p] * b[p][j] }; c[i][j] = s } }
        return c
    }

    static func transpose(_ a: [[Double]]) -> [[Double]] { NaiveLinearAlgebra.transpose(a) }
    static func cholesky(_ a: [[Double]]) -> [[Double]]? { NaiveLinearAlgebra.cholesky(a) }
    static func forward(_ l: [[Double]], _ b: [[Double]]) -> [[Double]] { NaiveLinearAlgebra.forward(l, b) }
    static func backward(_ u: [[Double]], _ y: [[Double]]) -> [[Double]] { NaiveLinearAlgebra.backward(u, y) }

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
