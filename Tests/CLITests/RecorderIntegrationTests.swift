import ControlRuntime
import Foundation
import Messages
import Robots
import TestSupport
import Testing
import TrialStore
import ZeroMQ

/// The recorder with the real processes: `pipps serve --store` and `firmware-sim` on loopback.
@Suite("Recorder with real processes", .serialized)
struct RecorderIntegrationTests {
    /// Waits until `robot` has a session in the runtime.
    static func waitUntilRegistered(_ robot: String, _ admin: AdminClient, timeout: Double = 120) throws {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if try admin.perform(.status(.init())).status.robots.contains(where: { $0.robotID == robot }) { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestFailure("\(robot) did not register within \(timeout) s")
    }

    static func summary(_ process: BackgroundProcess) throws -> [String: Any] {
        try #require(process.output.last.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] },
                     "no summary: \(process.log)")
    }

    @Test func everyAnsweredStepIsStoredWithItsTrial() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let storePath = dir.appendingPathComponent("runs/store.sqlite").path
        let serve = try ServeProcess(["--insecure", "--store", storePath])
        let admin = try serve.adminClient()
        try admin.perform(.deploy(.with { $0.robotID = "cp-rec"; $0.policy = try balancingPolicy(version: 3) }))
        let sim = try BackgroundProcess(Binaries.firmwareSim, [
            "cartpole", "--connect", serve.robots, "--id", "cp-rec", "--task", "cartpole-balance",
            "--initial", "0,0,0,3.1", "--noise", "0.01", "--lockstep", "--steps", "1500", "--watchdog-ms", "10000",
        ])
        try Self.waitUntilRegistered("cp-rec", admin)
        let started = try admin.perform(.startTrial(.with { $0.robotID = "cp-rec"; $0.task = "cartpole-balance"; $0.maxSteps = 30 }))
        #expect(started.trialID == 1)
        #expect(sim.wait() == 0, "\(sim.log)")
        let status = try admin.perform(.status(.init())).status
        #expect(serve.process.stop() == 0, "clean shutdown stores what is queued: \(serve.process.log)")

        let summary = try Self.summary(sim)
        let steps = summary["steps"] as? Int ?? -1, watchdog = summary["watchdog_trips"] as? Int ?? -1
        let late = summary["late_controls"] as? Int ?? -1
        #expect(steps == 1500 && summary["send_failures"] as? Int == 0, "\(summary)")
        let store = try TrialStore(path: storePath)
        let answered = steps - watchdog + late
        #expect(try store.stepCount() == answered, "stored steps = states the runtime answered (\(summary))")
        #expect(status.stepsDropped == 0)
        let trial = try #require(try store.trial(1))
        #expect(trial.status == .complete && trial.robotID == "cp-rec" && trial.task == "cartpole-balance" && trial.policyVersion == 3)
        let trialSteps = try store.steps(trial: 1)
        #expect(trialSteps.count == 30, "exactly max_steps steps belong to the trial")
        #expect(serve.process.log.contains("steps=30"), "the runtime's log counts the trial's last step: \(serve.process.log)")
        // What the trial cost by its task, stored when it completed, and listed by `pipps trials`.
        let expected = try #require(Task.named("cartpole-balance")?.outcome(observedStates: trialSteps.map(\.state)))
        #expect(trial.cost == expected.cost && trial.finalCost == expected.finalCost && trial.success == expected.success, "\(trial)")
        let listed = try runProcess(Binaries.pipps, ["trials", "--store", storePath, "--json"])
        let row = try #require(listed.output.split(separator: "\n").first { $0.contains("\"id\":1,") }, "\(listed.output)")
        struct Listed: Decodable { let cost: Double; let steps: Int; let success: Bool }
        let object = try JSONDecoder().decode(Listed.self, from: Data(row.utf8))
        #expect(object.cost == expected.cost && object.steps == 30 && object.success == expected.success, "\(row)")
        let table = try runProcess(Binaries.pipps, ["trials", "--store", storePath, "--robot", "cp-rec"])
        #expect(table.status == 0 && table.output.contains(String(format: "%.2f", expected.cost)), "\(table.output)")
        #expect(zip(trialSteps, trialSteps.dropFirst()).allSatisfy { $1.sequence == $0.sequence + 1 }, "consecutive, none missing")
        #expect(trialSteps.allSatisfy { $0.state.count == 4 && $0.control.count == 1 && $0.status == Pipps_V1_ControlStatus.ok.rawValue })
        #expect(try store.latestPolicy(robot: "cp-rec").map { ($0.version, $0.deployedNs != nil) } ?? (0, false) == (3, true),
                "the deployed policy is in the store")
    }

    @Test func killingTheRuntimeLosesNoCommittedStepAndAbortsTheTrial() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let storePath = dir.appendingPathComponent("store.sqlite").path
        let first = try ServeProcess(["--insecure", "--store", storePath])
        let admin = try first.adminClient()
        try admin.perform(.deploy(.with { $0.robotID = "cp-kill"; $0.policy = try balancingPolicy(version: 1) }))
        let sim = try BackgroundProcess(Binaries.firmwareSim, [
            "cartpole", "--connect", first.robots, "--id", "cp-kill", "--task", "cartpole-balance",
            "--initial", "0,0,0,3.1", "--noise", "0.01", "--lockstep", "--steps", "1000000",
        ])
        defer { _ = sim.stop(signal: SIGKILL) }
        try Self.waitUntilRegistered("cp-kill", admin)
        try admin.perform(.startTrial(.with { $0.robotID = "cp-kill"; $0.task = "cartpole-balance"; $0.maxSteps = 0 }))
        // Kill it once more than 10 steps of the trial are committed (bounded wait).
        let limit = Date().addingTimeInterval(120)
        while Date() < limit, (try? TrialStore(path: storePath).steps(trial: 1).count) ?? 0 <= 10 { Thread.sleep(forTimeInterval: 0.05) }
        _ = first.process.stop(signal: SIGKILL)

        // What the killed runtime committed: a prefix of the trial, in order, without holes.
        let before = try TrialStore(path: storePath)
        #expect(try before.trial(1)?.status == .running)
        let committed = try before.steps(trial: 1)
        #expect(committed.count > 10, "steps were committed before the kill")
        #expect(zip(committed, committed.dropFirst()).allSatisfy { $1.sequence == $0.sequence + 1 })

        // The next runtime on the same store marks the trial aborted and continues the trial ids.
        let second = try ServeProcess(["--insecure", "--store", storePath])
        defer { _ = second.process.stop() }
        let after = try #require(try before.trial(1))
        #expect(after.status == .aborted && after.reason.contains("crash"), "\(after)")
        #expect(try before.steps(trial: 1) == committed, "no committed step lost")
        let robot = try RawRobot(endpoint: second.robots, id: "next")
        #expect(try robot.hello()?.accepted == true)
        let next = try second.adminClient().perform(.startTrial(.with { $0.robotID = "next"; $0.task = "cartpole-balance"; $0.maxSteps = 5 }))
        #expect(next.trialID == 2, "trial ids continue from the store")
    }
}
