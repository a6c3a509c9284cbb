import Foundation
import Messages
import TestSupport
import Testing
import TrialStore

@Suite struct MCAPTests {
    @Test func crc32MatchesTheStandardCheckValue() {
        #expect(CRC32.of(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.of([]) == 0)
        var incremental = CRC32()
        incremental.update(Array("1234".utf8))
        incremental.update(Array("56789".utf8))
        #expect(incremental.value == 0xCBF4_3926)
    }

    static func storeWithTrials(_ dir: URL) throws -> TrialStore {
        let store = try TrialStore(path: dir.appendingPathComponent("store.sqlite").path)
        var items: [RecorderBatch.Item] = [.event(.robot(id: "cp", kind: "cartpole", atNs: 1))]
        for trial in Int64(1)...3 {
            items.append(.event(.trialStarted(id: trial, robot: "cp", task: "cartpole-angle", maxSteps: 40, policyVersion: trial, atNs: trial * 1_000_000_000)))
            for i in 0..<40 {
                items.append(.step(StoredStep(robotID: "cp", trialID: trial, sequence: UInt64(trial * 100 + Int64(i)), robotTimeNs: Int64(i),
                                              receivedNs: trial * 1_000_000_000 + Int64(i) * 100_000_000, state: [Double(i), 0, 1, .pi],
                                              control: [Double(i) / 10], policyVersion: UInt64(trial), status: 1, reason: 0, latencyNs: 5)))
            }
            items.append(.event(.trialEnded(id: trial, status: trial == 2 ? .aborted : .complete, reason: trial == 2 ? "emergency stop" : "",
                                            atNs: trial * 1_000_000_000 + 4_000_000_000)))
        }
        try store.write(RecorderBatch(items))
        return store
    }

