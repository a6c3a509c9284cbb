import Foundation

/// The PILCO cart-pole (`scenarios/cartPole/dynamics_cp.m`): a cart on a rail pushed by a horizontal
/// force, with a pole on a free joint.
///
/// State `[x, ẋ, θ̇, θ]`: cart position (m), cart velocity (m/s), pole angular velocity (rad/s), pole
/// angle (rad) with θ = 0 hanging down and θ = π upright. Control: force on the cart (N).
public struct CartPole: Plant, Equatable {
    /// Pole length l (m).
    public var poleLength: Double = 0.5
    /// Pole mass m (kg).
    public var poleMass: Double = 0.5
    /// Cart mass M (kg).
    public var cartMass: Double = 0.5
    /// Cart friction coefficient b (N per m/s).
    public var friction: Double = 0.1
    /// Gravity g (m/s²).
    public var gravity: Double = 9.82

    public init() {}

    /// Indices into the state.
    public enum Index {
        public static let position = 0, velocity = 1, angularVelocity = 2, angle = 3
    }

    public var kind: RobotKind { .cartPole }
    public var stateDimension: Int { 4 }
    public var controlDimension: Int { 1 }

    /// The PILCO equations of motion (REFERENCE.md):
    /// - ẍ = (2 m l θ̇² sin θ + 3 m g sin θ cos θ + 4 u − 4 b ẋ) / (4 (M + m) − 3 m cos² θ)
    /// - θ̈ = (−3 m l θ̇² sin θ cos θ − 6 (M + m) g sin θ − 6 (u − b ẋ) cos θ) / (4 l (M + m) − 3 m l cos² θ)
    public func derivative(state s: [Double], control u: [Double], into dx: inout [Double]) {
        let l = poleLength, m = poleMass, M = cartMass, b = friction, g = gravity
        let xd = s[1], thd = s[2], th = s[3]
        let sn = sin(th), cs = cos(th)
        let force = u[0]
        let denominator = 4 * (M + m) - 3 * m * cs * cs
        dx[0] = xd
        dx[1] = (2 * m * l * thd * thd * sn + 3 * m * g * sn * cs + 4 * force - 4 * b * xd) / denominator
        dx[2] = (-3 * m * l * thd * thd * sn * cs - 6 * (M + m) * g * sn - 6 * (force - b * xd) * cs) / (l * denominator)
        dx[3] = thd
    }

    /// E = (M + m) ẋ² / 2 + m l² θ̇² / 6 + m l (ẋ θ̇ − g) cos θ / 2.
    public func energy(_ s: [Double]) -> Double {
        let l = poleLength, m = poleMass, M = cartMass, g = gravity
        let xd = s[1], thd = s[2], th = s[3]
        return (M + m) * xd * xd / 2 + m * l * l * thd * thd / 6 + m * l * (xd * thd - g) * cos(th) / 2
    }
}
