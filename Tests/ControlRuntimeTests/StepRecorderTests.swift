import ControlRuntime
import Foundation
import Logging
import Robots
import TestSupport
import Testing
import TrialStore

@Suite struct StepRecorderTests {
    @Test func storesStepsAndEventsInOrderAndCountsDrops() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try TrialStore(path: dir.appendingPathComponent("store.sqlite").path)
        // Capacity 8 and the writer not started yet: the ninth and tenth steps find the queue full.
        let recorder = StepRecorder(store: store, capacity: 8)
        #expect(recorder.robotRegistered("cp", kind: .cartPole) == 0)
        #expect(recorder.robotRegistered("uni", kind: .unicycle) == 1)
        #expect(recorder.robotRegistered("cp", kind: .cartPole) == 0, "a robot keeps its index when it registers again")
        recorder.policyDeployed(robot: "cp", version: 4, policy: Data([1, 2]), checksum: "")
        recorder.trialStarted(id: 11, robot: "cp", task: "cartpole-swingup", maxSteps: 5, policyVersion: 4)
        func record(_ i: Int, trial: UInt64, robot: UInt32 = 0) {
            let state = [Double(i), 0.5, -1, .pi], control = [Double(i) / 100]
            state.withUnsafeBufferPointer { s in
                control.withUnsafeBufferPointer { c in
                    recorder.record(robotIndex: robot, trialID: trial, sequence: UInt64(i), robotTime: Int64(i) * 1000, received: Int64(i) * 2000,
                                    state: s, control: c, policyVersion: 4, status: 1, reason: 0, latency: 42)
                }
            }
        }
        for i in 1...5 { record(i, trial: 11) }
        recorder.trialEnded(id: 11, status: .complete, reason: "")
        for i in 6...10 { record(i, trial: 0, robot: i == 6 ? 1 : 0) }
        #expect(recorder.counts.dropped == 2)
        recorder.start()
        recorder.stop()
        #expect(recorder.counts.recorded == 8 && recorder.counts.dropped == 2)

        let trial = try #require(try store.trial(11))
        #expect(trial.status == .complete && trial.policyVersion == 4 && trial.maxSteps == 5)
        let steps = try store.steps(trial: 11)
        #expect(steps.map(\.sequence) == [1, 2, 3, 4, 5] && steps.allSatisfy { $0.robotID == "cp" && $0.latencyNs == 42 })
        #expect(steps[2].state == [3, 0.5, -1, .pi] && steps[2].control == [0.03] && steps[2].robotTimeNs == 3000)
        // Receive times are on the wall clock (the monotonic time plus a fixed offset).
        #expect(steps[1].receivedNs - steps[0].receivedNs == 2000 && steps[0].receivedNs > 1_600_000_000_000_000_000)
        let outside = try store.steps(trial: 0)
        #expect(outside.map(\.sequence) == [6, 7, 8] && outside[0].robotID == "uni" && outside[1].robotID == "cp")
        #expect(try store.latestPolicy(robot: "cp")?.version == 4)
        #expect(try store.read { try String.fetchAll($0, sql: "SELECT id FROM robot ORDER BY id") } == ["cp", "uni"])
    }

    @Test func everyStepIsStoredOrCountedWhileTheWriterRuns() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try TrialStore(path: dir.appendingPathComponent("store.sqlite").path)
        let recorder = StepRecorder(store: store, capacity: 1024, flushInterval: 0.01)
        recorder.start()
        let index = recorder.robotRegistered("cp", kind: .cartPole)
        let state = [0.0, 0, 0, 0], control = [0.0]
        for i in 1...20_000 {
            state.withUnsafeBufferPointer { s in
                control.withUnsafeBufferPointer { c in
                    recorder.record(robotIndex: index, trialID: 0, sequence: UInt64(i), robotTime: 0, received: 0, state: s, control: c,
                                    policyVersion: 0, status: 1, reason: 0, latency: 0)
                }
            }
            // Every 2,000 steps (twice the queue), wait until the writer has caught up, so that it
            // drains the queue many times however busy the machine is (bounded: a hang fails).
            if i % 2000 == 0 {
                let limit = Date().addingTimeInterval(60)
                while recorder.counts.recorded + recorder.counts.dropped < UInt64(i), Date() < limit { Thread.sleep(forTimeInterval: 0.002) }
            }
        }
        recorder.stop()
        // Whether a debug build on a busy machine keeps up is for `pipps bench`; here: every step is
        // either stored or counted, and the writer drained the queue many times over while it ran.
        let counts = recorder.counts
        #expect(counts.recorded + counts.dropped == 20_000)
        #expect(counts.recorded >= 10 * 1024, "each of the 10 waits found an empty queue, which takes 1,024 steps: \(counts)")
        #expect(try store.stepCount() == Int(counts.recorded))
        let sequences = try store.steps(trial: 0).map(\.sequence)
        #expect(sequences == sequences.sorted() && Set(sequences).count == sequences.count, "stored in order, none twice")
    }
}

