/// Adaptive Dormand–Prince 5(4) integration of `ẋ = f(x)` over one interval, for zero-order-hold
/// control steps.
///
/// Why adaptive RK45 and not fixed-step RK4: the requirement is an error below 1e-8 in the state
/// after one 0.1 s step, over states from resting to spinning at tens of rad/s. An error-controlled
/// step size meets the tolerance everywhere without tuning a step count to the worst case (PILCO
/// itself uses MATLAB's `ode45`, the same method). With the default tolerances (1e-10 relative and
/// absolute) a 0.1 s cart-pole step takes 10 to 40 function evaluations ×7 stages.
public struct DormandPrince: Sendable, Equatable {
    /// Relative error tolerance per component.
    public var relativeTolerance: Double
    /// Absolute error tolerance per component.
    public var absoluteTolerance: Double
    /// Upper bound on accepted plus rejected steps over one interval; exceeding it is a programmer
    /// error (a stiff or exploding system) and stops with a precondition.
    public var maxSteps: Int

    public init(relativeTolerance: Double = 1e-10, absoluteTolerance: Double = 1e-10, maxSteps: Int = 100_000) {
        precondition(relativeTolerance > 0 && absoluteTolerance > 0 && maxSteps > 0, "DormandPrince: invalid tolerances")
        self.relativeTolerance = relativeTolerance
        self.absoluteTolerance = absoluteTolerance
        self.maxSteps = maxSteps
    }

    // Butcher tableau of Dormand & Prince (1980), the 5th-order solution propagated (FSAL).
    private static let c2 = 1.0 / 5, c3 = 3.0 / 10, c4 = 4.0 / 5, c5 = 8.0 / 9
    private static let a21 = 1.0 / 5
    private static let a31 = 3.0 / 40, a32 = 9.0 / 40
    private static let a41 = 44.0 / 45, a42 = -56.0 / 15, a43 = 32.0 / 9
    private static let a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561, a54 = -212.0 / 729
    private static let a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247, a64 = 49.0 / 176, a65 = -5103.0 / 18656
    private static let b1 = 35.0 / 384, b3 = 500.0 / 1113, b4 = 125.0 / 192, b5 = -2187.0 / 6784, b6 = 11.0 / 84
    // Error coefficients: 5th minus 4th order weights.
    private static let e1 = 71.0 / 57600, e3 = -71.0 / 16695, e4 = 71.0 / 1920, e5 = -17253.0 / 339200, e6 = 22.0 / 525, e7 = -1.0 / 40

    /// Integrates `ẋ = f(x)` from `x` over `duration` seconds and returns the final state.
    ///
    /// - Parameter f: writes `ẋ` for the state in its first argument into its second.
    public func integrate(
        _ x0: [Double], over duration: Double, _ f: (_ x: [Double], _ dx: inout [Double]) -> Void
    ) -> [Double] {
        precondition(duration >= 0, "DormandPrince: negative duration \(duration)")
        let n = x0.count
        var x = x0
        guard duration > 0, n > 0 else { return x }
        var k1 = [Double](repeating: 0, count: n), k2 = k1, k3 = k1, k4 = k1, k5 = k1, k6 = k1, k7 = k1
        var tmp = k1, xNew = k1
        f(x, &k1)
        var t = 0.0
        var h = initialStep(x, k1, duration)
        var steps = 0
        typealias S = DormandPrince
        while t < duration {
            steps += 1
            precondition(steps <= maxSteps, "DormandPrince: more than \(maxSteps) steps over \(duration) s (stiff or diverging system)")
            if t + h > duration { h = duration - t }
            for i in 0..<n { tmp[i] = x[i] + h * S.a21 * k1[i] }
            f(tmp, &k2)
            for i in 0..<n { tmp[i] = x[i] + h * (S.a31 * k1[i] + S.a32 * k2[i]) }
            f(tmp, &k3)
            for i in 0..<n { tmp[i] = x[i] + h * (S.a41 * k1[i] + S.a42 * k2[i] + S.a43 * k3[i]) }
            f(tmp, &k4)
            for i in 0..<n { tmp[i] = x[i] + h * (S.a51 * k1[i] + S.a52 * k2[i] + S.a53 * k3[i] + S.a54 * k4[i]) }
            f(tmp, &k5)
            for i in 0..<n {
                tmp[i] = x[i] + h * (S.a61 * k1[i] + S.a62 * k2[i] + S.a63 * k3[i] + S.a64 * k4[i] + S.a65 * k5[i])
            }
            f(tmp, &k6)
            for i in 0..<n {
                xNew[i] = x[i] + h * (S.b1 * k1[i] + S.b3 * k3[i] + S.b4 * k4[i] + S.b5 * k5[i] + S.b6 * k6[i])
            }
            f(xNew, &k7)
            var errorNorm = 0.0
            for i in 0..<n {
                let e = h * (S.e1 * k1[i] + S.e3 * k3[i] + S.e4 * k4[i] + S.e5 * k5[i] + S.e6 * k6[i] + S.e7 * k7[i])
                let scale = absoluteTolerance + relativeTolerance * max(abs(x[i]), abs(xNew[i]))
                errorNorm += (e / scale) * (e / scale)
            }
            errorNorm = (errorNorm / Double(n)).squareRoot()
            if errorNorm <= 1 || h < 1e-14 * max(1, duration) {
                t += h
                swap(&x, &xNew)
                swap(&k1, &k7)  // first same as last
                let growth = errorNorm == 0 ? 5 : min(5, max(0.2, 0.9 * pow(errorNorm, -0.2)))
                h *= growth
            } else {
                h *= max(0.2, 0.9 * pow(errorNorm, -0.2))
            }
            if !errorNorm.isFinite { break }
        }
        return x
    }

    /// A first step from the size of the derivative (Hairer, Nørsett & Wanner's simple heuristic).
    private func initialStep(_ x: [Double], _ dx: [Double], _ duration: Double) -> Double {
        var d0 = 0.0, d1 = 0.0
        for i in x.indices {
            let scale = absoluteTolerance + relativeTolerance * abs(x[i])
            d0 += (x[i] / scale) * (x[i] / scale)
            d1 += (dx[i] / scale) * (dx[i] / scale)
        }
        let h = (d0 < 1e-10 || d1 < 1e-10) ? 1e-6 : 0.01 * (d0 / d1).squareRoot()
        return min(max(h, 1e-8), duration)
    }
}

import Foundation
