import ArgumentParser
import ControlRuntime
import Foundation
import Learning
import Robots
import TrialStore
import ZeroMQ

/// `pipps cycle`: the learn-deploy scheduler.
struct Cycle: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Learn-deploy cycles for one robot: random trial(s), then learn → deploy → trial until solved or the budget is spent.",
        discussion: """
            Talks to a running runtime (pipps serve --store STORE) over its admin endpoint and learns from the \
            same store. Resumable: killed at any point and started again with the same --store, --robot and \
            --task, it continues the running cycle without repeating or losing a trial. Prints one line per \
            event and a JSON summary at the end; stops cleanly on SIGINT/SIGTERM (the cycle stays resumable).
            """
    )

    @OptionGroup var connection: Admin.Connection
    @Option(help: "The trial store the runtime records to.") var store: String
    @Option(help: "Robot id.") var robot: String
    @Option(help: "Task: \(Task.names.joined(separator: ", ")).") var task = "cartpole-angle"
    @Option(help: "Gradient estimator / method (PIPPS: tp).") var estimator = "tp"
    @Option(help: "Particles per evaluation (PIPPS: 300).") var particles = 300
    @Option(help: "Policy evaluations per round (PIPPS: 600).") var evaluations = 600
    @Option(help: "Random trials first (default: the task's).") var randomTrials: Int?
    @Option(help: "Trial budget, random trials included (default: the task's random + learned trials).") var maxTrials: Int?
    @Option(help: "Consecutive successful trials that end the cycle.") var successes = 1
    @Option(help: "Steps per trial (default: the task's horizon).") var maxSteps: Int?
    @Option(help: "Run a trial at most every this many seconds (default: right after the previous one).") var every: Double?
    @Option(help: "RBF basis functions of the cart-pole policy (PIPPS: 50).") var basisCount = 50
    @Option(help: "Seed of the cycle's random numbers.") var seed: UInt64 = 0

    func validate() throws {
        guard Task.named(task) != nil else { throw ValidationError("unknown --task '\(task)'; known: \(Task.names.joined(separator: ", "))") }
        guard particles >= 2, evaluations >= 1, basisCount >= 1, successes >= 1 else {
            throw ValidationError("--particles ≥ 2, --evaluations ≥ 1, --basis-count ≥ 1, --successes ≥ 1")
        }
        if let randomTrials, randomTrials < 1 { throw ValidationError("--random-trials must be at least 1") }
        if let maxTrials, maxTrials < 2 { throw ValidationError("--max-trials must be at least 2") }
        if let maxSteps, !(2...100_000).contains(maxSteps) { throw ValidationError("--max-steps must be 2…100000") }
        if let every, !(every > 0 && every.isFinite) { throw ValidationError("--every must be a positive number of seconds") }
    }

    func configuration() throws -> CycleRunner.Configuration {
        let task = Task.canonicalName(self.task)!  // validate() refused unknown names; aliases are stored by their name
        let model = Task.named(task)!
        var c = CycleRunner.Configuration(robot: robot, taskName: task, task: model)
        do { try c.learning.selectMethod(estimator) } catch { throw ValidationError("--estimator: \(error)") }
        c.learning.particles = particles
        c.learning.evaluations = evaluations
        c.randomTrials = randomTrials ?? model.randomTrials
        c.maxTrials = maxTrials ?? (c.randomTrials + model.learnedTrials)
        guard c.maxTrials > c.randomTrials else { throw ValidationError("--max-trials must exceed the random trials (\(c.randomTrials))") }
        c.successes = successes
        c.maxSteps = maxSteps
        c.every = every
        c.basisCount = basisCount
        c.seed = seed
        return c
    }

    func run() throws {
        let c = try configuration()
        let trialStore: TrialStore
        do { trialStore = try TrialStore(path: store) } catch { throw ValidationError("\(error)") }
        let stop = StopFlag()
        let sources = stop.setOnSignals()
        defer { sources.forEach { $0.cancel() } }
        let runner = CycleRunner(configuration: c, store: trialStore, admin: try connection.client(), report: CycleLog(total: c.maxTrials).line)
        let status = try runner.run(stop: stop)
        let summary: [String: Any] = ["robot": robot, "task": task, "status": status ?? "interrupted",
                                      "trials": try trialStore.trials(robot: robot, task: task).count]
        print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]), as: UTF8.self))
        if status == nil { throw ExitCode(130) }
    }
}

/// One readable line per scheduler event (learning progress every tenth of the evaluations).
struct CycleLog {
    let total: Int

    func line(_ event: CycleRunner.Event) {
        let text: String?
        switch event {
        case .started(let id): text = "cycle \(id) started"
        case .resumed(let id, let done): text = "cycle \(id) resumed after \(done) complete trial(s)"
        case .waitingForRobot(let robot): text = "waiting for robot \(robot) to connect to the runtime…"
        case .waitingForRunningTrial(let id): text = "trial \(id) is still running on the robot; waiting for its end"
        case let .learning(trial, e, n, value):
            text = (e % max(n / 10, 1) == 0 || e == n) ? String(format: "trial %d/%d  learning  evaluation %d/%d  predicted return %.2f", trial, total, e, n, value) : nil
        case let .learned(round, version, seconds, predicted, startedFrom):
            text = String(format: "learning round %lld → policy v%llu in %.0f s (predicted return %.2f, from %@)", round, version, seconds, predicted,
                          startedFrom.map { "v\($0)" } ?? "a random policy")
        case let .trialStarted(number, id, version, random):
            text = "trial \(number)/\(total)  (id \(id), \(random ? "random" : "learned") policy v\(version))  running…"
        case let .trialFinished(number, id, status, cost, finalCost, success):
            text = String(format: "trial %d/%d  (id %lld) %@  cost %.2f  final %.3f  %@", number, total, id, status.rawValue, cost, finalCost,
                          success ? "SUCCESS" : "not yet")
        case let .finished(status, reason): text = "cycle \(status): \(reason)"
        }
        if let text {
            let stamp = ISO8601DateFormatter().string(from: Date())
            FileHandle.standardError.write(Data("\(stamp)  \(text)\n".utf8))
        }
    }
}
