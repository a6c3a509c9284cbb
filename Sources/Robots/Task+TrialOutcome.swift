/// What one trial on the robot achieved, judged by its task: the cost of the states the robot
/// observed and the task's success test.
public struct TrialOutcome: Sendable, Equatable {
    /// Sum of the task's cost over the trial's observed states (as the cycle reports it).
    public var cost: Double
    /// Mean cost over the success test's final window.
    public var finalCost: Double
    public var success: Bool

    public init(cost: Double, finalCost: Double, success: Bool) {
        self.cost = cost
        self.finalCost = finalCost
        self.success = success
    }
}

extension Task {
    /// The outcome of a trial whose observed ODE states (in order) were `states`; states of the
    /// wrong size are left out. `nil` when none is left.
    public func outcome(observedStates states: [[Double]]) -> TrialOutcome? {
        let costs = states.filter { $0.count == plant.stateDimension }.map { cost.cost(representation.learningState(from: $0)) }
        guard !costs.isEmpty else { return nil }
        return TrialOutcome(cost: costs.reduce(0, +), finalCost: successTest.finalCost([costs]), success: successTest.passes([costs]))
    }
}
