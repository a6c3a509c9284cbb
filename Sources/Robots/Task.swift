/// Everything a learning run needs to know about a problem: the robot, where it starts, for how long
/// it runs, what it costs, how it is observed, how many trials it gets and when it counts as solved.
///
/// Learning settings follow PIPPS §4.2; physics follow PILCO's scenarios (REFERENCE.md).
public struct Task: Sendable {
    /// Name, e.g. `"cartpole-angle"` (one of ``Task/names``).
    public var name: String
    /// The true system.
    public var plant: any Plant
    /// How the learner and the policy see the state.
    public var representation: StateRepresentation
    /// Distribution of the initial ODE state.
    public var initialState: DiagonalGaussian
    /// Control period (s); the control is held over it.
    public var controlPeriod: Double
    /// Number of control steps in an episode.
    public var horizon: Int
    /// Immediate cost on the learning state.
    public var cost: any CostFunction
    /// Observation noise on the ODE state.
    public var observationNoise: ObservationNoise
    /// Trials with random controls before learning starts, and learned trials after.
    public var randomTrials: Int
    public var learnedTrials: Int
    /// Saturation limits u_max per control.
    public var controlLimits: [Double]
    /// When the task counts as solved.
    public var successTest: SuccessTest

    public var kind: RobotKind { plant.kind }

    public init(
        name: String, plant: any Plant, initialState: DiagonalGaussian, controlPeriod: Double, horizon: Int,
        cost: any CostFunction, observationNoise: ObservationNoise, randomTrials: Int, learnedTrials: Int,
        controlLimits: [Double], successTest: SuccessTest
    ) {
        let representation = StateRepresentation(plant.kind)
        precondition(initialState.dimension == plant.stateDimension, "Task: initial state has \(initialState.dimension) values, plant \(plant.stateDimension)")
        precondition(cost.stateDimension == representation.dimension, "Task: cost takes \(cost.stateDimension) values, learning state has \(representation.dimension)")
        precondition(observationNoise.baseStandardDeviations.count == plant.stateDimension, "Task: noise for \(observationNoise.baseStandardDeviations.count) states, plant has \(plant.stateDimension)")
        precondition(controlLimits.count == plant.controlDimension, "Task: \(controlLimits.count) limits for \(plant.controlDimension) controls")
        precondition(controlPeriod > 0 && horizon >= 1, "Task: period and horizon must be positive")
        self.name = name
        self.plant = plant
        self.representation = representation
        self.initialState = initialState
        self.controlPeriod = controlPeriod
        self.horizon = horizon
        self.cost = cost
        self.observationNoise = observationNoise
        self.randomTrials = randomTrials
        self.learnedTrials = learnedTrials
        self.controlLimits = controlLimits
        self.successTest = successTest
    }

    /// Whether a trial must end at this ODE state (the unicycle has fallen over).
    public func isTerminal(_ state: [Double]) -> Bool {
        if let unicycle = plant as? Unicycle { return unicycle.hasFallen(state) }
        return false
    }

    /// The random-trial controller: independent uniform draws in `[−u_max, u_max]` per control and
    /// step (PILCO's random trials).
    public func randomControl(using rng: inout some RandomNumberGenerator) -> [Double] {
        controlLimits.map { Double.random(in: -$0 ... $0, using: &rng) }
    }
}

extension Task {
    /// Cart-pole swing-up and balancing (PIPPS §4.2.1): 3 s at 10 Hz, 1 random then 15 learned
    /// trials, PILCO's initial state N(0, 0.1² I) hanging at rest, forces within ±10 N.
    /// Solved when the mean cost of the final second is below 0.2: with the angle cost that needs
    /// x² + (θ − π)² < 0.22 (pole within 27° of upright, cart within 0.47 m of the centre); with the tip
    /// cost, the tip within 17 cm of its target.
    public static func cartPoleSwingUp(cost: CartPoleCostKind = .angle, noiseMultiplier k: Double = 1) -> Task {
        let plant = CartPole()
        return Task(
            name: cost == .angle ? "cartpole-angle" : "cartpole-tip",
            plant: plant,
            initialState: DiagonalGaussian(mean: [0, 0, 0, 0], standardDeviations: [0.1, 0.1, 0.1, 0.1]),
            controlPeriod: 0.1, horizon: 30,
            cost: cost == .angle ? CartPoleAngleCost() as any CostFunction : CartPoleTipCost(poleLength: plant.poleLength),
            observationNoise: .cartPole(multiplier: k),
            randomTrials: 1, learnedTrials: 15,
            controlLimits: [10],
            successTest: SuccessTest(window: 10, threshold: 0.2)
        )
    }

