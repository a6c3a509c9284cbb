import Foundation

/// The PILCO robotic unicycle (D. Forster's model, as in PILCO's
/// `scenarios/unicycle/dynamics_unicycle.m`): a wheel rolling without slipping, a frame pivoting on
/// the wheel's axle, and a turntable on top of the frame spinning about the frame's axis.
///
/// ODE state, 12 values: `[θ̇, φ̇, ψ̇w, ψ̇f, ψ̇t, x, y, θ, φ, ψw, ψf, ψt]` — roll (tilt) rate, yaw rate,
/// wheel rate, fork (pitch) rate, turntable rate (rad/s); the contact point in the plane (m); roll,
/// yaw, wheel, fork and turntable angles (rad). Upright is θ = ψf = 0. Controls: turntable torque V
/// and wheel torque U (N·m).
///
/// The equations are a 5×5 linear system `A(q) q̈ = −b(q, q̇, V, U)` in the five angular
/// accelerations, plus the rolling constraint `ẋ = rw cos φ ψ̇w`, `ẏ = rw sin φ ψ̇w`. The terms below
/// are grouped into named angular-velocity components of the frame (see ``energy(_:)`` for the
/// kinematics they come from); they are checked by energy conservation in the tests.
public struct Unicycle: Plant, Equatable {
    /// Turntable, wheel and frame masses (kg).
    public var turntableMass = 10.0, wheelMass = 1.0, frameMass = 23.5
    /// Wheel radius (m).
    public var wheelRadius = 0.225
    /// Wheel axle to the frame's centre of mass (m).
    public var axleToFrameCentre = 0.54
    /// Frame centre of mass to the turntable (m).
    public var frameCentreToTurntable = 0.27
    /// Wheel moments of inertia about its axle (Cw) and perpendicular to it (Aw) (kg·m²).
    public var wheelAxialInertia = 0.0484, wheelDiametralInertia = 0.0242
    /// Frame moments of inertia: about the axle (Cf), about the frame's fore-aft axis (Bf) and about
    /// its long axis (Af) (kg·m²).
    public var frameInertiaC = 0.8292, frameInertiaB = 0.4608, frameInertiaA = 0.4248
    /// Turntable moments of inertia about its spin axis (Ct) and perpendicular to it (At) (kg·m²).
    public var turntableAxialInertia = 0.2, turntableDiametralInertia = 1.3
    /// Gravity (m/s²).
    public var gravity = 9.82

    public init() {}

    public enum Index {
        public static let rollRate = 0, yawRate = 1, wheelRate = 2, forkRate = 3, turntableRate = 4
        public static let x = 5, y = 6, roll = 7, yaw = 8, wheel = 9, fork = 10, turntable = 11
    }

    public var kind: RobotKind { .unicycle }
    public var stateDimension: Int { 12 }
    public var controlDimension: Int { 2 }

    /// Whether the unicycle has fallen over (|θ| > π/2 or |ψf| > π/2): the model is not valid past it,
    /// and a trial on it ends there (as in PILCO's plant constraint).
    public func hasFallen(_ s: [Double]) -> Bool {
        abs(s[Index.roll]) > .pi / 2 || abs(s[Index.fork]) > .pi / 2
    }

