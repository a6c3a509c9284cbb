import ArgumentParser
import ControlRuntime
import Foundation
import LinearAlgebra
import Logging
import Messages
import Policies
import Robots
import SwiftProtobuf
import ZeroMQ

/// `pipps bench runtime`: State → Control round trips through the real runtime over tcp loopback,
/// against a bare libzmq echo server with the same message sizes.
struct BenchRuntime: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runtime",
        abstract: "Runtime round-trip latency: 1 robot at 1 kHz and many robots at 10 Hz, against a bare echo server.",
        discussion: """
            The runtime runs in this process on its own thread with a 50-basis RBF cart-pole policy; \
            robots are DEALER sockets on another thread. The echo server (a ROUTER that answers every \
            state with a control of the same size, no decoding) is timed in the same run, in blocks \
            alternating with the runtime.
            """
    )

    @Option(help: "Round trips of the single robot at 1 kHz (and of the echo server).") var count = 10_000
    @Option(help: "Robots in the fleet scenario.") var robots = 100
    @Option(help: "Seconds the fleet runs at 10 Hz per robot.") var duration = 60.0
    @Option(help: "Deadline (ms) of the runtime: a control later than this is a miss.") var deadlineMs = 20.0

    func validate() throws {
        guard count >= 100 else { throw ValidationError("--count must be at least 100") }
        guard (1...1000).contains(robots) else { throw ValidationError("--robots must be 1…1000") }
        guard duration > 0 && duration <= 3600 else { throw ValidationError("--duration must be 0…3600 s") }
        do { _ = try RuntimeConfiguration.nanoseconds(deadlineMs, "--deadline-ms") } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        BenchmarkSupport.warnIfDebug()
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        var configuration = RuntimeConfiguration()
        configuration.robotEndpoint = "tcp://127.0.0.1:*"
        configuration.adminEndpoint = "tcp://127.0.0.1:*"
        let deadline = try RuntimeConfiguration.nanoseconds(deadlineMs, "--deadline-ms")
        configuration.settings.deadline = deadline
        configuration.settings.sessionTimeout = 3_600_000_000_000
        let server = try RuntimeServer(configuration: configuration)
        let robotEndpoint = server.robotEndpoint, adminEndpoint = server.adminEndpoint
        let stop = StopFlag()
        let serverBox = Handoff(server)
        let serverThread = Thread { try? serverBox.value.run(until: stop) }
        serverThread.start()

        // A PILCO-sized policy for every robot id used here.
        var rng = SeededGenerator(seed: 1)
        let transform = InputTransform(stateDimension: 4, angleIndices: [3])
        let rbf = RBFPolicy.random(transform: transform, controlLimits: [10], basisCount: 50, centreMean: [0, 0, 0, 0],
                                   centreStandardDeviations: [1, 1, 1, 1], using: &rng)
        let wire = Pipps_V1_Policy(rbf, version: 1, robotKind: .cartPole)
        let admin = try AdminClient(endpoint: adminEndpoint)
        for i in 0..<robots { try admin.perform(.deploy(.with { $0.robotID = "bench-\(i)"; $0.policy = wire })) }
        try admin.perform(.deploy(.with { $0.robotID = "bench-solo"; $0.policy = wire }))

        // Echo server with a control-sized answer.
        let context = try Context()
        let echo = try Socket(context, .router)
        try echo.bind("tcp://127.0.0.1:*")
        let echoEndpoint = try echo.lastEndpoint
        let controlBytes: [UInt8] = try Pipps_V1_RuntimeMessage.with {
            $0.control = .with { $0.sequence = 123_456; $0.control = [3.25]; $0.policyVersion = 1; $0.status = .ok; $0.runtimeLatencyNs = 12_345 }
        }.serializedBytes()
        let echoBox = Handoff(echo)
        let echoThread = Thread {
            let s = echoBox.value
            let id = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
            let body = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
            defer { id.deallocate(); body.deallocate(); s.close() }
            try? s.setReceiveTimeout(milliseconds: 100)
            while !stop.isSet {
                guard let f = try? s.receive(into: id), f.more, (try? s.receive(into: body)) != nil else { continue }
                _ = try? s.send(UnsafeRawBufferPointer(rebasing: id[0..<f.size]), flags: .more)
                _ = try? controlBytes.withUnsafeBytes { try s.send($0) }
            }
        }
        echoThread.start()

        // 1. One robot at 1 kHz, in blocks alternating with the echo server.
        let solo = try BenchRobot(context: context, endpoint: robotEndpoint, id: "bench-solo")
        let echoClient = try BenchRobot(context: context, endpoint: echoEndpoint, id: "bench-echo", register: false)
        for _ in 0..<200 {
            _ = try solo.roundTrip()
            _ = try echoClient.roundTrip()
        }
        var runtimeSamples: [Double] = [], echoSamples: [Double] = []
        let blocks = 10, perBlock = count / blocks
        var tick = MonotonicClock.nowNanoseconds
        for block in 0..<blocks {
            for path in (block % 2 == 0 ? [0, 1] : [1, 0]) {
                for _ in 0..<perBlock {
                    tick += 1_000_000
                    while MonotonicClock.nowNanoseconds < tick {}
                    if path == 0 { runtimeSamples.append(try solo.roundTrip()) } else { echoSamples.append(try echoClient.roundTrip()) }
                }
            }
        }
        let soloStatus = try admin.perform(.status(.init())).status.robots.first { $0.robotID == "bench-solo" }

        // 2. A fleet at 10 Hz each, staggered over the period.
        let fleet = try (0..<robots).map { try BenchRobot(context: context, endpoint: robotEndpoint, id: "bench-\($0)") }
        let poller = try Poller(fleet.map { ($0.socket, .readable) })
        let period: Int64 = 100_000_000
        let start = MonotonicClock.nowNanoseconds + 100_000_000
        let end = start + Int64(duration * 1e9)
        var nextSend = (0..<robots).map { start + Int64($0) * period / Int64(robots) }
        var fleetSamples: [Double] = []
        fleetSamples.reserveCapacity(Int(duration * 10) * robots)
        var unanswered = 0, lateClientSide = 0
        while true {
            let now = MonotonicClock.nowNanoseconds
            var soonest = Int64.max
            for i in 0..<robots {
                if nextSend[i] <= now && nextSend[i] < end {
                    if fleet[i].pending != nil { unanswered += 1 }
                    try fleet[i].send()
                    nextSend[i] += period
                }
                if nextSend[i] < end { soonest = min(soonest, nextSend[i]) }
            }
            if soonest == .max && fleet.allSatisfy({ $0.pending == nil }) { break }
            if soonest == .max && MonotonicClock.nowNanoseconds > end + 1_000_000_000 { break }
            let wait = soonest == .max ? 10 : max(Int((soonest - MonotonicClock.nowNanoseconds) / 1_000_000), 0)
            if try poller.poll(timeoutMilliseconds: wait) > 0 {
                for (i, robot) in fleet.enumerated() where poller.events(at: i).contains(.readable) {
                    while let rtt = try robot.receiveControl() {
                        fleetSamples.append(Double(rtt) / 1000)
                        if rtt > deadline { lateClientSide += 1 }
                    }
                }
            }
        }
        let status = try admin.perform(.status(.init())).status
        let fleetStatus = status.robots.filter { $0.robotID.hasPrefix("bench-") && $0.robotID != "bench-solo" }
        let runtimeMisses = fleetStatus.reduce(0) { $0 + $1.deadlineMisses }
        let fallbacks = fleetStatus.reduce(0) { $0 + $1.fallbacks.values.reduce(0, +) }
        stop.set()
        serverThread.cancel()
        while !serverThread.isFinished || !echoThread.isFinished { Thread.sleep(forTimeInterval: 0.01) }

        func summary(_ samples: [Double]) -> [String: Any] {
            let s = samples.sorted()
            return ["count": s.count, "p50_us": BenchmarkSupport.quantile(s, 0.5), "p99_us": BenchmarkSupport.quantile(s, 0.99),
                    "p999_us": BenchmarkSupport.quantile(s, 0.999), "max_us": s.last ?? 0]
        }
        let runtimeMedian = BenchmarkSupport.median(runtimeSamples), echoMedian = BenchmarkSupport.median(echoSamples)
        let p999 = BenchmarkSupport.quantile(runtimeSamples.sorted(), 0.999)
        try BenchmarkSupport.printJSON([
            "benchmark": "runtime",
            "transport": "tcp://127.0.0.1, DEALER robots to the runtime's ROUTER",
            "state_bytes": solo.stateBytes, "control_bytes": controlBytes.count,
            "policy": "RBF, 50 basis functions, cart-pole",
            "one_robot_1khz": summary(runtimeSamples),
            "echo_1khz": summary(echoSamples),
            "median_ratio_runtime_over_echo": runtimeMedian / echoMedian,
            "runtime_side_latency_one_robot_us": soloStatus.map { ["p50": $0.latency.p50Us, "p99": $0.latency.p99Us, "p999": $0.latency.p999Us, "max": $0.latency.maxUs] } ?? [:],
            "fleet": [
                "robots": robots, "rate_hz_each": 10, "seconds": duration,
                "round_trips": summary(fleetSamples),
                "deadline_ms": deadlineMs,
                "deadline_misses_runtime": runtimeMisses,
                "late_client_side": lateClientSide,
                "unanswered": unanswered,
                "fallbacks": fallbacks,
            ] as [String: Any],
            "targets": ["p999_under_us": 1000, "median_ratio_at_most": 1.5, "fleet_deadline_misses": 0],
            "meets_targets": p999 < 1000 && runtimeMedian / echoMedian <= 1.5 && runtimeMisses == 0 && lateClientSide == 0 && unanswered == 0,
            "environment": BenchmarkSupport.environment(),
        ])
    }
}

