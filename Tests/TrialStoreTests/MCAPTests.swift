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
        #expect(reader.messages.count == 3 * 42 && reader.channels.count == 3 && reader.schemas.count == 3)
        #expect(reader.schemas.values.allSatisfy { $0.data == ProtoDescriptors.fileDescriptorSet && $0.encoding == "protobuf" })
        let trials = try TrialExport.trials(mcap: bytes)
        #expect(trials.map(\.header.trialID) == [1, 3], "only complete trials come back")
        #expect(trials[1].steps == (try store.steps(trial: 3)).map { var s = $0; s.latencyNs = 0; return s })
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
}
