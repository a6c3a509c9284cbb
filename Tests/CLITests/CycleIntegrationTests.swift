import ControlRuntime
import Foundation
import Messages
import TestSupport
import Testing
import TrialStore

/// `pipps cycle` with the real processes: `pipps serve --store`, `firmware-sim` at 10 Hz, the scheduler.
@Suite("Learn-deploy cycles with real processes", .serialized)
struct CycleIntegrationTests {
    /// Small learning settings: these tests check the loop, not the learning.
    static let small = ["--particles", "10", "--evaluations", "5", "--basis-count", "10", "--task", "cartpole-angle"]

    final class Setup {
        let dir: URL
        let storePath: String
        let serve: ServeProcess
        let sim: BackgroundProcess

        init(robot: String) throws {
            dir = try RepositoryPaths.temporaryDirectory()
            storePath = dir.appendingPathComponent("runs/store.sqlite").path
            serve = try ServeProcess(["--insecure", "--store", storePath])
            sim = try BackgroundProcess(Binaries.firmwareSim, ["cartpole", "--connect", serve.robots, "--id", robot,
                                                               "--task", "cartpole-angle", "--steps", "100000"])
        }

        func cycle(_ robot: String, _ extra: [String]) throws -> BackgroundProcess {
            try BackgroundProcess(Binaries.pipps, ["cycle", "--endpoint", serve.admin, "--store", storePath, "--robot", robot] + CycleIntegrationTests.small + extra)
        }

        deinit {
            _ = sim.stop(signal: SIGKILL)
            _ = serve.process.stop()
            try? FileManager.default.removeItem(at: dir)
        }
    }

    @Test func aShortCycleRunsLearnsAndStoresEveryTrial() throws {
        let setup = try Setup(robot: "cp-cycle")
        let cycle = try setup.cycle("cp-cycle", ["--max-trials", "3"])
        #expect(cycle.wait() == 0, "\(cycle.log)")
        #expect(cycle.output.last?.contains("\"status\":\"exhausted\"") == true || cycle.output.last?.contains("\"status\":\"succeeded\"") == true,
                "\(cycle.output)")
        let store = try TrialStore(path: setup.storePath)
        let trials = try store.trials(robot: "cp-cycle", task: "cartpole-angle")
        #expect(trials.count == 3 && trials.allSatisfy { $0.status == .complete && $0.cycleID == 1 }, "\(trials)")
        for trial in trials { #expect(try store.stepCount(trial: trial.id) == 30, "trial \(trial.id) has the task's 30 steps") }
        // Trial 1 ran a random policy; trials 2 and 3 the policies learned from the trials before them.
        let rounds = try store.learningRounds(cycle: 1)
        #expect(rounds.map(\.trainingTrials) == ["[1]", "[1,2]"] && rounds.allSatisfy { $0.achievedReturn != nil }, "\(rounds)")
        #expect(trials.map(\.policyVersion) == [1] + rounds.compactMap(\.policyVersion))
        #expect(cycle.log.contains("trial 3/3") && cycle.log.contains("learning round 2"), "\(cycle.log)")

        // Every step firmware-sim got an answer for is in the store (trials and the steps between them).
        #expect(setup.sim.stop() == 0)
        #expect(setup.serve.process.stop() == 0, "the runtime commits what is queued at SIGTERM")
        let summary = try RecorderIntegrationTests.summary(setup.sim)
        let answered = (summary["steps"] as? Int ?? -1) - (summary["watchdog_trips"] as? Int ?? 0) + (summary["late_controls"] as? Int ?? 0)
        #expect(try store.stepCount() == answered, "\(summary)")

        // A corrupt policy (checksum no longer matching) is refused and the last one keeps running.
        let serve = try ServeProcess(["--insecure", "--store", setup.storePath, "--policy", "cp-cycle=\(try Self.latestPolicyFile(store, setup.dir))"])
        defer { _ = serve.process.stop() }
        var tampered = try Pipps_V1_Policy(serializedBytes: try #require(try store.latestPolicy(robot: "cp-cycle")).policy)
        tampered.version += 1
        let file = setup.dir.appendingPathComponent("tampered.bin")
        try PolicyFile.write(tampered, to: file)
        let refused = try runProcess(Binaries.pipps, ["admin", "deploy", "cp-cycle", file.path, "--endpoint", serve.admin])
        #expect(refused.status != 0 && refused.output.contains("checksum"), "\(refused.output)")
        let robot = try RawRobot(endpoint: serve.robots, id: "cp-cycle")
        #expect(try robot.hello()?.policyVersion == UInt64(trials.last!.policyVersion), "the last learned policy keeps running")
    }

    /// The robot's newest stored policy as a file (for `pipps serve --policy`).
    static func latestPolicyFile(_ store: TrialStore, _ dir: URL) throws -> String {
        let url = dir.appendingPathComponent("latest.bin")
        try PolicyFile.write(try Pipps_V1_Policy(serializedBytes: try #require(try store.latestPolicy(robot: "cp-cycle")).policy), to: url)
        return url.path
    }

    @Test func aKilledSchedulerResumesWithoutRepeatingATrial() throws {
        let setup = try Setup(robot: "cp-resume")
        let first = try setup.cycle("cp-resume", ["--max-trials", "4"])
        let store = try TrialStore(path: setup.storePath)
        // Kill it while trial 2 runs (or is about to).
        let end = Date().addingTimeInterval(300)
        while Date() < end, try store.trials(robot: "cp-resume").count < 2 { Thread.sleep(forTimeInterval: 0.05) }
        #expect(try store.trials(robot: "cp-resume").count >= 2, "\(first.log)")
        _ = first.stop(signal: SIGKILL)

        let second = try setup.cycle("cp-resume", ["--max-trials", "4"])
        #expect(second.wait() == 0, "\(second.log)")
        #expect(second.log.contains("resumed"), "\(second.log)")
        let trials = try store.trials(robot: "cp-resume")
        #expect(trials.count == 4 && trials.allSatisfy { $0.status == .complete && $0.cycleID == 1 }, "4 trials, none repeated: \(trials)")
        let finished = try store.learningRounds(cycle: 1).filter { $0.policyVersion != nil }
        #expect(Set(finished.map(\.trainingTrials)).count == finished.count, "no round learned twice from the same trials")
        #expect(try store.cycleStatus(1)?.status != "running")
    }
}