    @Test func exportAndReadBackWithManyChunks() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try Self.storeWithTrials(dir)
        let bytes = try TrialExport.mcap(store: store, trials: [1, 2, 3], chunkSize: 1000)
        let reader = try MCAPReader(bytes)
        #expect(reader.messages.count == 3 * 42 && reader.channels.count == 4 && reader.schemas.count == 4)
        #expect(reader.schemas.values.allSatisfy { $0.data == ProtoDescriptors.fileDescriptorSet && $0.encoding == "protobuf" })
        let trials = try TrialExport.contents(mcap: bytes).trials
        #expect(trials.map(\.header.trialID) == [1, 3], "only complete trials come back")
        #expect(trials[1].steps == (try store.steps(trial: 3)), "every field, latencies included")
        #expect(trials[0].header.robotKind == .cartPole && trials[0].header.stateDimension == 4 && trials[0].header.policyVersion == 1)
    }

    @Test func corruptionIsDetected() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = try TrialExport.mcap(store: try Self.storeWithTrials(dir), trials: [1])
        var flipped = bytes
        flipped[bytes.count / 2] ^= 0x40
        #expect(throws: MCAPReader.Error.self) { try MCAPReader(flipped) }
        #expect(throws: MCAPReader.Error.self) { try MCAPReader(Array(bytes.prefix(bytes.count - 20))) }
        #expect(throws: MCAPReader.Error.self) { try MCAPReader(Array("not an mcap file at all".utf8)) }
    }

    /// An export is a backup: imported into an empty store, every trial, step and policy version
    /// comes back field by field (the trials' source says they were imported).
    @Test func anExportRestoresEverythingAStoreNeedsToCarryOn() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try Self.storeWithTrials(dir)
        let policy = try Pipps_V1_Policy.with {
            $0.version = 2; $0.robotKind = .cartPole; $0.stateDimension = 5; $0.controlDimension = 1; $0.controlLimits = [10]
            $0.linear = .with { $0.weights = [0.1, 0.2, 0.3, 0.4, 0.5]; $0.bias = [0.25] }; $0.learningRound = 7; $0.createdUnixNs = 123
        }.withChecksum()
        try store.write(RecorderBatch([.event(.policyDeployed(robot: "cp", version: 2, policy: try policy.serializedData(),
                                                              checksum: policy.checksum, atNs: 5_000_000_000))]))
        let bytes = try TrialExport.mcap(store: store, trials: [1, 2, 3])
        let contents = try TrialExport.contents(mcap: bytes)
        let restored = try TrialStore(path: dir.appendingPathComponent("restored.sqlite").path)
        let trials = contents.trials.map {
            ImportTrial(steps: $0.steps, originalID: Int64($0.header.trialID), policyVersion: Int64($0.header.policyVersion),
                        startedNs: $0.header.startedUnixNs, endedNs: $0.endedNs, maxSteps: Int($0.header.maxSteps))
        }
        let imported = try restored.importFiles([ImportFile(name: "backup.mcap", source: "mcap", sha256: "x", trials: trials, policies: contents.policies)],
                                                robot: "cp", kind: "cartpole", task: "cartpole-angle", keepIDs: true, nowNs: 9)
        #expect(imported.map(\.trialIDs) == [[1, 3]], "the original ids, free in an empty store")
        for id in [Int64(1), 3] {
            var original = try #require(try store.trial(id)), copy = try #require(try restored.trial(id))
            #expect(copy.source == "mcap")
            copy.source = original.source
            original.cost = nil; original.finalCost = nil; original.success = nil
            copy.cost = nil; copy.finalCost = nil; copy.success = nil
            #expect(copy == original)
            #expect(try restored.steps(trial: id) == store.steps(trial: id))
        }
        #expect(try restored.policies(robot: "cp") == store.policies(robot: "cp").map { var p = $0; p.learningRoundID = nil; return p },
                "every field but the learning round, which is the source store's")
        #expect(try restored.prepareForRuntime(nowNs: 10).nextTrialID == 4, "a runtime on the restored store carries on after the last id")
        // Imported again into the same store, ids kept or not: the ids are taken, so the imported range is used.
        let again = try restored.importFiles([ImportFile(name: "copy.mcap", source: "mcap", sha256: "y", trials: trials)],
                                             robot: "cp", kind: "cartpole", task: "cartpole-angle", keepIDs: true, nowNs: 11)
        #expect(again.map(\.trialIDs) == [[TrialStore.firstImportedTrialID, TrialStore.firstImportedTrialID + 1]])
        // The same file for another robot is another import; as another kind of robot, refused.
        let other = try restored.importFiles([ImportFile(name: "copy.mcap", source: "mcap", sha256: "y", trials: trials)],
                                             robot: "cp-2", kind: "cartpole", task: "cartpole-angle", nowNs: 12)
        #expect(other.map(\.alreadyImported) == [false] && other[0].trialIDs.count == 2)
        #expect(throws: TrialStoreError.self) {
            try restored.importFiles([ImportFile(name: "z.mcap", source: "mcap", sha256: "z", trials: trials)],
                                     robot: "cp", kind: "unicycle", task: "unicycle", nowNs: 13)
        }
        #expect(try restored.trials(robot: "cp").count == 4, "nothing of the refused import")
    }

    /// Without --keep-ids (a store a runtime may be using), an export's trials take the imported range.
    @Test func importsIntoALiveStoreNeverTakeTheRuntimesIDs() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let contents = try TrialExport.contents(mcap: try TrialExport.mcap(store: try Self.storeWithTrials(dir), trials: [1]))
        let live = try TrialStore(path: dir.appendingPathComponent("live.sqlite").path)
        let imported = try live.importFiles([ImportFile(name: "a.mcap", source: "mcap", sha256: "a",
                                                        trials: contents.trials.map { ImportTrial(steps: $0.steps, originalID: Int64($0.header.trialID)) })],
                                            robot: "cp", kind: "cartpole", task: "cartpole-angle", nowNs: 1)
        #expect(imported.map(\.trialIDs) == [[TrialStore.firstImportedTrialID]])
    }
}
