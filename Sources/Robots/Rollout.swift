import LinearAlgebra

/// One episode on the true system.
public struct Trajectory: Sendable, Equatable {
    /// True ODE states x₀ … x_n (n = steps taken).
    public var states: [[Double]]
    /// Noisy observations of them, y₀ … y_n (what a learner or runtime sees).
    public var observations: [[Double]]
    /// Controls u₀ … u_{n−1}, u_t applied over [t, t+1).
    public var controls: [[Double]]
    /// Immediate costs c(x₁) … c(x_T) of the true learning states, T = the task's horizon; steps
    /// after an early end count as 1.
    public var costs: [Double]
    /// Whether the episode ended before the horizon (a fallen unicycle).
    public var endedEarly: Bool

    /// Number of control steps actually taken.
    public var steps: Int { controls.count }
    /// The return Σ c.
    public var totalCost: Double { costs.reduce(0, +) }
}

extension Task {
    /// Runs one episode of `steps` steps (default: the horizon) on the true plant.
    ///
    /// - Parameters:
    ///   - initialState: a fixed start, or `nil` to draw one from the task's initial distribution.
    ///   - controller: maps the observed learning state and the step index to a control; its output is
    ///     clipped to the task's limits (a policy's saturation already keeps it inside).
    public func rollout(
        steps: Int? = nil, initialState: [Double]? = nil, using rng: inout some RandomNumberGenerator,
        controller: (_ observedLearningState: [Double], _ step: Int) -> [Double]
    ) -> Trajectory {
        let n = steps ?? horizon
        precondition(n >= 0, "rollout: negative step count")
        var x = initialState ?? self.initialState.sample(using: &rng)
        precondition(x.count == plant.stateDimension, "rollout: initial state has \(x.count) values, expected \(plant.stateDimension)")
        var trajectory = Trajectory(states: [x], observations: [], controls: [], costs: [], endedEarly: false)
        var y = observationNoise.observe(x, using: &rng)
        trajectory.observations.append(y)
        for t in 0..<n {
            if isTerminal(x) {
                trajectory.endedEarly = true
                trajectory.costs.append(contentsOf: Array(repeating: 1, count: n - t))
                break
            }
            var u = controller(representation.learningState(from: y), t)
            precondition(u.count == plant.controlDimension, "rollout: controller gave \(u.count) values, expected \(plant.controlDimension)")
            for i in u.indices { u[i] = min(max(u[i].isFinite ? u[i] : 0, -controlLimits[i]), controlLimits[i]) }
            x = plant.step(x, control: u, duration: controlPeriod)
            y = observationNoise.observe(x, using: &rng)
            trajectory.controls.append(u)
            trajectory.states.append(x)
            trajectory.observations.append(y)
            trajectory.costs.append(cost.cost(representation.learningState(from: x)))
        }
        return trajectory
    }
}

extension Task {
    /// `count` episodes with the random-trial controller (PILCO's random trials), reproducible from
    /// `seed` (states and noise from one stream, controls from another).
    public func randomRollouts(count: Int, seed: UInt64) -> [Trajectory] {
        var rng = SeededGenerator(seed: seed)
        var controls = SeededGenerator(seed: seed &+ 1)
        return (0..<count).map { _ in rollout(using: &rng) { _, _ in randomControl(using: &controls) } }
    }
}
