import ArgumentParser
import ControlRuntime
import Foundation
import Learning
import Robots
import TrialStore
import ZeroMQ

/// `pipps demo`: the main job, end to end on loopback. The runtime (`pipps serve --store`) and the
/// simulated robot (`firmware-sim`, real time at 10 Hz) run as their own processes, exactly as on a
/// real installation; the scheduler runs here and learns the task trial by trial.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The main job: runtime + simulated robot + scheduler on loopback, learning the swing-up trial by trial.",
        discussion: """
            Starts `pipps serve` (recording into RUNS/ROBOT/store.sqlite) and `firmware-sim ROBOT` at 10 Hz, \
            then runs learn-deploy cycles (pipps cycle) until the task is solved or the trial budget is \
            spent: a random trial, then per trial a learning round (PIPPS total propagation by default) \
            and a trial with the new policy. Ends with a summary, RUNS/ROBOT/learning-curve.png (with \
            `make plot-env`) and RUNS/ROBOT/final-trial.mcap. Ctrl-C stops everything cleanly; running \
            it again resumes where it stopped.
            """
    )

    @Option(help: "The robot: cartpole (swing-up) or unicycle (balancing).") var robot: RobotKind = .cartPole
    @Option(help: "Directory for the store, figure and MCAP.") var runs = "runs"
    @Option(help: "Gradient estimator / method (PIPPS: tp).") var estimator = "tp"
    @Option(help: "Particles per evaluation (PIPPS: 300).") var particles = 300
    @Option(help: "Policy evaluations per learning round (PIPPS: 600).") var evaluations = 600
    @Option(help: "Trial budget (default: the task's random + learned trials).") var maxTrials: Int?
    @Option(help: "RBF basis functions of the cart-pole policy (PIPPS: 50).") var basisCount = 50
    @Option(help: "Seed of the learning.") var seed: UInt64 = 1
    @Flag(help: "Run the robot as fast as the runtime answers instead of in real time.") var lockstep = false

    var taskName: String { robot == .cartPole ? "cartpole-angle" : "unicycle" }

    func validate() throws {
        guard particles >= 2, evaluations >= 1, basisCount >= 1 else { throw ValidationError("--particles ≥ 2, --evaluations ≥ 1, --basis-count ≥ 1") }
        if let maxTrials, maxTrials < 2 { throw ValidationError("--max-trials must be at least 2") }
    }

    func run() throws {
        let directory = URL(fileURLWithPath: runs).appendingPathComponent(robot.rawValue)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let storePath = directory.appendingPathComponent("store.sqlite").path
        let binaries = ChildProcess.siblingDirectory
        let robotID = "demo-\(robot.rawValue)"
        say("PIPPS-Swift demo: \(robot.rawValue), task \(taskName); store \(storePath)")
        say("libzmq \(Context.libraryVersion.major).\(Context.libraryVersion.minor).\(Context.libraryVersion.patch); learning with \(estimator), \(particles) particles, \(evaluations) evaluations per round")

        let stop = StopFlag()
        let sources = stop.setOnSignals()
        defer { sources.forEach { $0.cancel() } }
        let runtimeLog = directory.appendingPathComponent("runtime.log"), robotLog = directory.appendingPathComponent("firmware-sim.log")
        let serve = try ChildProcess(binaries.appendingPathComponent("pipps").path,
                                     ["serve", "--insecure", "--robots", "tcp://127.0.0.1:*", "--admin", "tcp://127.0.0.1:*", "--store", storePath],
                                     log: runtimeLog)
        defer { serve.terminate() }
        guard let listening = serve.waitForLine(startingWith: "listening", timeout: 30) else {
            throw ValidationError("the runtime did not start; see \(runtimeLog.path)")
        }
        func field(_ name: String) -> String {
            listening.split(separator: " ").first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) } ?? ""
        }
        let robots = field("robots"), admin = field("admin")
        say("runtime listening: robots \(robots), admin \(admin) (log: \(runtimeLog.path))")
        let sim = try ChildProcess(binaries.appendingPathComponent("firmware-sim").path,
                                   [robot.rawValue, "--connect", robots, "--id", robotID, "--task", taskName, "--steps", "100000000", "--seed", "\(seed)"]
                                       + (lockstep ? ["--lockstep"] : []),
                                   log: robotLog)
        defer { sim.terminate() }
        say("firmware-sim \(robot.rawValue) connected as \(robotID)\(lockstep ? " (lockstep)" : " at 10 Hz") (log: \(robotLog.path))")

        let task = Task.named(taskName)!
        var c = CycleRunner.Configuration(robot: robotID, taskName: taskName, task: task)
        try c.learning.selectMethod(estimator)
        c.learning.particles = particles
        c.learning.evaluations = evaluations
        c.randomTrials = task.randomTrials
        c.maxTrials = maxTrials ?? (task.randomTrials + task.learnedTrials)
        c.basisCount = basisCount
        c.seed = seed
        let store = try TrialStore(path: storePath)
        let log = CycleLog(total: c.maxTrials)
        let runner = CycleRunner(configuration: c, store: store, admin: try AdminClient(endpoint: admin, timeoutMilliseconds: 10_000), report: log.line)
        let started = Date()
        let status: String?
        do { status = try runner.run(stop: stop) } catch where stop.isSet {
            status = nil  // a Ctrl-C may reach the children as well; a request failing as they go is no error
        }
        sim.terminate()
        serve.terminate()

        // Summary, learning curve and the final trial, from the store (so a resumed run covers all).
        let cycle = try store.latestCycle(robot: robotID, task: taskName)
        let trials = try store.trials(robot: robotID, task: taskName).filter { $0.status == .complete && $0.cycleID == cycle }
        let rounds = try store.learningRounds(robot: robotID)
        var csv = "trial,id,robot,task,random,cost,final_cost,threshold,success,learning_seconds,policy_version\n"
        for (i, trial) in trials.enumerated() {
            let o = try runner.evaluate(trial)
            let round = rounds.first { $0.policyVersion == trial.policyVersion }
            let learning = (round?.modelSeconds ?? 0) + (round?.optimisationSeconds ?? 0)
            csv += "\(i + 1),\(trial.id),\(robotID),\(taskName),\(round == nil ? 1 : 0),\(o.cost),\(o.finalCost),\(task.successTest.threshold),\(o.success ? 1 : 0),\(learning),\(trial.policyVersion)\n"
        }
        try csv.write(to: directory.appendingPathComponent("learning-curve.csv"), atomically: true, encoding: .utf8)
        Figures.draw("cycle", directory: directory)
        if let last = trials.last {
            let mcap = directory.appendingPathComponent("final-trial.mcap")
            try Data(try TrialExport.mcap(store: store, trials: [last.id])).write(to: mcap, options: .atomic)
            say("final trial (id \(last.id)) as MCAP: \(mcap.path)")
        }
        let learned = rounds.compactMap { r in r.modelSeconds.map { $0 + (r.optimisationSeconds ?? 0) } }
        say(String(format: "%@ after %d trial(s) in this cycle; this run %.0f s, learning %.0f s in all; curve: %@",
                   status ?? "stopped (run `pipps demo` again to resume)", trials.count, Date().timeIntervalSince(started),
                   learned.reduce(0, +), directory.appendingPathComponent("learning-curve.csv").path))
        if status == nil { throw ExitCode(130) }
    }

    private func say(_ line: String) {
        FileHandle.standardError.write(Data("\(ISO8601DateFormatter().string(from: Date()))  \(line)\n".utf8))
    }
}

