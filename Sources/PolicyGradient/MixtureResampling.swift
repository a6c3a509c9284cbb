import Foundation
import LinearAlgebra

/// Resampling from a mixture of K Gaussians fitted by M EM iterations (resampling paper,
/// Algorithm 1), recorded on a ``ReverseTape`` so that the gradient flows back through EM.
///
/// Particles are in K equal groups; group k was sampled from component k. Given the model's
/// per-particle predictions (means m_i, variances S_i) and the components' previous weights W_k:
/// initialise each component from its group (μ_k = mean of m, Σ_k = covariance of m + mean of S),
/// run M weighted EM iterations (responsibilities ignore S; the covariance update adds S), then draw
/// P/K new particles from each component. The cost is averaged uniformly over the new particles, as
/// Algorithm 1 says.
struct MixtureResampling {
    let components: Int
    let iterations: Int
    let tape: ReverseTape
    /// Tape nodes of the inputs m [P·D], S [P·D], W_prev [K] and outputs z [P·D], W [K].
    let means: [ReverseTape.Node], variances: [ReverseTape.Node], previousWeights: [ReverseTape.Node]
    let outputs: [ReverseTape.Node], weights: [ReverseTape.Node]
    /// z as a matrix `[P × D]` and W `[K]`.
    let particles: Matrix
    let weightValues: [Double]

    init(mean m: Matrix, variance s: Matrix, previousWeights wPrev: [Double], components k: Int, iterations: Int,
         using rng: inout some RandomNumberGenerator) {
        let p = m.rows, d = m.columns
        precondition(p % k == 0 && p / k >= 2, "mixture resampling: \(p) particles do not split into \(k) groups of 2 or more")
        let n = p / k
        let t = ReverseTape(capacity: 64 * p * d * (iterations + 1))
        let mi = m.storage.map { t.input($0) }
        let si = s.storage.map { t.input($0) }
        let wp = wPrev.map { t.input($0) }
        // Per-particle weights w_i = W_prev of its group.
        let w = (0..<p).map { wp[$0 / n] }

        // Initialisation from the groups.
        var mu = [[ReverseTape.Node]](), sigma = [[ReverseTape.Node]]()   // Σ_k row-major D×D
        for c in 0..<k {
            let members = (c * n)..<((c + 1) * n)
            let mean = (0..<d).map { a in t.scale(t.sum(members.map { mi[$0 * d + a] }), 1 / Double(n)) }
            var cov = [ReverseTape.Node]()
            for a in 0..<d {
                for b in 0..<d {
                    let terms = members.map { i in t.mul(t.sub(mi[i * d + a], mean[a]), t.sub(mi[i * d + b], mean[b])) }
                    var v = t.scale(t.sum(terms), 1 / Double(n - 1))
                    if a == b { v = t.add(v, t.scale(t.sum(members.map { si[$0 * d + a] }), 1 / Double(n))) }
                    cov.append(v)
                }
            }
            mu.append(mean)
            sigma.append(cov)
        }
        var weightsK = wp

        for _ in 0..<iterations {
            // E step: log r_ik = log W_k + log N(m_i; μ_k, Σ_k), normalised over k.
            let factors = sigma.map { Self.cholesky($0, d, t) }
            var logr = [[ReverseTape.Node]](repeating: [], count: p)
            for c in 0..<k {
                let l = factors[c]
                var logDet = t.input(0)
                for a in 0..<d { logDet = t.add(logDet, t.log(l[a * d + a])) }
                let base = t.sub(t.log(weightsK[c]), logDet)
                for i in 0..<p {
                    // Solve L y = m_i − μ_k; Mahalanobis = |y|².
                    var y = [ReverseTape.Node]()
                    for a in 0..<d {
                        var r = t.sub(mi[i * d + a], mu[c][a])
                        for b in 0..<a { r = t.sub(r, t.mul(l[a * d + b], y[b])) }
                        y.append(t.div(r, l[a * d + a]))
                    }
                    let maha = t.sum(y.map { t.mul($0, $0) })
                    logr[i].append(t.sub(base, t.scale(maha, 0.5)))
                }
            }
            var resp = [[ReverseTape.Node]](repeating: [], count: p)
            for i in 0..<p {
                let top = logr[i].map { t.value($0) }.max()!
                let e = logr[i].map { t.exp(t.shift($0, -top)) }
                let total = t.sum(e)
                resp[i] = e.map { t.div($0, total) }
            }
            // M step, weighted by w_i.
            var counts = [ReverseTape.Node]()
            for c in 0..<k {
                let wr = (0..<p).map { t.mul(w[$0], resp[$0][c]) }
                let nk = t.sum(wr)
                counts.append(nk)
                let mean = (0..<d).map { a in t.div(t.sum((0..<p).map { t.mul(wr[$0], mi[$0 * d + a]) }), nk) }
                var cov = [ReverseTape.Node]()
                for a in 0..<d {
                    for b in 0..<d {
                        var terms = (0..<p).map { i in t.mul(wr[i], t.mul(t.sub(mi[i * d + a], mean[a]), t.sub(mi[i * d + b], mean[b]))) }
                        if a == b { terms += (0..<p).map { t.mul(wr[$0], si[$0 * d + a]) } }
                        cov.append(t.div(t.sum(terms), nk))
                    }
                }
                mu[c] = mean
                sigma[c] = cov
            }
            let total = t.sum(counts)
            weightsK = counts.map { t.div($0, total) }
        }

        // Resample n particles from each component: z = μ_k + L_k e.
        var out = [ReverseTape.Node]()
        var values = Matrix(rows: p, columns: d)
        for c in 0..<k {
            let l = Self.cholesky(sigma[c], d, t)
            for i in (c * n)..<((c + 1) * n) {
                let e = (0..<d).map { _ in rng.nextGaussian() }
                for a in 0..<d {
                    var z = mu[c][a]
                    for b in 0...a { z = t.add(z, t.scale(l[a * d + b], e[b])) }
                    out.append(z)
                    values[i, a] = t.value(z)
                }
            }
        }
        self.components = k
        self.iterations = iterations
        self.tape = t
        self.means = mi
        self.variances = si
        self.previousWeights = wp
        self.outputs = out
        self.weights = weightsK
        self.particles = values
        self.weightValues = weightsK.map { t.value($0) }
    }

