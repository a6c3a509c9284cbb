import Foundation
import TestSupport
import Testing
@testable import TrialStore
import GRDB

@Suite struct TrialStoreTests {
    static func step(_ robot: String, trial: Int64, _ i: Int) -> StoredStep {
        StoredStep(robotID: robot, trialID: trial, sequence: UInt64(i), robotTimeNs: Int64(i) * 100_000_000, receivedNs: 1_700_000_000_000_000_000 + Int64(i),
                   state: [Double(i), -0.5, .pi, 1e-300], control: [Double(i) / 10], policyVersion: 3, status: 1, reason: 0, latencyNs: 12_000)
    }

    @Test func recordsTrialsAndStepsAndReadsThemBack() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try TrialStore(path: dir.appendingPathComponent("runs/store.sqlite").path)
        #expect(try store.appliedMigrations() == ["v1", "v2", "v3"])
        #expect(try store.prepareForRuntime(nowNs: 1).nextTrialID == 1)

        let batch = RecorderBatch([.event(.robot(id: "cp", kind: "cartpole", atNs: 5)), .step(Self.step("cp", trial: 0, 0)),
                                   .event(.trialStarted(id: 1, robot: "cp", task: "cartpole-swingup", maxSteps: 3, policyVersion: 3, atNs: 6))]
                                  + (1...3).map { .step(Self.step("cp", trial: 1, $0)) }
                                  + [.event(.trialEnded(id: 1, status: .complete, reason: "", atNs: 9))])
        #expect(batch.stepCount == 4)
        try store.write(batch)

