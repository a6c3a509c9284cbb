import Foundation
import GaussianProcess
import LinearAlgebra

/// A textbook GP written from the definitions with plain loops (no BLAS, no LAPACK), as the reference.
enum NaiveGP {
    static func kernel(_ a: [Double], _ b: [Double], _ h: GPHyperparameters) -> Double {
        var q = 0.0
        for e in a.indices {
            let d = (a[e] - b[e]) / exp(h.logLengthScales[e])
            q += d * d
        }
        return exp(2 * h.logSignal) * exp(-0.5 * q)
    }

    static func cholesky(_ a: [[Double]]) -> [[Double]] {
        let n = a.count
        var l = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n {
            for j in 0...i {
                var s = a[i][j]
                for k in 0..<j { s -= l[i][k] * l[j][k] }
                l[i][j] = i == j ? s.squareRoot() : s / l[j][j]
            }
        }
        return l
    }

    static func solve(_ l: [[Double]], _ b: [Double]) -> [Double] {
        let n = l.count
        var y = b
        for i in 0..<n { for k in 0..<i { y[i] -= l[i][k] * y[k] }; y[i] /= l[i][i] }
        var x = y
        for i in stride(from: n - 1, through: 0, by: -1) {
            for k in (i + 1)..<n { x[i] -= l[k][i] * x[k] }
            x[i] /= l[i][i]
        }
        return x
    }

    static func covariance(_ x: [[Double]], _ h: GPHyperparameters) -> [[Double]] {
        x.indices.map { i in x.indices.map { j in kernel(x[i], x[j], h) + (i == j ? exp(2 * h.logNoise) : 0) } }
    }

    static func negativeLogLikelihood(_ x: [[Double]], _ y: [Double], _ h: GPHyperparameters) -> Double {
        let l = cholesky(covariance(x, h))
        let alpha = solve(l, y)
        var fit = 0.0, logDet = 0.0
        for i in y.indices { fit += y[i] * alpha[i]; logDet += log(l[i][i]) }
        return 0.5 * fit + logDet + 0.5 * Double(y.count) * log(2 * .pi)
    }

    /// Predictive mean and model variance at `q`.
    static func predict(_ x: [[Double]], _ y: [Double], _ h: GPHyperparameters, at q: [Double]) -> (Double, Double) {
        let l = cholesky(covariance(x, h))
        let alpha = solve(l, y)
        let k = x.map { kernel($0, q, h) }
        let v = solve(l, k)
        var mean = 0.0, reduction = 0.0
        for i in x.indices { mean += k[i] * alpha[i]; reduction += k[i] * v[i] }
        return (mean, exp(2 * h.logSignal) - reduction)
    }
}

extension Matrix {
    var nestedRows: [[Double]] { (0..<rows).map { row($0) } }
}
