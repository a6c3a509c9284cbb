/// A physical system simulated by integrating its equations of motion: the "true system" a learner is
/// judged on, and what `firmware-sim` runs.
///
/// The state is the ODE state in the robot kind's layout (`RobotKind`); the control is held constant
/// over each control period (zero-order hold).
public protocol Plant: Sendable {
    var kind: RobotKind { get }
    /// Length of the ODE state.
    var stateDimension: Int { get }
    /// Length of the control.
    var controlDimension: Int { get }
    /// Writes `ẋ = f(x, u)` into `dx` (`[stateDimension]`).
    func derivative(state x: [Double], control u: [Double], into dx: inout [Double])
    /// Total mechanical energy (J) of a state; conserved with zero control and no friction.
    func energy(_ x: [Double]) -> Double
}

extension Plant {
    /// `ẋ = f(x, u)` as a new array.
    public func derivative(state x: [Double], control u: [Double]) -> [Double] {
        var dx = [Double](repeating: 0, count: stateDimension)
        derivative(state: x, control: u, into: &dx)
        return dx
    }

    /// The state after `duration` seconds with `control` held constant (zero-order hold).
    public func step(
        _ x: [Double], control u: [Double], duration: Double, integrator: DormandPrince = DormandPrince()
    ) -> [Double] {
        precondition(x.count == stateDimension, "\(kind): state has \(x.count) values, expected \(stateDimension)")
        precondition(u.count == controlDimension, "\(kind): control has \(u.count) values, expected \(controlDimension)")
        return integrator.integrate(x, over: duration) { s, ds in derivative(state: s, control: u, into: &ds) }
    }
}