/// One benchmark robot: a DEALER that sends states and times the answers.
final class BenchRobot {
    let socket: Socket
    let id: String
    private var sequence: UInt64 = 0
    private(set) var pending: Int64?
    private(set) var stateBytes = 0
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)

    init(context: Context, endpoint: String, id: String, register: Bool = true) throws {
        socket = try Socket(context, .dealer)
        try socket.connect(endpoint)
        self.id = id
        if register {
            let hello: [UInt8] = try Pipps_V1_RobotMessage.with {
                $0.hello = .with { $0.robotID = id; $0.kind = .cartPole; $0.stateDimension = 4; $0.controlDimension = 1; $0.protocolVersion = 1 }
            }.serializedBytes()
            _ = try socket.send(hello)
            _ = try socket.receive()
        }
    }

    deinit {
        socket.close()
        buffer.deallocate()
    }

    func send() throws {
        sequence += 1
        let bytes: [UInt8] = try Pipps_V1_RobotMessage.with {
            $0.state = .with {
                $0.robotID = id; $0.sequence = sequence; $0.robotTimeNs = MonotonicClock.nowNanoseconds
                $0.state = [0.1, -0.2, 0.3, 3.0 + Double(sequence % 10) * 0.01]
            }
        }.serializedBytes()
        stateBytes = bytes.count
        pending = MonotonicClock.nowNanoseconds
        _ = try socket.send(bytes)
    }

    /// One answered control's round trip (ns), or `nil` when none is waiting.
    func receiveControl() throws -> Int64? {
        guard try socket.receive(into: buffer, dontWait: true) != nil, let sent = pending else { return nil }
        pending = nil
        return MonotonicClock.nowNanoseconds - sent
    }

    /// A blocking round trip, in µs.
    func roundTrip() throws -> Double {
        sequence += 1
        let bytes: [UInt8] = try Pipps_V1_RobotMessage.with {
            $0.state = .with { $0.robotID = id; $0.sequence = sequence; $0.robotTimeNs = MonotonicClock.nowNanoseconds; $0.state = [0.1, -0.2, 0.3, 3.0] }
        }.serializedBytes()
        stateBytes = bytes.count
        let start = MonotonicClock.nowNanoseconds
        _ = try bytes.withUnsafeBytes { try socket.send($0) }
        _ = try socket.receive(into: buffer)
        return Double(MonotonicClock.nowNanoseconds - start) / 1000
    }
}
