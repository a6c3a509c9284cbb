import Foundation
import LinearAlgebra

/// Outputs of the form `f_a(x) = Σ_i β_ai k_a(x, z_i)` with squared-exponential kernels
/// `k_a(x, z) = s_a² exp(−½ (x − z)ᵀ Λ_a⁻¹ (x − z))`, Λ_a = diag(ℓ_a²), on a shared support Z —
/// optionally with a GP's model variance `σ²_a(x) = s_a² − k_a(x, Z) Q_a k_a(Z, x)` and noise σ²_n,a.
///
/// This is both PILCO pieces at once: the GP dynamics model (support, β and Q from
/// ``GaussianProcess/GaussianProcessModel``'s predictive form; exact or FITC) and the RBF policy
/// (s² = 1, one Λ for every output, β = the weights, no variance). Exact moments for x ~ N(μ, Σ)
/// (PILCO's `gp0`/`gp2`, Deisenroth 2010), with ν_i = z_i − μ:
///
/// - `E[k_a(x, z_i)] = q_ai = s_a² |ΣΛ_a⁻¹ + I|^{-½} exp(−½ ν_iᵀ(Σ + Λ_a)⁻¹ν_i)`, M_a = β_aᵀ q_a;
/// - `E[∂f_a/∂x] = (Σ + Λ_a)⁻¹ Σ_i β_ai q_ai ν_i` (the expected Jacobian);
/// - `E[k_a(x, z_i) k_b(x, z_j)] = Q^{ab}_ij = k_a(z_i, μ) k_b(z_j, μ) |R|^{-½} exp(½ y_ijᵀ G y_ij)` with
///   y_ij = Λ_a⁻¹ν_i + Λ_b⁻¹ν_j, D = Λ_a⁻¹ + Λ_b⁻¹, R = ΣD + I and G = (D + Σ⁻¹)⁻¹ = Σ − Σ(Σ + D⁻¹)⁻¹Σ
///   (the second form needs no Σ⁻¹, so a singular Σ is fine);
/// - `V_ab = β_aᵀ Q^{ab} β_b − M_a M_b`, plus `s_a² − tr(Q_a Q^{aa}) + σ²_n,a` on the diagonal for a GP.
///
/// The backward pass is hand-derived reverse mode through exactly these expressions (see the
/// comments in ``backward(meanAdjoint:covarianceAdjoint:jacobianAdjoint:)``). Why by hand and not
/// the toolchain's `_Differentiation`: the work is in a few matrix products and M² exponentials per
/// output pair, whose adjoints are one or two more products each; a hand-written backward keeps
/// those as BLAS calls, recomputes the M×M matrices Q^{ab} instead of storing them (T × pairs × M²
/// would not fit for the unicycle), and is checked against finite differences in the tests.
final class KernelExpansionPiece: MomentPiece {
    struct Output {
        var logLengthScales: [Double]   // log ℓ_a [E]
        var signalVariance: Double      // s_a²
        var weights: [Double]           // β_a [M]
        var varianceMatrix: Matrix?     // Q_a [M × M], GP only
        var noiseVariance: Double       // σ²_n,a, GP only
    }

    let support: Matrix                 // Z [M × E]
    let outputs: [Output]
    let parallel: Bool

    /// Adjoints of the parameters, accumulated by ``backward``: Z̄, log ℓ̄_a, β̄_a.
    private(set) var supportAdjoint: Matrix
    private(set) var logLengthScaleAdjoints: [[Double]]
    private(set) var weightAdjoints: [[Double]]

    // Forward caches.
    private var input = Gaussian(mean: [], covariance: Matrix(rows: 0, columns: 0))
    private var nu = Matrix(rows: 0, columns: 0)
    private var single: [SingleTerms] = []
    private var outputMean: [Double] = []

    private struct SingleTerms {
        var bInverse: Matrix            // (Σ + Λ_a)⁻¹
        var t: Matrix                   // ν (Σ + Λ_a)⁻¹ [M × E]
        var q: [Double]                 // q_a [M]
    }

