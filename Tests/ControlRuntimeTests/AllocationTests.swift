import CAllocationCounter
import ControlRuntime
import Foundation
import Logging
import Messages
import Robots
import TestSupport
import Testing
import ZeroMQ

/// The control path (receive, decode, decide, run the policy, encode, send) must not touch the heap
/// once warm: counted with a malloc wrapper (CAllocationCounter) on the runtime's own thread while
/// real robots talk to it over tcp loopback.
@Suite struct ControlPathAllocationTests {
    private struct Shared<Value>: @unchecked Sendable { let value: Value }

    /// A robot on a DEALER socket that waits for each answer.
    private final class LoopbackRobot {
        let socket: Socket
        let id: String
        let kind: RobotKind
        var sequence: UInt64 = 0

        init(_ context: Context, endpoint: String, id: String, kind: RobotKind) throws {
            socket = try Socket(context, .dealer)
            try socket.setReceiveTimeout(milliseconds: 30_000)
            try socket.setLinger(milliseconds: 0)
            try socket.connect(endpoint)
            self.id = id
            self.kind = kind
            let hello: [UInt8] = try Pipps_V1_RobotMessage.with {
                $0.hello = .with {
                    $0.robotID = id; $0.kind = Pipps_V1_RobotKind(kind); $0.protocolVersion = 1
                    $0.stateDimension = UInt32(kind.stateDimension); $0.controlDimension = UInt32(kind.controlDimension)
                }
            }.serializedBytes()
            _ = try socket.send(hello)
            let reply = try Pipps_V1_RuntimeMessage(serializedBytes: try #require(try socket.receive()))
            try #require(reply.welcome.accepted, "the runtime refused \(id): \(reply)")
        }

        /// One state → control round trip; returns the control's status.
        func step(sequence override: UInt64? = nil) throws -> Pipps_V1_ControlStatus {
            if override == nil { sequence += 1 }
            let state: [UInt8] = try Pipps_V1_RobotMessage.with {
                $0.state = .with {
                    $0.robotID = id; $0.sequence = override ?? sequence
                    $0.robotTimeNs = MonotonicClock.nowNanoseconds
                    $0.state = (0..<kind.stateDimension).map { 0.05 * Double($0 + 1) * Double.random(in: -1...1) }
                }
            }.serializedBytes()
            _ = try socket.send(state)
            let reply = try Pipps_V1_RuntimeMessage(serializedBytes: try #require(try socket.receive(), "no answer"))
            return reply.control.status
        }
    }

    @Test func noAllocationPerStepAfterWarmUp() throws {
        try #require(pipps_allocation_counting_available() != 0, "malloc is not interposed in this process; counts would be meaningless")
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Recording on: handing each step to the recorder is part of the control path.
        var configuration = RuntimeConfiguration.loopback(store: dir)
        // This test is about allocation, not staleness (tested on the virtual clock): on a busy machine
        // a robot thread descheduled between its timestamp and its send must not turn a step into a
        // stale-state fallback, whose longer reply libzmq copies to the heap.
        configuration.settings.maxStateAge = 3_600_000_000_000
        configuration.settings.sessionTimeout = 60_000_000_000
        let server = try RuntimeServer(configuration: configuration, logger: Logger(label: "alloc") { _ in SwiftLogNoOpLogHandler() })
        let now = MonotonicClock.nowNanoseconds
        try server.core.deploy(TestPolicies.rbf(.cartPole, version: 1), robot: "alloc-cartpole", now: now)
        try server.core.deploy(TestPolicies.rbf(.unicycle, version: 1), robot: "alloc-unicycle", now: now)

        let stop = StopFlag()
        let finished = DispatchSemaphore(value: 0)
        let shared = Shared(value: server)
        let thread = Thread {
            pipps_allocation_watch_current_thread()
            try? shared.value.run(until: stop)
            pipps_allocation_unwatch()
            finished.signal()
        }
        thread.start()

        let context = try Context()
        let robots = try [
            LoopbackRobot(context, endpoint: server.robotEndpoint, id: "alloc-cartpole", kind: .cartPole),
            LoopbackRobot(context, endpoint: server.robotEndpoint, id: "alloc-unicycle", kind: .unicycle),
        ]
        // Warm-up: first use of every path (session tables, histograms, lazily initialised globals),
        // including the periodic session-expiry pass over the registered robots, which runs on wall
        // time (every 100 ms): at least 300 steps each and two passes after both robots registered.
        let passesAtRegistration = server.expiryPasses
        var warmUpSteps = 0
        let warmUpLimit = Date().addingTimeInterval(120)
        while warmUpSteps < 300 || server.expiryPasses < passesAtRegistration + 2 {
            for robot in robots { let status = try robot.step(); #expect(status == .ok) }
            warmUpSteps += 1
            try #require(Date() < warmUpLimit, "no session-expiry pass in 120 s of warm-up (\(server.expiryPasses) passes)")
        }
        let afterWarmUp = pipps_allocation_count()
        #expect(afterWarmUp > 0, "the runtime thread's start-up allocates; a zero here means nothing is counted")
        pipps_allocation_clear_traces()

        for _ in 0..<2000 { for robot in robots { let status = try robot.step(); #expect(status == .ok) } }
        let allocations = pipps_allocation_count() - afterWarmUp
        #expect(allocations == 0, "the runtime thread allocated \(allocations) times in 4000 control steps")
        if allocations != 0 {
            if pipps_allocation_tracing() != 0 {
                pipps_allocation_print_traces(2)
            } else {
                print("run with PIPPS_ALLOCATION_TRACE=1 to see where the runtime thread allocated")
            }
        }

        // Fallback replies carry a reason text, which makes them longer than the 33 bytes libzmq
        // keeps inline in a message: zmq_send then copies them into one malloc'd block (libzmq's
        // code, not ours). Nothing else may allocate.
        let beforeFallbacks = pipps_allocation_count()
        for _ in 0..<100 { for robot in robots { let status = try robot.step(sequence: robot.sequence); #expect(status == .fallback) } }
        let fallbackAllocations = pipps_allocation_count() - beforeFallbacks
        #expect(fallbackAllocations <= 200, "\(fallbackAllocations) allocations in 200 fallback steps (at most one each, libzmq's copy)")
        for robot in robots { robot.socket.close() }
        context.terminate()
        stop.set()
        finished.wait()
        let recorded = try #require(server.recorder).counts
        #expect(recorded.recorded == UInt64(2 * (warmUpSteps + 2100)) && recorded.dropped == 0, "every step of the test recorded: \(recorded)")
    }
}
