import Foundation
import LinearAlgebra

/// Hyperparameters of one output's GP, all as logarithms: the squared-exponential ARD kernel
/// `k(a, b) = s² exp(−½ Σ_e (a_e − b_e)² / ℓ_e²)` plus Gaussian noise σn² (PILCO's convention).
public struct GPHyperparameters: Sendable, Equatable, Codable {
    /// log ℓ_e, one per input dimension.
    public var logLengthScales: [Double]
    /// log s (signal standard deviation).
    public var logSignal: Double
    /// log σn (noise standard deviation).
    public var logNoise: Double

    public init(logLengthScales: [Double], logSignal: Double, logNoise: Double) {
        self.logLengthScales = logLengthScales
        self.logSignal = logSignal
        self.logNoise = logNoise
    }

    /// The flat vector [log ℓ…, log s, log σn] that training optimises.
    public var vector: [Double] { logLengthScales + [logSignal, logNoise] }

    public init(vector v: [Double]) {
        precondition(v.count >= 3, "GPHyperparameters: need at least one length-scale, a signal and a noise")
        self.init(logLengthScales: Array(v.dropLast(2)), logSignal: v[v.count - 2], logNoise: v[v.count - 1])
    }

    public var lengthScales: [Double] { logLengthScales.map { exp($0) } }
    /// s².
    public var signalVariance: Double { exp(2 * logSignal) }
    /// σn².
    public var noiseVariance: Double { exp(2 * logNoise) }
}

/// The squared-exponential kernel matrix `K[i, j] = s² exp(−½ Σ_e (a_ie − b_je)² / ℓ_e²)` between the
/// rows of `a` `[n × E]` and `b` `[m × E]`, computed as |ã|² + |b̃|² − 2 ã b̃ᵀ on length-scale-scaled
/// inputs (one `dgemm`).
func seKernel(_ a: Matrix, _ b: Matrix, _ h: GPHyperparameters) -> Matrix {
    precondition(b.columns == a.columns && h.logLengthScales.count == a.columns, "seKernel: input dimensions \(a.columns), \(b.columns), \(h.logLengthScales.count)")
    let inv = h.logLengthScales.map { exp(-$0) }
    let sb = scaledColumns(b, inv)
    return seKernel(scaledColumns(a, inv), scaledB: sb, normsB: rowSquaredNorms(sb), signalVariance: h.signalVariance)
}

/// The kernel matrix from inputs already divided by the length-scales (`sa` `[n × E]`, `sb`
/// `[m × E]`) and the squared norms of `sb`'s rows: the form prediction uses, with the support set's
/// part computed once per model.
func seKernel(_ sa: Matrix, scaledB sb: Matrix, normsB nb: [Double], signalVariance s2: Double) -> Matrix {
    let na = rowSquaredNorms(sa)
    var k = sa.columns == 0 ? Matrix(rows: sa.rows, columns: sb.rows) : Matrix(uninitializedRows: sa.rows, columns: sb.rows)
    Matrix.gemm(sa, .none, sb, .transposed, alpha: -2, into: &k)
    let n = sa.rows, m = sb.rows
    k.storage.withUnsafeMutableBufferPointer { kk in
        na.withUnsafeBufferPointer { pa in
            nb.withUnsafeBufferPointer { pb in
                for i in 0..<n {
                    let ai = pa[i]
                    for j in 0..<m { kk[i * m + j] = -0.5 * max(0, kk[i * m + j] + ai + pb[j]) }
                }
                fastExpInPlace(kk)
                if s2 != 1 { for k in kk.indices { kk[k] *= s2 } }
            }
        }
    }
    return k
}

/// `a` with column e multiplied by `factors[e]`.
func scaledColumns(_ a: Matrix, _ factors: [Double]) -> Matrix {
    var out = a
    let c = a.columns
    out.storage.withUnsafeMutableBufferPointer { o in
        for i in 0..<a.rows { for e in 0..<c { o[i * c + e] *= factors[e] } }
    }
    return out
}

/// Σ_e a_ie² for each row.
func rowSquaredNorms(_ a: Matrix) -> [Double] {
    let c = a.columns
    return a.storage.withUnsafeBufferPointer { s in
        (0..<a.rows).map { i in
            var t = 0.0
            for e in 0..<c { t += s[i * c + e] * s[i * c + e] }
            return t
        }
    }
}