    init(support: Matrix, outputs: [Output], parallel: Bool = true) {
        precondition(outputs.allSatisfy { $0.logLengthScales.count == support.columns && $0.weights.count == support.rows },
                     "KernelExpansionPiece: parameter sizes do not match the support \(support.rows)×\(support.columns)")
        self.support = support
        self.outputs = outputs
        self.parallel = parallel
        supportAdjoint = Matrix(rows: support.rows, columns: support.columns)
        logLengthScaleAdjoints = outputs.map { [Double](repeating: 0, count: $0.logLengthScales.count) }
        weightAdjoints = outputs.map { [Double](repeating: 0, count: $0.weights.count) }
    }

    private var pairs: [(Int, Int)] {
        var p: [(Int, Int)] = []
        for a in 0..<outputs.count { for b in a..<outputs.count { p.append((a, b)) } }
        return p
    }

    func forward(_ x: Gaussian) throws -> MomentOutput {
        input = x
        let m = support.rows, e = support.columns, k = outputs.count
        precondition(x.dimension == e, "KernelExpansionPiece: input has \(x.dimension) dimensions, expected \(e)")
        nu = support
        for i in 0..<m { for c in 0..<e { nu.storage[i * e + c] -= x.mean[c] } }
        single = try outputs.map { out in try Self.singleTerms(out, x.covariance, nu) }
        outputMean = (0..<k).map { a in zip(outputs[a].weights, single[a].q).reduce(0) { $0 + $1.0 * $1.1 } }
        var jac = Matrix(rows: k, columns: e)
        for a in 0..<k {
            // (Σ + Λ)⁻¹ Σ_i β_i q_i ν_i = T_aᵀ (β ∘ q)
            let bq = zip(outputs[a].weights, single[a].q).map { $0 * $1 }
            let row = single[a].t.multiplied(by: bq, .transposed)
            for c in 0..<e { jac.storage[a * e + c] = row[c] }
        }
        let pairList = pairs
        let nuCopy = nu, cov = x.covariance, outs = outputs
        let values = try parallelMap(pairList.count, parallel: parallel) { p -> Result<Double, any Error> in Result {
            let (a, b) = pairList[p]
            let pair = try PairTerms(outputs: outs, a: a, b: b, covariance: cov, nu: nuCopy)
            var value = pair.q.multiplied(by: outs[b].weights).enumerated().reduce(0) { $0 + outs[a].weights[$1.offset] * $1.element }
            if a == b, let qa = outs[a].varianceMatrix {
                var trace = 0.0
                for i in qa.storage.indices { trace += qa.storage[i] * pair.q.storage[i] }
                value += outs[a].signalVariance - trace + outs[a].noiseVariance
            }
            return value
        } }.map { try $0.get() }
        var v = Matrix(rows: k, columns: k)
        for (p, (a, b)) in pairList.enumerated() {
            let value = values[p] - outputMean[a] * outputMean[b]
            v.storage[a * k + b] = value
            v.storage[b * k + a] = value
        }
        return MomentOutput(mean: outputMean, covariance: v, expectedJacobian: jac)
    }

    private static func singleTerms(_ out: Output, _ sigma: Matrix, _ nu: Matrix) throws -> SingleTerms {
        let m = nu.rows, e = nu.columns
        var b = sigma
        let l2 = out.logLengthScales.map { exp(2 * $0) }
        for c in 0..<e { b.storage[c * e + c] += l2[c] }
        // Σ + Λ is positive definite whenever Σ is positive semi-definite (Λ > 0).
        let chol = try Cholesky(b, jitter: .standard)
        let bInverse = try chol.inverse()
        let t = nu * bInverse
        let logC = log(out.signalVariance) + out.logLengthScales.reduce(0, +) - 0.5 * chol.logDeterminant
        var q = [Double](repeating: 0, count: m)
        for i in 0..<m {
            var quad = 0.0
            for c in 0..<e { quad += nu.storage[i * e + c] * t.storage[i * e + c] }
            q[i] = exp(logC - 0.5 * quad)
        }
        return SingleTerms(bInverse: bInverse, t: t, q: q)
    }

    /// Q^{ab} and what its backward pass needs.
    private struct PairTerms {
        var q: Matrix                   // Q^{ab} [M × M]
        var g: Matrix                   // G [E × E]
        var pInverse: Matrix            // (Σ + D⁻¹)⁻¹
        var d: [Double]                 // diag D
        var inverseA: [Double], inverseB: [Double]   // diag Λ_a⁻¹, Λ_b⁻¹
        var ya: Matrix, yb: Matrix      // ν Λ_a⁻¹, ν Λ_b⁻¹