@Suite struct RecordedTrialOutcomeTests {
    /// The runtime's trial ends reach the store with the right status: run to max_steps or stopped
    /// by an operator → complete; stopped with `abort` (the scheduler's overrun), e-stop, robot gone → aborted.
    @Test func trialEndsAreRecordedAsCompleteOrAborted() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try TrialStore(path: dir.appendingPathComponent("store.sqlite").path)
        let recorder = StepRecorder(store: store)
        let core = RuntimeCore(settings: RuntimeSettings(), now: 0, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        core.recording = recorder
        let robot = VirtualRobot("r", routing: 1)
        _ = robot.hello(core, now: 0)
        func start() -> UInt64 { core.admin(.with { $0.startTrial = .with { $0.robotID = "r"; $0.task = "t"; $0.maxSteps = 100 } }, now: 0).reply.trialID }
        func stop(abort: Bool) -> Bool { core.admin(.with { $0.stopTrial = .with { $0.robotID = "r"; $0.abort = abort } }, now: 0).reply.ok }
        let kept = start()
        #expect(stop(abort: false))
        let aborted = start()
        #expect(stop(abort: true))
        let stopped = start()
        _ = core.admin(.with { $0.emergencyStop = .with { $0.robotID = "r" } }, now: 0)
        recorder.start()
        recorder.stop()
        #expect(try store.trial(Int64(kept))?.status == .complete)
        #expect(try store.trial(Int64(aborted))?.status == .aborted)
        #expect(try store.trial(Int64(stopped)).map { ($0.status, $0.reason) } ?? (.running, "") == (.aborted, "emergency stop"))
    }
}

@Suite struct RuntimeServerStoreTests {
    /// A runtime restarted on a store knows the kinds of the robots the store has seen: a deploy of
    /// another kind's policy to one of them is refused while it is offline.
    @Test func aRestartedRuntimeChecksDeploysAgainstTheKindsInTheStore() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let configuration = RuntimeConfiguration.loopback(store: dir)
        let quiet = Logger(label: "store") { _ in SwiftLogNoOpLogHandler() }
        do {
            let first = try RuntimeServer(configuration: configuration, logger: quiet)
            _ = first.core.hello(.with {
                $0.robotID = "cp-offline"; $0.kind = .cartPole; $0.stateDimension = 4; $0.controlDimension = 1; $0.protocolVersion = 1
            }, routingID: [0, 1], now: 0)
            first.recorder?.stop()  // commits the registration
        }
        let second = try RuntimeServer(configuration: configuration, logger: quiet)
        #expect(throws: PolicyRefusal.self) {
            try second.core.deploy(TestPolicies.constant(.unicycle, version: 1, bias: 0), robot: "cp-offline", now: 0)
        }
        try second.core.deploy(TestPolicies.constant(.cartPole, version: 1, bias: 0), robot: "cp-offline", now: 0)
    }
}

extension RuntimeConfiguration {
    /// A runtime on free loopback ports, recording to `store.sqlite` in `dir`.
    static func loopback(store dir: URL) -> RuntimeConfiguration {
        var configuration = RuntimeConfiguration()
        configuration.robotEndpoint = "tcp://127.0.0.1:*"
        configuration.adminEndpoint = "tcp://127.0.0.1:*"
        configuration.storePath = dir.appendingPathComponent("store.sqlite").path
        return configuration
    }
}
