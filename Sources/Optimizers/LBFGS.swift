import Foundation

/// Limited-memory BFGS with a strong-Wolfe line search (Nocedal & Wright, *Numerical Optimization*,
/// Algorithms 7.4, 3.5 and 3.6), for smooth deterministic objectives: GP hyperparameters, fixed-seed
/// policy objectives, PILCO's moment-matching objective.
///
/// The objective returns `(f, ∇f)`; a non-finite value is treated as "too far": the line search
/// shrinks the step, so an objective may return `.infinity` where it is undefined (a Cholesky that
/// failed) and the optimiser backs off instead of failing.
public struct LBFGS: Sendable {
    /// Number of correction pairs kept.
    public var memory: Int
    /// Maximum iterations (each one line search).
    public var maxIterations: Int
    /// Maximum objective evaluations in total.
    public var maxEvaluations: Int
    /// Stop when ‖∇f‖∞ ≤ this.
    public var gradientTolerance: Double
    /// Stop when the relative decrease of f over an iteration is below this.
    public var relativeTolerance: Double
    /// Wolfe constants: sufficient decrease c1, curvature c2.
    public var c1 = 1e-4, c2 = 0.9

    public init(memory: Int = 10, maxIterations: Int = 200, maxEvaluations: Int = 500, gradientTolerance: Double = 1e-6, relativeTolerance: Double = 1e-10) {
        precondition(memory >= 1 && maxIterations >= 1 && maxEvaluations >= 1, "LBFGS: invalid settings")
        self.memory = memory
        self.maxIterations = maxIterations
        self.maxEvaluations = maxEvaluations
        self.gradientTolerance = gradientTolerance
        self.relativeTolerance = relativeTolerance
    }

    /// Why the optimiser stopped.
    public enum Stop: String, Sendable {
        case gradientTolerance, relativeTolerance, maxIterations, maxEvaluations, lineSearchFailed, nonFiniteStart
    }

    public struct Result: Sendable {
        public var x: [Double]
        public var value: Double
        public var gradient: [Double]
        public var iterations: Int
        public var evaluations: Int
        public var stop: Stop
    }