extension RobotKind: ExpressibleByArgument {}

/// A child process of the demo: stdout lines kept (for the runtime's `listening` line), stderr to a
/// log file; terminated (SIGTERM, then SIGKILL) when the demo ends.
final class ChildProcess: @unchecked Sendable {
    private let process = Process()
    private let pipe = Pipe()
    private let lock = NSLock()
    private var lines: [String] = []
    private var partial = ""

    /// The directory of this executable (where `swift build` also puts firmware-sim).
    static var siblingDirectory: URL {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent()
    }

    init(_ executable: String, _ arguments: [String], log: URL) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ValidationError("\(executable) not found: build it (`make demo` builds pipps and firmware-sim)")
        }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let data = h.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock()
            self.partial += String(decoding: data, as: UTF8.self)
            while let nl = self.partial.firstIndex(of: "\n") {
                self.lines.append(String(self.partial[..<nl]))
                self.partial = String(self.partial[self.partial.index(after: nl)...])
            }
            self.lock.unlock()
        }
        try process.run()
    }

    func waitForLine(startingWith prefix: String, timeout: Double) -> String? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            lock.lock()
            let found = lines.first { $0.hasPrefix(prefix) }
            lock.unlock()
            if let found { return found }
            if !process.isRunning { return nil }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return nil
    }

    func terminate() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let end = Date().addingTimeInterval(5)
        while process.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
    }
}
