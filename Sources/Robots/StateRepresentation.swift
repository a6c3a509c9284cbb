import Foundation

/// The state the learner models and the policy sees, derived from a robot's (observed) ODE state.
///
/// - Cart-pole: the ODE state itself, `[x, ẋ, θ̇, θ]`; θ is an angle, so policies and the dynamics
///   model take it as (sin θ, cos θ).
/// - Unicycle (as PILCO's unicycle scenario): 10 values `[θ̇, φ̇, ψ̇w, ψ̇f, ψ̇t, xc, yc, θ, φ, ψf]`:
///   the five angular rates, the origin's position in the unicycle's own frame
///   (xc, yc) = −R(φ)ᵀ (x, y), and roll, yaw and pitch. The wheel and turntable angles are dropped
///   (nothing depends on them). No angle is wrapped: balancing keeps them small. The dynamics model
///   does not take the yaw φ as an input (the motion is invariant to it).
public struct StateRepresentation: Sendable, Equatable {
    public let kind: RobotKind

    public init(_ kind: RobotKind) { self.kind = kind }

    /// Length of the learning state.
    public var dimension: Int {
        switch kind {
        case .cartPole: 4
        case .unicycle: 10
        }
    }

    /// Indices of the learning state that are angles and enter policies and models as (sin, cos).
    public var angleIndices: [Int] {
        switch kind {
        case .cartPole: [CartPole.Index.angle]
        case .unicycle: []
        }
    }

    /// Indices of the learning state that the dynamics model takes as inputs (besides the controls).
    public var dynamicsInputIndices: [Int] {
        switch kind {
        case .cartPole: [0, 1, 2, 3]
        case .unicycle: [0, 1, 2, 3, 4, 5, 6, 7, 9]
        }
    }

    /// Names of the learning-state coordinates, for CSV headers.
    public var names: [String] {
        switch kind {
        case .cartPole: ["x", "dx", "dtheta", "theta"]
        case .unicycle: ["droll", "dyaw", "dwheel", "dpitch", "dturntable", "xc", "yc", "roll", "yaw", "pitch"]
        }
    }

    /// The learning state of one ODE state.
    public func learningState(from x: [Double]) -> [Double] {
        precondition(x.count == kind.stateDimension, "\(kind): ODE state has \(x.count) values, expected \(kind.stateDimension)")
        var out = [Double](repeating: 0, count: dimension)
        x.withUnsafeBufferPointer { xs in
            out.withUnsafeMutableBufferPointer { learningState(from: xs, into: $0) }
        }
        return out
    }

    /// The learning state of one ODE state, written into `out` (`dimension` values) without
    /// allocating: the runtime's control path uses this form.
    public func learningState(from x: UnsafeBufferPointer<Double>, into out: UnsafeMutableBufferPointer<Double>) {
        precondition(x.count == kind.stateDimension && out.count == dimension, "\(kind): learning state of \(x.count) into \(out.count) values")
        switch kind {
        case .cartPole:
            for i in 0..<4 { out[i] = x[i] }
        case .unicycle:
            typealias I = Unicycle.Index
            let c = cos(x[I.yaw]), s = sin(x[I.yaw])
            for i in 0..<5 { out[i] = x[i] }
            out[5] = -(c * x[I.x] + s * x[I.y])
            out[6] = -(-s * x[I.x] + c * x[I.y])
            out[7] = x[I.roll]
            out[8] = x[I.yaw]
            out[9] = x[I.fork]
        }
    }
}

extension RobotKind {
    /// Names of the ODE state coordinates, for CSV headers.
    public var stateNames: [String] {
        switch self {
        case .cartPole: ["x", "dx", "dtheta", "theta"]
        case .unicycle: ["droll", "dyaw", "dwheel", "dpitch", "dturntable", "x", "y", "roll", "yaw", "wheel", "pitch", "turntable"]
        }
    }

    /// Names of the controls.
    public var controlNames: [String] {
        switch self {
        case .cartPole: ["force"]
        case .unicycle: ["turntable_torque", "wheel_torque"]
        }
    }

    /// The simulated plant of this kind with the reference parameters.
    public var plant: any Plant {
        switch self {
        case .cartPole: CartPole()
        case .unicycle: Unicycle()
        }
    }
}
