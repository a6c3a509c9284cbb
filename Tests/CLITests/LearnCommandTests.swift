import Foundation
import LinearAlgebra
import Messages
import Policies
import Robots
import TestSupport
import Testing
import TrialStore

@Suite("pipps learn")
struct LearnCommandTests {
    /// Two random cart-pole trials as `pipps simulate --trial N` writes them, concatenated (as the
    /// README says: the second run's header dropped).
    static func trialsCSV(in dir: URL) throws -> URL {
        var lines: [String] = []
        for seed in [1, 2] {
            let r = try runProcess(Binaries.pipps, ["simulate", "cartpole", "--policy", "random", "--seed", "\(seed)", "--trial", "\(seed)", "--format", "csv"])
            #expect(r.status == 0, "\(r.output)")
            let rows = r.output.split(separator: "\n").filter { !$0.hasPrefix("WARNING") && !$0.isEmpty }
            lines += lines.isEmpty ? rows.map(String.init) : rows.dropFirst().map(String.init)
        }
        let url = dir.appendingPathComponent("trials.csv")
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func learnsFromImportedTrialsAndStoresTheRound() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try Self.trialsCSV(in: dir)
        let storePath = dir.appendingPathComponent("store.sqlite").path
        let policyFile = dir.appendingPathComponent("p.json")
        let r = try runProcess(Binaries.pipps, ["learn", "--store", storePath, "--robot", "cp", "--task", "cartpole-angle", "--csv", csv.path,
                                                "--particles", "10", "--evaluations", "5", "--basis-count", "10", "--output", policyFile.path])
        #expect(r.status == 0, "\(r.output)")
        let line = try #require(r.output.split(separator: "\n").last { $0.hasPrefix("{") })
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let first = Int(TrialStore.firstImportedTrialID)
        #expect(summary["policy_version"] as? Int == 1 && summary["trials"] as? [Int] == [first, first + 1], "\(summary)")

        let store = try TrialStore(path: storePath)
        #expect(try store.trials(robot: "cp").map(\.source) == ["csv", "csv"])
        #expect(try store.steps(trial: Int64(first)).count == 31, "30 steps and the final state")
        let stored = try #require(try store.latestPolicy(robot: "cp"))
        let wire = try Pipps_V1_Policy(serializedBytes: stored.policy)
        let checksum = try wire.computedChecksum()
        #expect(stored.learningRoundID == 1 && wire.learningRound == 1 && wire.checksum == checksum)
        #expect(try PolicyFile.read(policyFile) == wire, "--output writes the stored policy")
        let round = try #require(try store.learningRounds(robot: "cp").first)
        #expect(round.policyVersion == 1 && round.trainingTrials == "[\(first),\(first + 1)]" && round.finishedNs != nil && round.predictedReturn != nil)

        #expect(summary["started_from_version"] is NSNull && r.output.contains("started from a random policy"), "\(r.output)")

        // A second round continues from the first policy and makes version 2.
        let again = try runProcess(Binaries.pipps, ["learn", "--store", storePath, "--robot", "cp", "--particles", "10", "--evaluations", "5"])
        #expect(again.status == 0 && again.output.contains("\"policy_version\":2") && again.output.contains("\"started_from_version\":1"), "\(again.output)")
        #expect(again.output.contains("started from the robot's policy version 1"), "\(again.output)")

        // A newer policy for another robot kind in the store (an old store, or an import): passed over.
        let rep = StateRepresentation(.unicycle)
        let linear = LinearPolicy(transform: InputTransform(stateDimension: rep.dimension, angleIndices: rep.angleIndices), controlLimits: RobotKind.unicycle.controlLimits,
                                  weights: Matrix(rows: 2, columns: InputTransform(stateDimension: rep.dimension, angleIndices: rep.angleIndices).inputDimension), bias: [0, 0])
        let unicycle = try Pipps_V1_Policy(linear, version: 3, robotKind: .unicycle).withChecksum()
        try store.insertPolicy(StoredPolicy(robotID: "cp", version: 3, createdNs: 1, policy: try unicycle.serializedData(), checksum: unicycle.checksum))
        let third = try runProcess(Binaries.pipps, ["learn", "--store", storePath, "--robot", "cp", "--particles", "10", "--evaluations", "5"])
        #expect(third.status == 0 && third.output.contains("\"policy_version\":4") && third.output.contains("\"started_from_version\":2"), "\(third.output)")
    }

