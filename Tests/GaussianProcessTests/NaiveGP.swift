import Foundation
import GaussianProcess
import LinearAlgebra
import TestSupport

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

    static func cholesky(_ a: [[Double]]) -> [[Double]] { NaiveLinearAlgebra.cholesky(a)! }

    static func solve(_ l: [[Double]], _ b: [Double]) -> [Double] { NaiveLinearAlgebra.solve(cholesky: l, b) }

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
