import ArgumentParser
import Foundation
import LinearAlgebra
import Messages
import Policies
import Robots

/// `pipps simulate ROBOT`: a rollout on the true simulator, as CSV or JSON.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Roll out a policy on the true simulator and print the trajectory.",
        discussion: """
            Rows are control steps: time, true ODE state, noisy observed state, the control applied from \
            that time, and the immediate cost of the true state. The observation noise follows PIPPS: \
            σ² = k·σ²_base (--noise k).
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case csv, json }

    @Argument(help: "The robot: \(RobotKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var robot: String

    @Option(help: "A policy file (pipps.v1.Policy, binary or .json), or 'random' (uniform random controls), or 'zero'.")
    var policy = "zero"

    @Option(help: "Control steps (default: the task's horizon, 30 for the cart-pole, 20 for the unicycle).")
    var steps: Int?

    @Option(help: "Random seed for the initial state, the noise and random controls.")
    var seed: UInt64 = 0

    @Option(help: "Observation noise variance multiplier k (PIPPS uses 0.01, 1, 4, 9, 16).")
    var noise = 1.0

    @Option(help: "A fixed initial ODE state, comma-separated (default: drawn from the task's initial distribution).")
    var initial: String?

    @Option(help: "Cart-pole cost: angle or tip.")
    var cost: CartPoleCostKind = .angle

    @Option(help: "Output format.")
    var format: Format = .csv

    @Option(help: "The CSV's `trial` column: number the rollouts of several runs differently to concatenate them for `pipps learn --csv`.")
    var trial = 1

    func validate() throws {
        guard let kind = RobotKind(rawValue: robot) else {
            throw ValidationError("unknown robot '\(robot)'; choose one of \(RobotKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let steps, steps < 0 || steps > 1_000_000 { throw ValidationError("--steps must be between 0 and 1000000") }
        guard noise >= 0, noise.isFinite else { throw ValidationError("--noise must be a non-negative number") }
        if let initial {
            let values = try parseVector(initial)
            guard values.count == kind.stateDimension else {
                throw ValidationError("--initial has \(values.count) values; a \(kind.rawValue) state has \(kind.stateDimension): \(kind.stateNames.joined(separator: ","))")
            }
        }
    }

    func run() throws {
        let kind = RobotKind(rawValue: robot)!
        let task = kind == .cartPole ? Task.cartPoleSwingUp(cost: cost, noiseMultiplier: noise) : Task.unicycleBalancing(noiseMultiplier: noise)
        var rng = SeededGenerator(seed: seed)
        let start = try initial.map(parseVector)

        let trajectory: Trajectory
        switch policy {
        case "zero":
            trajectory = task.rollout(steps: steps, initialState: start, using: &rng) { _, _ in Array(repeating: 0, count: kind.controlDimension) }
        case "random":
            var controlRNG = SeededGenerator(seed: seed &+ 0x5EED)
            trajectory = task.rollout(steps: steps, initialState: start, using: &rng) { _, _ in task.randomControl(using: &controlRNG) }
        default:
            let loaded = try loadPolicy(policy, for: task)
            trajectory = task.rollout(steps: steps, initialState: start, using: &rng) { y, _ in loaded.control(for: y) }
        }
        switch format {
        case .csv: print(csv(trajectory, task: task), terminator: "")
        case .json: try printJSON(trajectory, task: task)
        }
    }

    private func loadPolicy(_ path: String, for task: Task) throws -> any Policy {
        let url = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ValidationError("no policy file at \(path) (use a file, 'random' or 'zero')")
        }
        let wire: Pipps_V1_Policy
        do { wire = try PolicyFile.read(url) } catch {
            throw ValidationError("\(error)")
        }
        let policy = try wire.makePolicy()
        if let kind = wire.robotKind.robotKind, kind != task.kind {
            throw ValidationError("policy \(path) is for a \(kind.rawValue), not a \(task.kind.rawValue)")
        }
        guard policy.stateDimension == task.representation.dimension, policy.controlLimits.count == task.controlLimits.count else {
            throw ValidationError("policy \(path) takes \(policy.stateDimension) states and gives \(policy.controlLimits.count) controls; \(task.kind.rawValue) needs \(task.representation.dimension) and \(task.controlLimits.count)")
        }
        return policy
    }

    private func csv(_ t: Trajectory, task: Task) -> String {
        let names = task.kind.stateNames
        let header = ["t", "trial"] + names + names.map { "obs_\($0)" } + task.kind.controlNames + ["cost"]
        var lines = [header.joined(separator: ",")]
        for i in 0..<t.states.count {
            let control = i < t.controls.count ? t.controls[i].map(format) : Array(repeating: "", count: task.controlLimits.count)
            let c = task.cost.cost(task.representation.learningState(from: t.states[i]))
            let row = [format(Double(i) * task.controlPeriod), "\(trial)"] + t.states[i].map(format) + t.observations[i].map(format) + control + [format(c)]
            lines.append(row.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func printJSON(_ t: Trajectory, task: Task) throws {
        let object: [String: Any] = [
            "task": task.name, "robot": task.kind.rawValue, "seed": seed, "noise_multiplier": noise,
            "control_period_s": task.controlPeriod, "state_names": task.kind.stateNames,
            "control_names": task.kind.controlNames,
            "states": t.states, "observations": t.observations, "controls": t.controls,
            "costs": t.costs, "total_cost": t.totalCost, "ended_early": t.endedEarly,
            "success": task.successTest.passes([t.costs]),
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    private func format(_ v: Double) -> String { String(format: "%.10g", v) }
}

/// Parses "1,2.5,-3" into numbers, with a clear error.
func parseVector(_ text: String) throws -> [Double] {
    try text.split(separator: ",").map { part in
        let trimmed = part.trimmingCharacters(in: .whitespaces)
        guard let v = Double(trimmed), v.isFinite else { throw ValidationError("'\(trimmed)' is not a finite number") }
        return v
    }
}

extension CartPoleCostKind: ExpressibleByArgument {}