    /// Unicycle balancing (PIPPS §4.2.1): 2 s at 10 Hz, 5 random then 30 learned trials, PILCO's
    /// initial state (standard deviations 0.02 on rates and angles, 0.1 m on position), torques within
    /// ±10 and ±50 N·m, low observation noise. Solved when the mean cost of the final 0.5 s is below
    /// 0.2 (upright: top of the unicycle within a few centimetres of its height, not fallen).
    public static func unicycleBalancing(noiseMultiplier k: Double = 1) -> Task {
        Task(
            name: "unicycle",
            plant: Unicycle(),
            initialState: DiagonalGaussian(
                mean: Array(repeating: 0, count: 12),
                standardDeviations: Array(repeating: 0.02, count: 5) + [0.1, 0.1] + Array(repeating: 0.02, count: 5)),
            controlPeriod: 0.1, horizon: 20,
            cost: UnicycleCost(),
            observationNoise: .unicycle(multiplier: k),
            randomTrials: 5, learnedTrials: 30,
            controlLimits: [10, 50],
            successTest: SuccessTest(window: 5, threshold: 0.2)
        )
    }

    /// Cart-pole balancing from near upright: a small learning problem whose answer is known (an
    /// LQR-like controller holds it), for quick checks of the whole learner. 2 s at 10 Hz, 1 random then
    /// 3 learned trials, initial state around upright with standard deviations 0.05, angle cost.
    /// Solved when the mean cost of the final second is below 0.2.
    public static func cartPoleBalancing(noiseMultiplier k: Double = 1) -> Task {
        Task(
            name: "cartpole-balance",
            plant: CartPole(),
            initialState: DiagonalGaussian(mean: [0, 0, 0, .pi], standardDeviations: [0.05, 0.05, 0.05, 0.05]),
            controlPeriod: 0.1, horizon: 20,
            cost: CartPoleAngleCost(),
            observationNoise: .cartPole(multiplier: k),
            randomTrials: 1, learnedTrials: 3,
            controlLimits: [10],
            successTest: SuccessTest(window: 10, threshold: 0.2)
        )
    }

    /// The tasks by name, as the command line takes them (the experiments' names first; the older
    /// names `cartpole-swingup`, `cartpole-swingup-tip`, `unicycle-balance` are accepted too).
    public static let names = ["cartpole-angle", "cartpole-tip", "unicycle", "cartpole-balance"]

    /// The name a task is stored and reported under (one of ``names``) for `name` or one of its
    /// older aliases; `nil` for an unknown name.
    public static func canonicalName(_ name: String) -> String? {
        switch name {
        case "cartpole-angle", "cartpole-swingup", "cartpole": "cartpole-angle"
        case "cartpole-tip", "cartpole-swingup-tip": "cartpole-tip"
        case "unicycle", "unicycle-balance": "unicycle"
        case "cartpole-balance": "cartpole-balance"
        default: nil
        }
    }

    /// The task called `name` (or an alias) with noise multiplier `k`, or `nil` for an unknown name.
    public static func named(_ name: String, noiseMultiplier k: Double = 1) -> Task? {
        switch canonicalName(name) {
        case "cartpole-angle": cartPoleSwingUp(cost: .angle, noiseMultiplier: k)
        case "cartpole-tip": cartPoleSwingUp(cost: .tip, noiseMultiplier: k)
        case "unicycle": unicycleBalancing(noiseMultiplier: k)
        case "cartpole-balance": cartPoleBalancing(noiseMultiplier: k)
        default: nil
        }
    }
}

/// Which cart-pole cost (PIPPS Table 2 has both).
public enum CartPoleCostKind: String, Sendable, CaseIterable {
    case angle, tip
}

extension Task {
    /// The distribution of the initial *learning* state, as a diagonal Gaussian. For the cart-pole the
    /// learning state is the ODE state, so this is the initial distribution itself; for the unicycle
    /// it is fitted to 20 000 draws pushed through the learning-state map (deterministic seed).
    public var initialLearningState: DiagonalGaussian {
        if kind == .cartPole { return initialState }
        var rng = SeededGenerator(seed: 0x1A5E)
        let n = 20_000, d = representation.dimension
        var sum = [Double](repeating: 0, count: d), sq = sum
        for _ in 0..<n {
            let s = representation.learningState(from: initialState.sample(using: &rng))
            for k in 0..<d { sum[k] += s[k]; sq[k] += s[k] * s[k] }
        }
        let mean = sum.map { $0 / Double(n) }
        let sd = (0..<d).map { k in max(sq[k] / Double(n) - mean[k] * mean[k], 0).squareRoot() }
        return DiagonalGaussian(mean: mean, standardDeviations: sd)
    }
}

import LinearAlgebra