    public func derivative(state s: [Double], control u: [Double], into dx: inout [Double]) {
        let mt = turntableMass, mw = wheelMass, mf = frameMass
        let rw = wheelRadius, rf = axleToFrameCentre, rt = frameCentreToTurntable, r = rf + rt
        let Cw = wheelAxialInertia, Aw = wheelDiametralInertia
        let Cf = frameInertiaC, Bf = frameInertiaB, Af = frameInertiaA
        let Ct = turntableAxialInertia, At = turntableDiametralInertia
        let g = gravity
        let V = u[0], U = u[1]

        let dth = s[0], dph = s[1], dpw = s[2], dpf = s[3], dpt = s[4]
        let st = sin(s[7]), ct = cos(s[7]), sf = sin(s[10]), cf = cos(s[10])

        // Angular-velocity components of the frame in its own axes (fore-aft, axle, long axis), the
        // wheel's spin relative to the yawing, rolling plane, and the turntable's spin.
        let w1 = dph * sf * ct + cf * dth
        let wf = dpf - dph * st
        let w3 = dph * cf * ct - sf * dth
        let ww = dpw - dph * st
        let spin = w3 + dpt
        // Velocity-product parts of d(w1)/dt and d(w3)/dt.
        let a1 = dph * sf * dpf * ct + dph * cf * st * dth + cf * dpf * dth
        let a3 = dph * cf * dpf * ct - dph * sf * st * dth - dpf * sf * dth
        // Acceleration terms of a point at distance ρ from the axle along the frame's axis.
        func X(_ rho: Double) -> Double {
            sf * dpf * ww * rw + cf * dph * ct * dth * rw - wf * sf * ww * rw + dph * ct * dth * rho + w3 * (dth * rw + w1 * rho)
        }
        func Y(_ rho: Double) -> Double {
            w1 * sf * ww * rw + a3 * rho + w3 * (cf * ww * rw + wf * rho)
        }
        func Z(_ rho: Double) -> Double {
            -cf * dpf * ww * rw + sf * dph * ct * dth * rw + w1 * (dth * rw + w1 * rho) + wf * (cf * ww * rw + wf * rho)
        }
        let Xf = X(rf), Xt = X(r), Yf = Y(rf), Yt = Y(r), Zf = Z(rf), Zt = Z(r)

        // Mass-distribution constants.
        let m1 = mf * rf + mt * r                                   // first moment of frame + turntable about the axle
        let m2 = mf * rf * rf + mt * r * r                          // second moment
        let m3 = m2 + cf * rw * m1
        let e1 = rf * (mf * (cf * rf + rw) + mt * (cf * r + rw)) + rt * mt * (cf * r + rw)
        let AC = Af + Ct, BA = Bf + At

        // b: gravity, gyroscopic and centripetal terms, and the torques (no friction).
        let p1 = -Af * a1 - w1 * Cf * wf + wf * Bf * w1 - Ct * a1
        let p3 = -Bf * a3 + wf * Af * w3 - w3 * Cf * wf - At * a3 - w3 * At * wf + wf * Ct * spin
            + rf * ((mf + mt) * g * st - mf * Yf - mt * Yt) + rt * (mt * g * st - mt * Yt)
        var b = [Double](repeating: 0, count: 5)
        b[0] = -V - Ct * a1
        b[1] = -U + (Cw + At) * dph * ct * dth + w3 * Bf * w1 - w1 * Af * w3 - w1 * Ct * spin + w3 * At * w1
            - rf * (-(mf + mt) * g * sf * ct - mf * Xf - mt * Xt) - rt * (-mt * g * sf * ct - mt * Xt)
        b[2] = -2 * dph * st * Aw * dth - dth * Cw * ww + cf * p1 - sf * p3
        b[3] = -dph * dph * st * Aw * ct - dph * ct * Cw * ww
            - rw * (mw * dph * ct * ww * rw - (mt + mw + mf) * g * st + mf * Yf + mt * Yt)
            + sf * p1 + cf * p3
        b[4] = 2 * Cw * dph * ct * dth - w1 * Af * w3 + rt * (mt * g * sf * ct + mt * Xt) - w1 * Ct * spin
            + At * dph * ct * dth + w3 * At * w1 + w3 * Bf * w1
            + rw * (2 * mw * rw * dph * ct * dth
                + sf * (mf * Zf - (mf + mt) * g * cf * ct + mt * Zt)
                + cf * (mf * Xf + mt * Xt + (mf + mt) * g * sf * ct))
            + rf * ((mf + mt) * g * sf * ct + mt * Xt + mf * Xf)

        // A: the mass matrix, columns (θ̈, φ̈, ψ̈w, ψ̈f, ψ̈t).
        let mTotal = mw + mf + mt
        var a = [Double](repeating: 0, count: 25)
        a[0] = -Ct * sf; a[1] = Ct * cf * ct; a[4] = Ct
        a[6] = (Cw + At) * st + st * m3
        a[7] = -cf * rw * m1
        a[8] = -Cw - At - m2
        a[10] = -AC * sf * cf + BA * sf * cf + sf * e1
        a[11] = Aw * ct + AC * cf * cf * ct + BA * sf * sf * ct + sf * sf * ct * m2
        a[14] = Ct * cf
        a[15] = -Aw - rw * (mf * (cf * rf + rw) + mw * rw + mt * (cf * r + rw)) - AC * sf * sf - BA * cf * cf - cf * e1
        a[16] = -rw * sf * ct * m1 + AC * sf * cf * ct - BA * sf * cf * ct - cf * sf * ct * m2
        a[19] = Ct * sf
        a[21] = (2 * Cw + At) * st + st * m3 + rw * st * (mw * rw + sf * sf * rw * (mf + mt) + cf * (m1 + cf * rw * (mf + mt)))
        a[22] = -Cw - rw * rw * mTotal - cf * rw * m1
        a[23] = -Cw - At - m2 - rw * cf * m1

        // q̈ = −A⁻¹ b by Gaussian elimination with partial pivoting (5×5, no allocation beyond b, a).
        let qdd = Unicycle.solve5(&a, &b)
        for i in 0..<5 { dx[i] = -qdd[i] }
        dx[5] = rw * cos(s[8]) * dpw
        dx[6] = rw * sin(s[8]) * dpw
        for i in 0..<5 { dx[7 + i] = s[i] }
    }

    /// Solves the 5×5 system `a x = b` in place (row-major `a`), returning `x`.
    static func solve5(_ a: inout [Double], _ b: inout [Double]) -> [Double] {
        let n = 5
        for col in 0..<n {
            var pivot = col
            for row in (col + 1)..<n where abs(a[row * n + col]) > abs(a[pivot * n + col]) { pivot = row }
            if pivot != col {
                for k in 0..<n { a.swapAt(col * n + k, pivot * n + k) }
                b.swapAt(col, pivot)
            }
            let d = a[col * n + col]
            for row in (col + 1)..<n {
                let f = a[row * n + col] / d
                if f == 0 { continue }
                for k in col..<n { a[row * n + k] -= f * a[col * n + k] }
                b[row] -= f * b[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for row in stride(from: n - 1, through: 0, by: -1) {
            var sum = b[row]
            for k in (row + 1)..<n { sum -= a[row * n + k] * x[k] }
            x[row] = sum / a[row * n + row]
        }
        return x
    }
}