    /// Lower Cholesky factor (row-major D×D nodes, zeros above) of a D×D matrix on the tape, with a
    /// tiny relative jitter so a collapsed component stays defined.
    static func cholesky(_ a: [ReverseTape.Node], _ d: Int, _ t: ReverseTape) -> [ReverseTape.Node] {
        let zero = t.input(0)
        var l = [ReverseTape.Node](repeating: zero, count: d * d)
        var scale = 0.0
        for i in 0..<d { scale += t.value(a[i * d + i]) }
        let jitter = 1e-10 * max(scale / Double(d), 1e-300)
        for i in 0..<d {
            for j in 0...i {
                var s = a[i * d + j]
                for k in 0..<j { s = t.sub(s, t.mul(l[i * d + k], l[j * d + k])) }
                if i == j {
                    l[i * d + i] = t.sqrt(t.shift(s, jitter))
                } else {
                    l[i * d + j] = t.div(s, l[j * d + j])
                }
            }
        }
        return l
    }

    /// Given ∂G/∂z `[P × D]` and ∂G/∂W `[K]`, returns ∂G/∂m `[P × D]`, ∂G/∂S `[P × D]` and ∂G/∂W_prev `[K]`.
    func backward(particleGradient gz: Matrix, weightGradient gw: [Double]) -> (mean: Matrix, variance: Matrix, previousWeights: [Double]) {
        var seeds = [(ReverseTape.Node, Double)]()
        for (i, node) in outputs.enumerated() where gz.storage[i] != 0 { seeds.append((node, gz.storage[i])) }
        for (c, node) in weights.enumerated() where gw[c] != 0 { seeds.append((node, gw[c])) }
        let adjoint = tape.gradient(seeds: seeds)
        let p = gz.rows, d = gz.columns
        let gm = Matrix(rows: p, columns: d, storage: means.map { adjoint[Int($0.index)] })
        let gs = Matrix(rows: p, columns: d, storage: variances.map { adjoint[Int($0.index)] })
        return (gm, gs, previousWeights.map { adjoint[Int($0.index)] })
    }
}