        init(outputs: [Output], a: Int, b: Int, covariance sigma: Matrix, nu: Matrix) throws {
            let m = nu.rows, e = nu.columns
            inverseA = outputs[a].logLengthScales.map { exp(-2 * $0) }
            inverseB = outputs[b].logLengthScales.map { exp(-2 * $0) }
            d = zip(inverseA, inverseB).map { $0 + $1 }
            var p = sigma
            for c in 0..<e { p.storage[c * e + c] += 1 / d[c] }
            let chol = try Cholesky(p, jitter: .standard)
            pInverse = try chol.inverse()
            g = sigma - sigma * pInverse * sigma
            g.symmetrize()
            let logR = -0.5 * (chol.logDeterminant + d.reduce(0) { $0 + log($1) })
            ya = nu
            yb = nu
            for i in 0..<m {
                for c in 0..<e {
                    ya.storage[i * e + c] *= inverseA[c]
                    yb.storage[i * e + c] *= inverseB[c]
                }
            }
            let yaG = ya * g, ybG = yb * g
            func logK(_ inv: [Double], _ y: Matrix, _ yG: Matrix, _ s2: Double) -> [Double] {
                (0..<m).map { i in
                    var quad = 0.0, gq = 0.0
                    for c in 0..<e {
                        quad += inv[c] * nu.storage[i * e + c] * nu.storage[i * e + c]
                        gq += y.storage[i * e + c] * yG.storage[i * e + c]
                    }
                    return log(s2) - 0.5 * quad + 0.5 * gq
                }
            }
            let la = logK(inverseA, ya, yaG, outputs[a].signalVariance)
            let lb = logK(inverseB, yb, ybG, outputs[b].signalVariance)
            q = yaG.multiplied(by: yb, .none, .transposed)    // Y_a G Y_bᵀ
            q.storage.withUnsafeMutableBufferPointer { qq in
                for i in 0..<m { for j in 0..<m { qq[i * m + j] += la[i] + lb[j] + logR } }
                fastExpInPlace(qq)
            }
        }
    }

    /// Adjoints of one pair's contribution `w β_aᵀ Q^{ab} β_b` (plus `−v̄ tr(Q_a Q^{aa})` for a GP's
    /// diagonal): ν̄, Σ̄, adjoints of diag Λ_a⁻¹ and Λ_b⁻¹, β̄_a, β̄_b.
    private struct PairAdjoints {
        var nu: Matrix, sigma: Matrix
        var inverseA: [Double], inverseB: [Double]
        var weightsA: [Double], weightsB: [Double]
    }

