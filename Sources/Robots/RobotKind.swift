/// The robots this package simulates and controls, with their state and control layouts.
///
/// The layouts are the wire protocol's (`Proto/pipps/v1/common.proto`, `RobotKind`).
public enum RobotKind: String, Sendable, CaseIterable, Codable {
    /// PILCO cart-pole: state [x (m), ẋ (m/s), θ̇ (rad/s), θ (rad)], θ = 0 hanging; force (N), |u| ≤ 10.
    case cartPole = "cartpole"
    /// PILCO unicycle (D. Forster): 12 states, 2 torques.
    case unicycle = "unicycle"

    /// Length of the state vector.
    public var stateDimension: Int {
        switch self {
        case .cartPole: 4
        case .unicycle: 12
        }
    }

    /// Length of the control vector.
    public var controlDimension: Int {
        switch self {
        case .cartPole: 1
        case .unicycle: 2
        }
    }

    /// Saturation limit u_max per control dimension (N for the cart, N·m for the unicycle's
    /// turntable and wheel).
    public var controlLimits: [Double] {
        switch self {
        case .cartPole: [10]
        case .unicycle: [10, 50]
        }
    }

    /// Control period in seconds (10 Hz for both, as in PIPPS §4.2).
    public var controlPeriod: Double { 0.1 }
}
