import Foundation
import LinearAlgebra

/// A batched GP prediction at P query points for D outputs with E inputs.
public struct GPPrediction: Sendable {
    /// Predictive means `[P × D]`.
    public var mean: Matrix
    /// Model (epistemic) variances σf² `[P × D]`.
    public var modelVariance: Matrix
    /// Noise variances σn² `[D]` (the same at every point).
    public var noiseVariance: [Double]
    /// ∂mean/∂x `[P × (D·E)]`: row p holds the D×E Jacobian at point p, row-major. On request only.
    public var meanJacobian: Matrix?
    /// ∂σf²/∂x `[P × (D·E)]`, same layout. On request only.
    public var modelVarianceJacobian: Matrix?

    /// Standard deviations `sqrt(modelScale·σf² + noiseScale·σn²)` `[P × D]` and, when the variance
    /// Jacobian is there, their Jacobian `[P × (D·E)]`: the noise of a sampled prediction
    /// y = mean + sd·ε (PIPPS §2.4.1; `modelScale` 0 gives TP−σf, `noiseScale` 100 TP+σn).
    public func standardDeviation(modelScale: Double = 1, noiseScale: Double = 1) -> (sd: Matrix, jacobian: Matrix?) {
        let p = mean.rows, d = mean.columns
        var sd = Matrix(rows: p, columns: d)
        for i in 0..<p {
            for a in 0..<d {
                sd.storage[i * d + a] = (modelScale * modelVariance.storage[i * d + a] + noiseScale * noiseVariance[a]).squareRoot()
            }
        }
        guard let vj = modelVarianceJacobian else { return (sd, nil) }
        let e = vj.columns / max(d, 1)
        var j = Matrix(rows: p, columns: d * e)
        for i in 0..<p {
            for a in 0..<d {
                let s = sd.storage[i * d + a]
                let f = s > 0 ? modelScale / (2 * s) : 0
                for c in 0..<e { j.storage[i * d * e + a * e + c] = f * vj.storage[i * d * e + a * e + c] }
            }
        }
        return (sd, j)
    }
}

extension GaussianProcessModel {
    /// Predicts all outputs at the rows of `x` `[P × E]`.
    ///
    /// Per output: the kernel `K* = k(x, Z)` `[P × M]` (one `dgemm` for the distances, P·M `exp`s),
    /// `mean = K* β`, `B = K* Q` (one `dgemm`, 2·P·M² flops: the dominant cost), and
    /// `σf² = s² − rowsum(B ∘ K*)` (the row sums by BLAS, together with `(B ∘ K*) Z` when derivatives
    /// are wanted). With `derivatives`, since ∂k_pm/∂x_pe = k_pm (z_me − x_pe)/ℓ_e²:
    /// `∂mean/∂x_pe = ((K* diag β) Z − x_p mean_p)_e / ℓ_e²` and
    /// `∂σf²/∂x_pe = −2 ((B ∘ K*) Z − x_p rowsum(B ∘ K*)_p)_e / ℓ_e²`: two more small `dgemm`s.
    public func predict(_ x: Matrix, derivatives: Bool = false) -> GPPrediction {
        let p = x.rows, e = inputDimension, d = outputDimension, m = support.rows
        precondition(x.columns == e, "GaussianProcessModel.predict: queries have \(x.columns) columns, expected \(e)")
        let perOutput = parallelMap(d, parallel: parallel) { a -> (mean: [Double], variance: [Double], dMean: Matrix?, dVariance: Matrix?) in
            let h = hyperparameters[a]
            let inverseScales = h.logLengthScales.map { exp(-$0) }
            let ks = seKernel(scaledColumns(x, inverseScales), scaledB: scaledSupport[a], normsB: scaledSupportNorms[a], signalVariance: h.signalVariance)
            let mean = ks.multiplied(by: beta[a])
            // C = (K* Q) ∘ K*, computed in place.
            var c = Matrix(uninitializedRows: p, columns: m)
            Matrix.gemm(ks, .none, q[a], .none, into: &c)
            c.storage.withUnsafeMutableBufferPointer { cc in
                ks.storage.withUnsafeBufferPointer { kk in
                    for k in cc.indices { cc[k] *= kk[k] }
                }
            }
            let s2 = h.signalVariance
            guard derivatives else {
                let variance = c.multiplied(by: supportOnes).map { max(s2 - $0, 0) }
                return (mean, variance, nil, nil)
            }
            // [C Z | C 1] in one product: the variance's Jacobian term and the row sums of C.
            let cz = c * supportWithOnes                          // [P × (E + 1)]
            let variance = (0..<p).map { max(s2 - cz.storage[$0 * (e + 1) + e], 0) }
            let invSq = inverseScales.map { $0 * $0 }
            var dMean = ks * betaSupport[a]    // [P × E]
            var dVar = Matrix(uninitializedRows: p, columns: e)
            for i in 0..<p {
                let rowSum = cz.storage[i * (e + 1) + e]
                for k in 0..<e {
                    let xi = x.storage[i * e + k]
                    dMean.storage[i * e + k] = (dMean.storage[i * e + k] - xi * mean[i]) * invSq[k]
                    // Where the variance was clamped at 0 its gradient is 0.
                    dVar.storage[i * e + k] = variance[i] > 0 ? -2 * (cz.storage[i * (e + 1) + k] - xi * rowSum) * invSq[k] : 0
                }
            }
            return (mean, variance, dMean, dVar)
        }
        var mean = Matrix(rows: p, columns: d), variance = Matrix(rows: p, columns: d)
        var dMean: Matrix? = derivatives ? Matrix(rows: p, columns: d * e) : nil
        var dVar: Matrix? = derivatives ? Matrix(rows: p, columns: d * e) : nil
        for a in 0..<d {
            let r = perOutput[a]
            for i in 0..<p {
                mean.storage[i * d + a] = r.mean[i]
                variance.storage[i * d + a] = r.variance[i]
            }
            if let dm = r.dMean, let dv = r.dVariance {
                for i in 0..<p {
                    for k in 0..<e {
                        dMean!.storage[i * d * e + a * e + k] = dm.storage[i * e + k]
                        dVar!.storage[i * d * e + a * e + k] = dv.storage[i * e + k]
                    }
                }
            }
        }
        return GPPrediction(mean: mean, modelVariance: variance, noiseVariance: hyperparameters.map(\.noiseVariance),
                            meanJacobian: dMean, modelVarianceJacobian: dVar)
    }
}
