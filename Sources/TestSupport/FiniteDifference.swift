/// Central finite differences, for checking hand-derived derivatives.
public enum FiniteDifference {
    /// The gradient of a scalar function at `x` by central differences with step `h` per coordinate.
    public static func gradient(of f: ([Double]) -> Double, at x: [Double], step h: Double = 1e-6) -> [Double] {
        jacobian(of: { [f($0)] }, at: x, step: h)[0]
    }

    /// The Jacobian `[m × n]` (row-major) of a vector function at `x` by central differences.
    public static func jacobian(of f: ([Double]) -> [Double], at x: [Double], step h: Double = 1e-6) -> [[Double]] {
        var xp = x
        var columns = [[Double]]()
        for i in x.indices {
            let xi = x[i]
            xp[i] = xi + h
            let fp = f(xp)
            xp[i] = xi - h
            let fm = f(xp)
            xp[i] = xi
            columns.append(zip(fp, fm).map { ($0 - $1) / (2 * h) })
        }
        let m = columns.first?.count ?? 0
        return (0..<m).map { r in columns.map { $0[r] } }
    }

    /// Largest relative error `|a − b| / max(|a|, |b|, floor)` over two equally long arrays.
    public static func maxRelativeError(_ a: [Double], _ b: [Double], floor: Double = 1e-8) -> Double {
        precondition(a.count == b.count, "maxRelativeError: \(a.count) vs \(b.count) values")
        return zip(a, b).reduce(0) { m, p in max(m, abs(p.0 - p.1) / max(abs(p.0), abs(p.1), floor)) }
    }
}
