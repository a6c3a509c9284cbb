import Foundation
import TestSupport
import Testing
import TrialStore

/// `pipps export mcap`, read back by the standard `mcap` Python package (written independently of
/// this project's writer), and imported again by `pipps learn --mcap`.
@Suite("pipps export mcap")
struct ExportCommandTests {
    @Test func theStandardReaderReadsTheExportAndLearnImportsIt() throws {
        try #require(FileManager.default.isExecutableFile(atPath: PythonReferenceClientTests.python), "`make test` creates .venv-client")
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try LearnCommandTests.trialsCSV(in: dir)
        let storePath = dir.appendingPathComponent("store.sqlite").path
        let imported = try runProcess(Binaries.pipps, ["learn", "--store", storePath, "--robot", "cp", "--csv", csv.path,
                                                       "--particles", "5", "--evaluations", "2", "--basis-count", "5"])
        #expect(imported.status == 0, "\(imported.output)")
        let file = dir.appendingPathComponent("trials.mcap")
        let export = try runProcess(Binaries.pipps, ["export", "mcap", "--store", storePath, "-o", file.path, "--chunk-size", "2000"])
        #expect(export.status == 0 && export.output.contains("2 trial(s)"), "\(export.output)")

        let read = try runProcess(PythonReferenceClientTests.python, [
            RepositoryPaths.root.appendingPathComponent("deploy/reference-client/mcap_summary.py").path, file.path,
        ])
        #expect(read.status == 0, "\(read.output)")
        let line = try #require(read.output.split(separator: "\n").last { $0.hasPrefix("{") })
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(summary["message_count"] as? Int == 2 + 62 + 2 + 1, "two trials and the one policy version: \(summary)")
        #expect((summary["chunk_count"] as? Int ?? 0) > 1 && summary["chunk_indexes"] as? Int == summary["chunk_count"] as? Int)
        #expect(summary["schemas"] as? [String] == ["pipps.v1.PolicyRecord", "pipps.v1.TrialEnd", "pipps.v1.TrialHeader", "pipps.v1.TrialStep"])
        let policies = try #require(summary["policies"] as? [[String: Any]])
        let storedPolicy = try #require(try TrialStore(path: storePath).latestPolicy(robot: "cp"))
        #expect(policies.count == 1 && policies[0]["checksum"] as? String == storedPolicy.checksum, "\(policies)")
        let trials = try #require(summary["trials"] as? [String: [String: Any]])
        let first = TrialStore.firstImportedTrialID, one = "\(first)", two = "\(first + 1)"
        #expect(trials[one]?["steps"] as? Int == 31 && trials[one]?["outcome"] as? String == "TRIAL_OUTCOME_COMPLETE" && trials[two]?["robot"] as? String == "cp")
        // Every value intact: the sums Python computes over the decoded steps equal the store's, in the same order.
        let original = try TrialStore(path: storePath)
        for id in [first, first + 1] {
            let steps = try original.steps(trial: id)
            let states = steps.reduce(0.0) { $0 + $1.state.reduce(0, +) }, controls = steps.reduce(0.0) { $0 + $1.control.reduce(0, +) }
            let read = (trials["\(id)"]?["state_sum"] as? String).flatMap(Double.init), readControls = (trials["\(id)"]?["control_sum"] as? String).flatMap(Double.init)
            #expect(read == states && readControls == controls, "trial \(id): \(String(describing: read)) vs \(states)")
        }
        let linear = try #require(summary["linear"] as? [String: Any])
        #expect(linear["messages"] as? Int == 67 && linear["data_end"] as? Bool == true)

        // A flipped byte fails the standard reader's CRC checks.
        var bytes = try Data(contentsOf: file)
        bytes[bytes.count / 3] ^= 0x10
        let corrupt = dir.appendingPathComponent("corrupt.mcap")
        try bytes.write(to: corrupt)
        let refused = try runProcess(PythonReferenceClientTests.python, [
            RepositoryPaths.root.appendingPathComponent("deploy/reference-client/mcap_summary.py").path, corrupt.path,
        ])
        #expect(refused.status != 0)

        // The export feeds another store.
        let other = dir.appendingPathComponent("other.sqlite").path
        let again = try runProcess(Binaries.pipps, ["learn", "--store", other, "--robot", "cp2", "--mcap", file.path,
                                                    "--particles", "5", "--evaluations", "2", "--basis-count", "5"])
        #expect(again.status == 0, "\(again.output)")
        // It carries on from the exported policy (as cp2's version 1), not from a random one.
        #expect(again.output.contains("\"started_from_version\":1") && again.output.contains("\"policy_version\":2"), "\(again.output)")
        let copy = try TrialStore(path: other)
        #expect(try copy.steps(trial: first + 1).map { var s = $0; s.robotID = "cp"; return s } == original.steps(trial: first + 1),
                "every field of every step")
        #expect(try copy.trials().map(\.source) == ["mcap", "mcap"])
        // Keeping the export's ids is for a new store only.
        let keep = try runProcess(Binaries.pipps, ["learn", "--store", other, "--robot", "cp2", "--mcap", file.path, "--keep-ids"])
        #expect(keep.status == 64 && keep.output.contains("--keep-ids restores into a new store only"), "\(keep.output)")
        #expect(try copy.policy(robot: "cp2", version: 1).map { ($0.policy, $0.checksum) } ?? (Data(), "") == (storedPolicy.policy, storedPolicy.checksum))
    }
}
