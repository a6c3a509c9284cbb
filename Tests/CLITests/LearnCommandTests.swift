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
    /// Two random cart-pole trials as `pipps simulate` writes them, with a `trial` column added.
    static func trialsCSV(in dir: URL) throws -> URL {
        var lines: [String] = []
        for seed in [1, 2] {
            let r = try runProcess(Binaries.pipps, ["simulate", "cartpole", "--policy", "random", "--seed", "\(seed)", "--format", "csv"])
            #expect(r.status == 0, "\(r.output)")
            let rows = r.output.split(separator: "\n").filter { !$0.hasPrefix("WARNING") && !$0.isEmpty }
            if lines.isEmpty { lines.append("trial," + rows[0]) }
            lines += rows.dropFirst().map { "\(seed)," + $0 }
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

    @Test func badInputIsAClearError() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let storePath = dir.appendingPathComponent("store.sqlite").path
        let none = try runProcess(Binaries.pipps, ["learn", "--store", storePath, "--robot", "nobody"])
        #expect(none.status != 0 && none.output.contains("no complete trial of nobody"), "\(none.output)")
        let bad = dir.appendingPathComponent("bad.csv")
        try "trial,obs_x,obs_dx,obs_dtheta,obs_theta,force\n1,0,0,0,0,1\n1,0,zero,0,0,1\n".write(to: bad, atomically: true, encoding: .utf8)
        let r = try runProcess(Binaries.pipps, ["learn", "--store", storePath, "--robot", "cp", "--csv", bad.path])
        #expect(r.status != 0 && r.output.contains("bad.csv:3") && r.output.contains("obs_dx"), "\(r.output)")
        #expect(try TrialStore(path: storePath).trials().isEmpty, "nothing imported from a bad file")
    }
}