    /// Minimises `objective` from `x0`.
    public func minimize(_ x0: [Double], _ objective: ([Double]) -> (value: Double, gradient: [Double])) -> Result {
        var evaluations = 0
        func evaluate(_ x: [Double]) -> (Double, [Double]) {
            evaluations += 1
            let (f, g) = objective(x)
            if !f.isFinite || !g.allSatisfy(\.isFinite) { return (.infinity, g.map { $0.isFinite ? $0 : 0 }) }
            return (f, g)
        }
        var x = x0
        var (f, g) = evaluate(x)
        guard f.isFinite else { return Result(x: x, value: f, gradient: g, iterations: 0, evaluations: evaluations, stop: .nonFiniteStart) }
        var s: [[Double]] = [], y: [[Double]] = [], rho: [Double] = []
        var iteration = 0
        while true {
            if g.map(abs).max() ?? 0 <= gradientTolerance { return Result(x: x, value: f, gradient: g, iterations: iteration, evaluations: evaluations, stop: .gradientTolerance) }
            if iteration >= maxIterations { return Result(x: x, value: f, gradient: g, iterations: iteration, evaluations: evaluations, stop: .maxIterations) }
            if evaluations >= maxEvaluations { return Result(x: x, value: f, gradient: g, iterations: iteration, evaluations: evaluations, stop: .maxEvaluations) }
            iteration += 1

            // Two-loop recursion: d = −H g.
            var q = g
            var alpha = [Double](repeating: 0, count: s.count)
            for i in stride(from: s.count - 1, through: 0, by: -1) {
                alpha[i] = rho[i] * dot(s[i], q)
                axpy(-alpha[i], y[i], &q)
            }
            if let sl = s.last, let yl = y.last {
                let gamma = dot(sl, yl) / dot(yl, yl)
                for i in q.indices { q[i] *= gamma }
            } else {
                let norm = dot(g, g).squareRoot()
                for i in q.indices { q[i] /= max(norm, 1) }
            }
            for i in 0..<s.count {
                let beta = rho[i] * dot(y[i], q)
                axpy(alpha[i] - beta, s[i], &q)
            }
            var d = q.map { -$0 }
            var slope = dot(g, d)
            if slope >= 0 {  // not a descent direction: restart from steepest descent
                s.removeAll(); y.removeAll(); rho.removeAll()
                d = g.map { -$0 / max(dot(g, g).squareRoot(), 1) }
                slope = dot(g, d)
            }

            guard let (step, fNew, gNew) = lineSearch(x: x, f: f, g: g, d: d, slope: slope, evaluate: evaluate, evaluations: { evaluations }) else {
                return Result(x: x, value: f, gradient: g, iterations: iteration, evaluations: evaluations, stop: .lineSearchFailed)
            }
            let xNew = zip(x, d).map { $0 + step * $1 }
            let sk = zip(xNew, x).map { $0 - $1 }
            let yk = zip(gNew, g).map { $0 - $1 }
            let sy = dot(sk, yk)
            if sy > 1e-12 * dot(yk, yk).squareRoot() * dot(sk, sk).squareRoot() {
                s.append(sk); y.append(yk); rho.append(1 / sy)
                if s.count > memory { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
            }
            let decrease = f - fNew
            x = xNew; f = fNew; g = gNew
            if decrease <= relativeTolerance * max(abs(f), 1) {
                return Result(x: x, value: f, gradient: g, iterations: iteration, evaluations: evaluations, stop: .relativeTolerance)
            }
        }
    }

    /// Strong-Wolfe line search along `d`; returns the step and the objective there, or `nil`.
    private func lineSearch(
        x: [Double], f: Double, g: [Double], d: [Double], slope: Double,
        evaluate: ([Double]) -> (Double, [Double]), evaluations: () -> Int
    ) -> (Double, Double, [Double])? {
        func phi(_ a: Double) -> (Double, Double, [Double]) {
            let (fa, ga) = evaluate(zip(x, d).map { $0 + a * $1 })
            return (fa, dot(ga, d), ga)
        }
        var aPrev = 0.0, fPrev = f, dPrev = slope
        var a = 1.0
        for i in 0..<30 {
            if evaluations() >= maxEvaluations { return nil }
            let (fa, da, ga) = phi(a)
            if !fa.isFinite {
                a = aPrev + (a - aPrev) * 0.1
                continue
            }
            if fa > f + c1 * a * slope || (i > 0 && fa >= fPrev) {
                return zoom(lo: aPrev, flo: fPrev, dlo: dPrev, hi: a, fhi: fa, dhi: da, f: f, slope: slope, phi: phi, evaluations: evaluations)
            }
            if abs(da) <= -c2 * slope { return (a, fa, ga) }
            if da >= 0 {
                return zoom(lo: a, flo: fa, dlo: da, hi: aPrev, fhi: fPrev, dhi: dPrev, f: f, slope: slope, phi: phi, evaluations: evaluations)
            }
            aPrev = a; fPrev = fa; dPrev = da
            a *= 2
        }
        return nil
    }

    private func zoom(
        lo: Double, flo: Double, dlo: Double, hi: Double, fhi: Double, dhi: Double, f: Double, slope: Double,
        phi: (Double) -> (Double, Double, [Double]), evaluations: () -> Int
    ) -> (Double, Double, [Double])? {
        var lo = lo, flo = flo, dlo = dlo, hi = hi, fhi = fhi, dhi = dhi
        var best: (Double, Double, [Double])?
        for _ in 0..<30 {
            if evaluations() >= maxEvaluations { break }
            // Cubic interpolation between lo and hi, safeguarded to the middle 80% of the interval.
            var a = cubicMinimizer(lo, flo, dlo, hi, fhi.isFinite ? fhi : flo + abs(hi - lo), dhi.isFinite ? dhi : 0)
            let left = min(lo, hi), right = max(lo, hi), width = right - left
            if !a.isFinite || a < left + 0.1 * width || a > right - 0.1 * width { a = 0.5 * (lo + hi) }
            let (fa, da, ga) = phi(a)
            if !fa.isFinite || fa > f + c1 * a * slope || fa >= flo {
                hi = a; fhi = fa; dhi = da
            } else {
                best = (a, fa, ga)
                if abs(da) <= -c2 * slope { return (a, fa, ga) }
                if da * (hi - lo) >= 0 { hi = lo; fhi = flo; dhi = dlo }
                lo = a; flo = fa; dlo = da
            }
            if abs(hi - lo) < 1e-14 * max(1, abs(lo)) { break }
        }
        // Accept a point with sufficient decrease even if the curvature condition did not hold.
        return best ?? (lo > 0 && flo < f ? phi(lo) : nil)
    }

    private func cubicMinimizer(_ a: Double, _ fa: Double, _ da: Double, _ b: Double, _ fb: Double, _ db: Double) -> Double {
        let d1 = da + db - 3 * (fa - fb) / (a - b)
        let disc = d1 * d1 - da * db
        guard disc >= 0 else { return .nan }
        let d2 = (b > a ? 1.0 : -1.0) * disc.squareRoot()
        return b - (b - a) * (db + d2 - d1) / (db - da + 2 * d2)
    }
}

@inline(__always) func dot(_ a: [Double], _ b: [Double]) -> Double {
    var s = 0.0
    for i in a.indices { s += a[i] * b[i] }
    return s
}

@inline(__always) func axpy(_ alpha: Double, _ x: [Double], _ y: inout [Double]) {
    for i in y.indices { y[i] += alpha * x[i] }
}