    private static func pairBackward(outputs: [Output], a: Int, b: Int, weight w: Double, varianceAdjoint: Double,
                                     covariance sigma: Matrix, nu: Matrix) -> PairAdjoints {
        let m = nu.rows, e = nu.columns
        // The forward pass built the same terms from the same input, so this cannot fail.
        let pt = try! PairTerms(outputs: outputs, a: a, b: b, covariance: sigma, nu: nu)
        let ba = outputs[a].weights, bb = outputs[b].weights
        // β̄_a = w Q β_b, β̄_b = w Qᵀ β_a; Q̄ = w β_a β_bᵀ (− v̄ Q_a); W = Q̄ ∘ Q (adjoint of log Q).
        let weightsA = pt.q.multiplied(by: bb).map { $0 * w }
        let weightsB = pt.q.multiplied(by: ba, .transposed).map { $0 * w }
        var wm = Matrix(uninitializedRows: m, columns: m)
        let qa = a == b ? outputs[a].varianceMatrix : nil
        for i in 0..<m {
            for j in 0..<m {
                var qBar = w * ba[i] * bb[j]
                if let qa { qBar -= varianceAdjoint * qa.storage[i * m + j] }
                wm.storage[i * m + j] = qBar * pt.q.storage[i * m + j]
            }
        }
        // log Q_ij = l_a,i + l_b,j + (Y_a G Y_bᵀ)_ij + log|R|^{-½}.
        var laBar = [Double](repeating: 0, count: m), lbBar = [Double](repeating: 0, count: m)
        var total = 0.0
        for i in 0..<m {
            for j in 0..<m {
                let v = wm.storage[i * m + j]
                laBar[i] += v
                lbBar[j] += v
                total += v
            }
        }
        let yaG = pt.ya * pt.g, ybG = pt.yb * pt.g
        let wYb = wm * pt.yb                                         // [M × E]
        var yaBar = wYb * pt.g                                       // W Y_b G
        var ybBar = wm.multiplied(by: yaG, .transposed, .none)       // Wᵀ Y_a G
        var gBar = pt.ya.multiplied(by: wYb, .transposed, .none)     // Y_aᵀ W Y_b
        var nuBar = Matrix(rows: m, columns: e)
        var invABar = [Double](repeating: 0, count: e), invBBar = [Double](repeating: 0, count: e)
        // l_i = log s² − ½ Σ_c λ⁻¹_c ν_ic² + ½ y_iᵀ G y_i, y_i = Λ⁻¹ ν_i.
        func logKBackward(_ lBar: [Double], _ inv: [Double], _ y: Matrix, _ yG: Matrix, _ yBar: inout Matrix, _ invBar: inout [Double]) {
            for i in 0..<m {
                let l = lBar[i]
                guard l != 0 else { continue }
                for c in 0..<e {
                    let nv = nu.storage[i * e + c]
                    yBar.storage[i * e + c] += l * yG.storage[i * e + c]
                    nuBar.storage[i * e + c] -= l * inv[c] * nv
                    invBar[c] -= 0.5 * l * nv * nv
                    for c2 in 0..<e { gBar.storage[c * e + c2] += 0.5 * l * y.storage[i * e + c] * y.storage[i * e + c2] }
                }
            }
        }
        logKBackward(laBar, pt.inverseA, pt.ya, yaG, &yaBar, &invABar)
        logKBackward(lbBar, pt.inverseB, pt.yb, ybG, &ybBar, &invBBar)
        // y = ν Λ⁻¹.
        for i in 0..<m {
            for c in 0..<e {
                let nv = nu.storage[i * e + c]
                nuBar.storage[i * e + c] += yaBar.storage[i * e + c] * pt.inverseA[c] + ybBar.storage[i * e + c] * pt.inverseB[c]
                invABar[c] += yaBar.storage[i * e + c] * nv
                invBBar[c] += ybBar.storage[i * e + c] * nv
            }
        }
        // G = (D + Σ⁻¹)⁻¹: dG = −G dD G + (I − GD) dΣ (I − DG).
        gBar.symmetrize()
        var sigmaBar = Matrix(rows: e, columns: e)
        var dBar = [Double](repeating: 0, count: e)
        var left = Matrix.identity(e)                                // I − DG
        for r in 0..<e { for c in 0..<e { left.storage[r * e + c] -= pt.d[r] * pt.g.storage[r * e + c] } }
        sigmaBar.add(left * gBar.multiplied(by: left, .none, .transposed))
        let gGg = pt.g * gBar * pt.g
        for c in 0..<e { dBar[c] -= gGg.storage[c * e + c] }
        // log|R|^{-½} = −½ log det(Σ + D⁻¹) − ½ Σ log d.
        sigmaBar.add(pt.pInverse, scaledBy: -0.5 * total)
        for c in 0..<e { dBar[c] += 0.5 * total * pt.pInverse.storage[c * e + c] / (pt.d[c] * pt.d[c]) - 0.5 * total / pt.d[c] }
        for c in 0..<e {
            invABar[c] += dBar[c]
            invBBar[c] += dBar[c]
        }
        sigmaBar.symmetrize()
        return PairAdjoints(nu: nuBar, sigma: sigmaBar, inverseA: invABar, inverseB: invBBar, weightsA: weightsA, weightsB: weightsB)
    }