    @Test func badInputIsAClearErrorAndCreatesNothing() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let storePath = dir.appendingPathComponent("store.sqlite").path
        let none = try runProcess(Binaries.pipps, ["learn", "--store", storePath, "--robot", "nobody"])
        #expect(none.status == 64 && none.output.contains("no trial store at \(storePath)"), "\(none.output)")
        #expect(!none.output.contains("Usage:"), "an error about the data is one line, without a usage: \(none.output)")
        let typo = dir.appendingPathComponent("rusn/store.sqlite").path
        let missingDirectory = try runProcess(Binaries.pipps, ["learn", "--store", typo, "--robot", "cp", "--csv", "x.csv"])
        #expect(missingDirectory.status != 0 && missingDirectory.output.contains("does not exist"), "\(missingDirectory.output)")
        let bad = dir.appendingPathComponent("bad.csv")
        try "trial,obs_x,obs_dx,obs_dtheta,obs_theta,force\n1,0,0,0,0,1\n1,0,zero,0,0,1\n".write(to: bad, atomically: true, encoding: .utf8)
        let r = try runProcess(Binaries.pipps, ["learn", "--store", storePath, "--robot", "cp", "--csv", bad.path])
        #expect(r.status != 0 && r.output.contains("bad.csv:3") && r.output.contains("column obs_dx"), "\(r.output)")
        #expect(!FileManager.default.fileExists(atPath: storePath), "a failed first import leaves no store behind")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("rusn").path), "nor a directory")
        let unknownTask = try runProcess(Binaries.pipps, ["learn", "--store", storePath, "--robot", "cp", "--task", "cartpol"])
        #expect(unknownTask.status != 0 && unknownTask.output.contains("unknown --task 'cartpol'"), "\(unknownTask.output)")
        #expect(unknownTask.output.contains("Usage: pipps learn"), "a usage error shows the subcommand's usage: \(unknownTask.output)")
        // Policy files: a missing one and a CSV are one clear line each.
        let missing = try runProcess(Binaries.pipps, ["admin", "deploy", "cp", dir.appendingPathComponent("nope.json").path])
        #expect(missing.status == 64 && missing.output.contains("no policy file at") && !missing.output.contains("NSCocoaErrorDomain")
                && !missing.output.contains("Usage:"), "\(missing.output)")
        let notAPolicy = try runProcess(Binaries.pipps, ["admin", "deploy", "cp", bad.path])
        #expect(notAPolicy.status == 64 && notAPolicy.output.contains("bad.csv is not a pipps.v1.Policy"), "\(notAPolicy.output)")
    }

    typealias Row = (trial: String, t: Double)

    /// Rows of one trial at 10 Hz, steps `range`.
    static func rows(_ trial: String, _ range: Range<Int>) -> [Row] {
        range.map { (trial: trial, t: 0.1 * Double($0)) }
    }

    /// A cart-pole CSV written by hand: rows of (trial, t), observed and true columns as asked.
    static func csv(_ rows: [Row], columns: [String] = ["obs_x", "obs_dx", "obs_dtheta", "obs_theta"]) -> String {
        var text = (["t", "trial"] + columns + ["force"]).joined(separator: ",") + "\n"
        for (i, row) in rows.enumerated() {
            let state = (0..<columns.count).map { j in String(0.01 * Double(i + j)) }
            text += (["\(row.t)", row.trial] + state + [String(Double(i % 7) - 3)]).joined(separator: ",") + "\n"
        }
        return text
    }

    static let quick = ["--particles", "2", "--evaluations", "1", "--basis-count", "2"]

    @Test func importsTakeOnlyWhatTheUserMeant() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let storePath = dir.appendingPathComponent("store.sqlite").path
        func write(_ name: String, _ text: String) throws -> String {
            let url = dir.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        func learn(_ extra: [String]) throws -> (status: Int32, output: String) {
            try runProcess(Binaries.pipps, ["learn", "--store", storePath, "--robot", "cp"] + Self.quick + extra)
        }
        // A firmware-sim trace: idle rows (trial 0) before and after a 30-step trial, at 10 Hz.
        let trace: [Row] = Self.rows("0", 0..<5) + Self.rows("7", 5..<35) + Self.rows("0", 35..<40)
        let traceFile = try write("trace.csv", Self.csv(trace))
        let first = try learn(["--task", "cartpole", "--csv", traceFile])
        #expect(first.status == 0 && first.output.contains("left out 10 rows outside any trial"), "\(first.output)")
        var store = try TrialStore(path: storePath)
        let trials = try store.trials(robot: "cp")
        #expect(trials.count == 1 && trials[0].task == "cartpole-angle", "the alias is stored as the task's name: \(trials)")
        #expect(try store.steps(trial: trials[0].id).count == 30, "only the trial's rows")
        #expect(trials[0].cost != nil && trials[0].success != nil, "an imported trial's cost is stored: \(trials[0])")
        // The same file again: recognised, nothing added.
        let again = try learn(["--csv", traceFile])
        #expect(again.status == 0 && again.output.contains("was imported before (trials \(trials[0].id))"), "\(again.output)")
        #expect(try store.trials(robot: "cp").count == 1)
        // Two files, the second bad: neither is imported.
        let good = try write("good.csv", Self.csv(Self.rows("1", 0..<10)))
        let gap = try write("gap.csv", Self.csv(Self.rows("1", 0..<5) + [(trial: "1", t: 0.9)]))
        let atomic = try learn(["--csv", good, "--csv", gap])
        #expect(atomic.status != 0 && atomic.output.contains("gap.csv:7") && atomic.output.contains("jumps from t = 0.4 to 0.9"), "\(atomic.output)")
        #expect(try store.trials(robot: "cp").count == 1, "nothing of good.csv either")
        // A trial interrupted by another: refused.
        let split = try write("split.csv", Self.csv([(trial: "1", t: 0), (trial: "2", t: 0), (trial: "1", t: 0.1)]))
        let interleaved = try learn(["--csv", split])
        #expect(interleaved.status != 0 && interleaved.output.contains("split.csv:4: trial 1 goes on after other rows"), "\(interleaved.output)")
        // One observed column missing: refused, naming it; none at all: only with --true-states.
        let partial = try write("partial.csv", Self.csv(Self.rows("1", 0..<5),
                                                        columns: ["obs_x", "obs_dx", "dtheta", "obs_theta"]))
        let mixed = try learn(["--csv", partial])
        #expect(mixed.status != 0 && mixed.output.contains("missing observed-state column obs_dtheta ("), "\(mixed.output)")
        let truth = try write("truth.csv", Self.csv(Self.rows("1", 0..<5), columns: ["x", "dx", "dtheta", "theta"]))
        let refused = try learn(["--csv", truth])
        #expect(refused.status != 0 && refused.output.contains("--true-states"), "\(refused.output)")
        let allowed = try learn(["--csv", truth, "--true-states"])
        #expect(allowed.status == 0, "\(allowed.output)")
        store = try TrialStore(path: storePath)
        #expect(try store.trials(robot: "cp").count == 2)
        // Missing control column: the missing one is named.
        let noForce = try write("noforce.csv", "t,trial,obs_x,obs_dx,obs_dtheta,obs_theta\n0,1,0,0,0,0\n")
        let controls = try learn(["--csv", noForce])
        #expect(controls.status != 0 && controls.output.contains("missing control column force"), "\(controls.output)")
    }
}
