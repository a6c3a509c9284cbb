import LinearAlgebra

/// A discrete-time linear-quadratic regulator around an equilibrium of a plant under zero-order hold:
/// `u = u* − K (x − x*)` minimising Σ (x − x*)ᵀ Q (x − x*) + (u − u*)ᵀ R (u − u*).
///
/// Useful as a known-good balancing controller (tests, simulated robots, a safe fallback); the
/// learner never uses it.
public struct LinearQuadraticRegulator: Sendable {
    /// Equilibrium state x* and control u*.
    public let state: [Double]
    public let control: [Double]
    /// Gain K `[controls × states]`.
    public let gain: Matrix
    /// Discrete-time linearisation x⁺ ≈ x* + A (x − x*) + B (u − u*).
    public let a: Matrix, b: Matrix

    /// Linearises `plant` over one `period` by central differences and solves the discrete Riccati
    /// equation by fixed-point iteration.
    ///
    /// - Throws: ``LinearAlgebraError`` when `R + BᵀPB` is not positive definite (R must be).
    public init(
        plant: some Plant, state: [Double], control: [Double], period: Double, q: Matrix, r: Matrix,
        step h: Double = 1e-6
    ) throws {
        let n = plant.stateDimension, m = plant.controlDimension
        precondition(q.rows == n && q.columns == n && r.rows == m && r.columns == m, "LQR: Q must be \(n)×\(n), R \(m)×\(m)")
        var a = Matrix(rows: n, columns: n), b = Matrix(rows: n, columns: m)
        for j in 0..<n {
            var xp = state, xm = state
            xp[j] += h; xm[j] -= h
            let fp = plant.step(xp, control: control, duration: period), fm = plant.step(xm, control: control, duration: period)
            for i in 0..<n { a[i, j] = (fp[i] - fm[i]) / (2 * h) }
        }
        for j in 0..<m {
            var up = control, um = control
            up[j] += h; um[j] -= h
            let fp = plant.step(state, control: up, duration: period), fm = plant.step(state, control: um, duration: period)
            for i in 0..<n { b[i, j] = (fp[i] - fm[i]) / (2 * h) }
        }
        var p = q
        var k = Matrix(rows: m, columns: n)
        for _ in 0..<10_000 {
            let pb = p * b                                  // n×m
            var s = r + b.multiplied(by: pb, .transposed)   // m×m: R + BᵀPB
            s.symmetrize()
            let bpa = pb.multiplied(by: a, .transposed)     // m×n: BᵀPA
            k = try Cholesky(s).solve(bpa)
            let pa = p * a
            var next = q + a.multiplied(by: pa, .transposed) - bpa.multiplied(by: k, .transposed)
            next.symmetrize()
            let change = (next - p).maxAbs
            p = next
            if change <= 1e-12 * max(1, p.maxAbs) { break }
        }
        self.state = state
        self.control = control
        self.gain = k
        self.a = a
        self.b = b
    }

    /// The control for state `x`.
    public func control(for x: [Double]) -> [Double] {
        let dx = zip(x, state).map { $0 - $1 }
        let kdx = gain.multiplied(by: dx)
        return zip(control, kdx).map { $0 - $1 }
    }
}