        let trial = try #require(try store.trial(1))
        #expect(trial.status == .complete && trial.robotID == "cp" && trial.task == "cartpole-swingup" && trial.endedNs == 9 && trial.policyVersion == 3)
        let steps = try store.steps(trial: 1)
        #expect(steps == (1...3).map { Self.step("cp", trial: 1, $0) }, "every field round-trips, doubles bit for bit")
        #expect(try store.steps(trial: 0).count == 1 && store.stepCount() == 4 && store.stepCount(trial: 1) == 3)
        #expect(try store.trials(robot: "cp", task: "cartpole-swingup", statuses: [.complete]).map(\.id) == [1])
        #expect(try store.trials(statuses: [.aborted]).isEmpty)
        #expect(try store.prepareForRuntime(nowNs: 10).robotKinds == ["cp": "cartpole"], "the kind each robot registered as")
    }

    @Test func aRunningTrialIsAbortedAtTheNextStartAndIdsGoOn() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("store.sqlite").path
        do {
            let store = try TrialStore(path: path)
            try store.write(RecorderBatch([.event(.trialStarted(id: 7, robot: "cp", task: "t", maxSteps: 30, policyVersion: 0, atNs: 1))]
                                          + (1...5).map { .step(Self.step("cp", trial: 7, $0)) }))
        }
        // A second process opening the same file (as after a crash): the trial is cut short.
        let reopened = try TrialStore(path: path)
        let prepared = try reopened.prepareForRuntime(nowNs: 99)
        #expect(prepared.aborted == [7] && prepared.nextTrialID == 8)
        let trial = try #require(try reopened.trial(7))
        #expect(trial.status == .aborted && trial.reason.contains("crash") && trial.endedNs == Self.step("cp", trial: 7, 5).receivedNs)
        #expect(try reopened.stepCount(trial: 7) == 5, "no step lost")
        #expect(try reopened.prepareForRuntime(nowNs: 100).aborted.isEmpty)
    }

    @Test func importsAndPolicies() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try TrialStore(path: dir.appendingPathComponent("store.sqlite").path)
        let id = try store.importTrial(robot: "uni", kind: "unicycle", task: "unicycle", source: "csv",
                                       steps: (0..<4).map { Self.step("x", trial: 0, $0) }, nowNs: 5)
        #expect(id == TrialStore.firstImportedTrialID, "imports have their own id range")
        let imported = try #require(try store.trial(id))
        #expect(imported.source == "csv" && imported.status == .complete && imported.robotID == "uni")
        #expect(try store.steps(trial: id).allSatisfy { $0.robotID == "uni" && $0.trialID == id })
        #expect(try store.prepareForRuntime(nowNs: 6).nextTrialID == 1, "imports do not move the runtime's trial ids")
        #expect(try store.importTrial(robot: "uni", kind: "unicycle", task: "unicycle", source: "csv", steps: [], nowNs: 7) == id + 1)
        // A trial start never replaces an existing trial.
        try store.write(RecorderBatch([.event(.trialStarted(id: id, robot: "other", task: "t", maxSteps: 1, policyVersion: 0, atNs: 8))]))
        #expect(try store.trial(id)?.robotID == "uni")

        #expect(try store.nextPolicyVersion(robot: "uni") == 1)
        try store.insertPolicy(StoredPolicy(robotID: "uni", version: 1, createdNs: 1, policy: Data([1, 2, 3]), checksum: "a"))
        try store.insertPolicy(StoredPolicy(robotID: "uni", version: 2, createdNs: 2, policy: Data([4]), checksum: "b"))
        #expect(throws: (any Error).self) {
            try store.insertPolicy(StoredPolicy(robotID: "uni", version: 2, createdNs: 3, policy: Data(), checksum: "c"))
        }
        #expect(try store.latestPolicy(robot: "uni")?.checksum == "b" && store.nextPolicyVersion(robot: "uni") == 3)
        try store.write(RecorderBatch([.event(.policyDeployed(robot: "uni", version: 2, policy: Data([9]), checksum: "z", atNs: 42))]))
        #expect(try store.latestPolicy(robot: "uni")?.deployedNs == 42 && store.latestPolicy(robot: "uni")?.policy == Data([4]),
                "a known version is marked deployed, not replaced")
        try store.write(RecorderBatch([.event(.policyDeployed(robot: "uni", version: 5, policy: Data([5]), checksum: "e", atNs: 43))]))
        #expect(try store.latestPolicy(robot: "uni") == StoredPolicy(robotID: "uni", version: 5, createdNs: 43, deployedNs: 43, policy: Data([5]), checksum: "e"),
                "a version deployed from elsewhere is stored")
    }

    @Test func doublesAreStoredExactly() {
        let values: [Double] = [0, -0.0, 1, .pi, -1e308, .leastNonzeroMagnitude, .infinity, -.infinity]
        let back = DoubleBlob.decode(DoubleBlob.encode(values))
        #expect(back.map(\.bitPattern) == values.map(\.bitPattern))
        #expect(DoubleBlob.decode(DoubleBlob.encode([.nan]))[0].isNaN)
        #expect(DoubleBlob.encode([1, 2]).count == 16)
    }

    @Test func anUnwritablePathIsAClearError() {
        #expect(throws: (any Error).self) { try TrialStore(path: "/proc/pipps-no-such-dir/store.sqlite") }
    }

    /// Migration v3 renames task aliases stored by earlier versions, so that learning finds those trials.
    @Test func storesWithTaskAliasesAreMigratedToTheTaskNames() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("old.sqlite").path
        do {
            let pool = try DatabasePool(path: path)
            try TrialStore.migrator.migrate(pool, upTo: "v2")
            try pool.write { db in
                for (id, task) in [(1, "cartpole-swingup"), (2, "cartpole"), (3, "unicycle-balance"), (4, "cartpole-tip")] {
                    try db.execute(sql: "INSERT INTO trial (id, robot_id, task, max_steps, status, started_ns) VALUES (?, 'r', ?, 30, 'complete', 0)",
                                   arguments: [id, task])
                }
            }
        }
        let store = try TrialStore(path: path)
        #expect(try store.appliedMigrations() == ["v1", "v2", "v3"])
        #expect(try store.trials().map(\.task) == ["cartpole-angle", "cartpole-angle", "unicycle", "cartpole-tip"])
    }
}
