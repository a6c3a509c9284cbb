import ArgumentParser
import Foundation
import LinearAlgebra
import Messages
import Robots
import SwiftProtobuf
import ZeroMQ

/// `firmware-sim ROBOT`: a simulated robot that speaks the wire protocol as hardware would.
///
/// Every control period it samples the noisy observed state of the true (integrated) physics, sends
/// it as a `State`, and applies the `Control` with the same sequence number with zero-order hold. The
/// watchdog applies the safe (zero) control when no answer arrives within `--watchdog-ms`. It
/// registers with `Hello`, registers again when the runtime says it does not know it (the runtime
/// restarted), and resets to the task's initial state distribution when the runtime starts a trial.
@main
struct FirmwareSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "firmware-sim",
        abstract: "A simulated cart-pole or unicycle that streams its noisy state to a PIPPS runtime."
    )

    @Argument(help: "The robot to simulate: \(RobotKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var robot: String

    @Option(help: "The runtime's robot endpoint.")
    var connect = "tcp://127.0.0.1:7700"

    @Option(help: "Robot id (default: ROBOT-sim).")
    var id: String?

    @Option(help: "Task whose initial state distribution and observation noise are used (default: the robot's standard task).")
    var task: String?

    @Option(help: "Observation noise variance multiplier k.")
    var noise = 1.0

    @Option(help: "Random seed (initial states, observation noise).")
    var seed: UInt64 = 0

    @Option(help: "A fixed initial ODE state, comma-separated, instead of a draw from the task's distribution.")
    var initial: String?

    @Flag(help: "Advance as fast as the runtime answers instead of in real time (tests, experiments).")
    var lockstep = false

    @Option(help: "Stop after this many control steps (0: run until SIGINT/SIGTERM).")
    var steps = 0

    @Option(help: "Watchdog: apply the safe control when no answer arrives within this many ms.")
    var watchdogMs = 50.0

    @Option(help: "Write one CSV row per step (time, true state, observed state, control, status) to this file.")
    var trace: String?

    @Option(help: "This robot's secret key file (pipps keys), for a CURVE runtime.")
    var key: String?

    @Option(help: "The runtime's public key (Z85) or .pub file, for a CURVE runtime.")
    var serverKey: String?

    func validate() throws {
        guard let kind = RobotKind(rawValue: robot) else {
            throw ValidationError("unknown robot '\(robot)'; choose one of \(RobotKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let task {
            guard let t = Task.named(task) else { throw ValidationError("unknown task '\(task)'; choose one of \(Task.names.joined(separator: ", "))") }
            guard t.kind == kind else { throw ValidationError("task \(task) is for a \(t.kind.rawValue), not a \(robot)") }
        }
        guard noise >= 0, noise.isFinite else { throw ValidationError("--noise must be a non-negative number") }
        guard steps >= 0 else { throw ValidationError("--steps must be non-negative") }
        guard watchdogMs > 0, watchdogMs < 100_000 else { throw ValidationError("--watchdog-ms must be positive") }
        guard (key == nil) == (serverKey == nil) else { throw ValidationError("--key and --server-key go together") }
        if let initial {
            let values = initial.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard values.count == kind.stateDimension, values.allSatisfy(\.isFinite) else {
                throw ValidationError("--initial needs \(kind.stateDimension) numbers: \(kind.stateNames.joined(separator: ","))")
            }
        }
    }

    func run() throws {
        let kind = RobotKind(rawValue: robot)!
        let taskName = task ?? (kind == .cartPole ? "cartpole-angle" : "unicycle")
        let task = Task.named(taskName, noiseMultiplier: noise)!
        var keys: CurveKeyPair?, server: String?
        if let key, let serverKey {
            do {
                keys = try CurveKeyPair(secretKey: KeyFile.value(key, secret: true))
                server = try KeyFile.value(serverKey, secret: false)
            } catch { throw ValidationError("\(error)") }
        }
        let stop = StopFlag()
        let sources = stop.setOnSignals()
        defer { sources.forEach { $0.cancel() } }
        let fixedInitial = initial.map { $0.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) } }
        var robot = try SimulatedRobot(
            kind: kind, task: task, robotID: id ?? "\(kind.rawValue)-sim", endpoint: connect, keys: keys,
            serverPublicKey: server, seed: seed, fixedInitial: fixedInitial, lockstep: lockstep,
            watchdogNanoseconds: Int64(watchdogMs * 1e6), trace: trace)
        let summary = try robot.run(steps: steps, stop: stop)
        let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}