    func backward(meanAdjoint: [Double], covarianceAdjoint vBar: Matrix, jacobianAdjoint cBar: Matrix) -> (mean: [Double], covariance: Matrix) {
        let x = input, m = support.rows, e = support.columns, k = outputs.count
        var nuBar = Matrix(rows: m, columns: e)
        var sigmaBar = Matrix(rows: e, columns: e)
        var logLBar = [[Double]](repeating: [Double](repeating: 0, count: e), count: k)
        var betaBar = outputs.map { [Double](repeating: 0, count: $0.weights.count) }
        // V_ab = E_ab − M_a M_b:  M̄ −= 2 V̄ M.
        var mBar = meanAdjoint
        for a in 0..<k { for b in 0..<k { mBar[a] -= 2 * vBar.storage[a * k + b] * outputMean[b] } }
        // Pairs (a ≤ b): E_ab appears at (a, b) and (b, a).
        let pairList = pairs
        let outs = outputs, cov = x.covariance, nuCopy = nu
        let adjoints = parallelMap(pairList.count, parallel: parallel) { p -> PairAdjoints in
            let (a, b) = pairList[p]
            let w = a == b ? vBar.storage[a * k + a] : 2 * vBar.storage[a * k + b]
            return Self.pairBackward(outputs: outs, a: a, b: b, weight: w, varianceAdjoint: vBar.storage[a * k + a], covariance: cov, nu: nuCopy)
        }
        for (p, (a, b)) in pairList.enumerated() {
            let adj = adjoints[p]
            nuBar.add(adj.nu)
            sigmaBar.add(adj.sigma)
            for c in 0..<e {
                // diag Λ⁻¹ = exp(−2 log ℓ).
                logLBar[a][c] += adj.inverseA[c] * -2 * exp(-2 * outputs[a].logLengthScales[c])
                logLBar[b][c] += adj.inverseB[c] * -2 * exp(-2 * outputs[b].logLengthScales[c])
            }
            for i in 0..<m {
                betaBar[a][i] += adj.weightsA[i]
                betaBar[b][i] += adj.weightsB[i]
            }
        }
        // Single terms: M_a = β_aᵀ q_a, C_a = T_aᵀ (β_a ∘ q_a), q_ai = c_a exp(−½ ν_iᵀ B_a⁻¹ ν_i).
        for a in 0..<k {
            let s = single[a], beta = outputs[a].weights
            let tc = s.t.multiplied(by: (0..<e).map { cBar.storage[a * e + $0] })   // T_a C̄_a [M]
            var r = [Double](repeating: 0, count: m)                                  // adjoint of log q_i
            var tBar = Matrix(rows: m, columns: e)
            for i in 0..<m {
                let qBar = beta[i] * (mBar[a] + tc[i])
                betaBar[a][i] += s.q[i] * (mBar[a] + tc[i])
                r[i] = qBar * s.q[i]
                for c in 0..<e { tBar.storage[i * e + c] = beta[i] * s.q[i] * cBar.storage[a * e + c] }
            }
            let logCBar = r.reduce(0, +)
            // −½ ν_iᵀ B⁻¹ ν_i: ν̄_i −= r_i T_i, (B⁻¹)̄ −= ½ Σ r_i ν_i ν_iᵀ; T = ν B⁻¹: ν̄ += T̄ B⁻¹, (B⁻¹)̄ += νᵀ T̄.
            var binvBar = nu.multiplied(by: tBar, .transposed, .none)
            for i in 0..<m {
                for c in 0..<e {
                    nuBar.storage[i * e + c] -= r[i] * s.t.storage[i * e + c]
                    for c2 in 0..<e { binvBar.storage[c * e + c2] -= 0.5 * r[i] * nu.storage[i * e + c] * nu.storage[i * e + c2] }
                }
            }
            nuBar.add(tBar * s.bInverse)
            // B = Σ + Λ_a: B̄ = −B⁻¹ (B⁻¹)̄ B⁻¹ − ½ c̄ B⁻¹ (from log c_a = log s² + Σ log ℓ − ½ log det B).
            var bBar = s.bInverse * binvBar * s.bInverse
            bBar.scale(by: -1)
            bBar.add(s.bInverse, scaledBy: -0.5 * logCBar)
            bBar.symmetrize()
            sigmaBar.add(bBar)
            for c in 0..<e {
                let l2 = exp(2 * outputs[a].logLengthScales[c])
                logLBar[a][c] += logCBar + bBar.storage[c * e + c] * 2 * l2
            }
        }
        // ν = Z − μ.
        var meanBar = [Double](repeating: 0, count: e)
        for i in 0..<m { for c in 0..<e { meanBar[c] -= nuBar.storage[i * e + c] } }
        supportAdjoint.add(nuBar)
        for a in 0..<k {
            for c in 0..<e { logLengthScaleAdjoints[a][c] += logLBar[a][c] }
            for i in 0..<m { weightAdjoints[a][i] += betaBar[a][i] }
        }
        sigmaBar.symmetrize()
        return (meanBar, sigmaBar)
    }
}
