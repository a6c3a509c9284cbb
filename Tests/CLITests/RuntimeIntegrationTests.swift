import ControlRuntime
import Foundation
import LinearAlgebra
import Messages
import Policies
import Robots
import SwiftProtobuf
import TestSupport
import Testing
import ZeroMQ

/// The built binaries (`make test` builds them first).
enum Binaries {
    static var pipps: String { RepositoryPaths.root.appendingPathComponent(".build/debug/pipps").path }
    static var firmwareSim: String { RepositoryPaths.root.appendingPathComponent(".build/debug/firmware-sim").path }
}

/// A `pipps serve` process on loopback with free ports.
final class ServeProcess {
    let process: BackgroundProcess
    let robots: String
    let admin: String
    let serverKey: String?

    /// Staleness is tested on the virtual clock (RuntimeCoreTests) and once here with a state a minute
    /// old; every other test runs its runtime with this generous maximum state age, so that a robot
    /// process descheduled on a busy machine does not turn a step into a fallback.
    static let generousStateAge = ["--max-state-age-ms", "10000"]

    init(_ extra: [String] = ["--insecure"], robots: String = "tcp://127.0.0.1:*", admin: String = "tcp://127.0.0.1:*") throws {
        process = try BackgroundProcess(Binaries.pipps, ["serve", "--robots", robots, "--admin", admin] + Self.generousStateAge + extra)
        guard let line = process.waitForLine(startingWith: "listening") else {
            throw TestFailure("pipps serve did not start: \(process.log)")
        }
        func field(_ name: String) -> String? {
            line.split(separator: " ").first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
        }
        self.robots = field("robots") ?? ""
        self.admin = field("admin") ?? ""
        serverKey = field("server-key")
    }

    /// A runtime with CURVE: key pairs `runtime`, `robot`, `operator` (and `extraKeys`, not admitted)
    /// made by `pipps keys` in `dir`, with a configuration admitting robot.pub and operator.pub.
    static func withCurveKeys(in dir: URL, extraKeys: [String] = []) throws -> ServeProcess {
        for name in ["runtime", "robot", "operator"] + extraKeys {
            let r = try runProcess(Binaries.pipps, ["keys", name, "--directory", dir.path])
            guard r.status == 0 else { throw TestFailure("pipps keys \(name): \(r.output)") }
        }
        let config = dir.appendingPathComponent("runtime.yaml")
        try """
            security:
              server_secret_key: runtime.key
              robot_keys: [robot.pub]
              operator_keys: [operator.pub]
            """.write(to: config, atomically: true, encoding: .utf8)
        return try ServeProcess(["--config", config.path])
    }

    func adminClient(keys: CurveKeyPair? = nil, timeoutMilliseconds: Int = 30_000) throws -> AdminClient {
        try AdminClient(endpoint: admin, keys: keys, serverPublicKey: serverKey, timeoutMilliseconds: timeoutMilliseconds)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A linear policy from LQR for the cart-pole around upright, on [x, ẋ, θ̇, sin θ, cos θ]: near θ = π,
/// sin θ ≈ −(θ − π), so the angle gain enters with the opposite sign on sin θ. The raw output z passes
/// through the saturation, whose slope at 0 is 1.5·u_max = 15: the gains are divided by that.
func balancingPolicy(version: UInt64 = 1) throws -> Pipps_V1_Policy {
    let lqr = try LinearQuadraticRegulator(plant: CartPole(), state: [0, 0, 0, .pi], control: [0], period: 0.1,
                                           q: .diagonal([1, 1, 1, 10]), r: .diagonal([0.1]))
    let k = lqr.gain.row(0).map { $0 / 15 }
    let policy = LinearPolicy(transform: InputTransform(stateDimension: 4, angleIndices: [3]), controlLimits: [10],
                              weights: Matrix([[-k[0], -k[1], -k[2], k[3], 0]]), bias: [0])
    return Pipps_V1_Policy(policy, version: version, robotKind: .cartPole)
}

/// A robot written in the test: a DEALER that speaks the protocol by hand.
final class RawRobot {
    let context: Context
    let socket: Socket
    let id: String
    var sequence: UInt64 = 0

    init(endpoint: String, id: String, keys: CurveKeyPair? = nil, serverKey: String? = nil) throws {
        context = try Context()
        socket = try Socket(context, .dealer)
        if let keys, let serverKey { try socket.makeCurveClient(keys, serverPublicKey: serverKey) }
        try socket.setReceiveTimeout(milliseconds: 30_000)  // generous: only a hang reaches it
        try socket.connect(endpoint)
        self.id = id
    }

    deinit {
        socket.close()
        context.terminate()
    }

    func send(_ message: Pipps_V1_RobotMessage) throws {
        _ = try socket.send(message.serializedBytes() as [UInt8])
    }

    func receive() throws -> Pipps_V1_RuntimeMessage? {
        guard let bytes = try socket.receive() else { return nil }
        return try Pipps_V1_RuntimeMessage(serializedBytes: bytes)
    }

    func hello() throws -> Pipps_V1_Welcome? {
        try send(.with {
            $0.hello = .with { $0.robotID = id; $0.kind = .cartPole; $0.stateDimension = 4; $0.controlDimension = 1; $0.protocolVersion = 1 }
        })
        return try receive()?.welcome
    }

    /// Sends a state and returns the answering control (skipping other messages).
    func state(_ values: [Double], sequence seq: UInt64? = nil, age: Int64 = 0) throws -> Pipps_V1_Control? {
        if seq == nil { sequence += 1 }
        let s = seq ?? sequence
        try send(.with {
            $0.state = .with { $0.robotID = id; $0.sequence = s; $0.robotTimeNs = MonotonicClock.nowNanoseconds - age; $0.state = values }
        })
        while let m = try receive() {
            if case .control(let c)? = m.body, c.sequence == s { return c }
        }
        return nil
    }
}

@Suite("Runtime with real processes on loopback", .serialized)
struct RuntimeIntegrationTests {
    @Test func firmwareSimBalancesThroughTheRuntime() throws {
        let serve = try ServeProcess()
        defer { serve.process.stop() }
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let policyFile = dir.appendingPathComponent("lqr.json")
        try PolicyFile.write(try balancingPolicy(), to: policyFile)
        let deploy = try runProcess(Binaries.pipps, ["admin", "deploy", "cp-1", policyFile.path, "--endpoint", serve.admin])
        #expect(deploy.status == 0, "\(deploy.output)")
        let trace = dir.appendingPathComponent("trace.csv")
        let sim = try runProcess(Binaries.firmwareSim, ["cartpole", "--connect", serve.robots, "--id", "cp-1", "--task", "cartpole-balance",
                                                         "--initial", "0,0,0,3.0", "--noise", "0.01", "--lockstep", "--steps", "100", "--watchdog-ms", "10000",
                                                         "--trace", trace.path])
        #expect(sim.status == 0, "\(sim.output)")
        let rows = try String(contentsOf: trace, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
        #expect(rows.count == 100)
        #expect(rows.allSatisfy { $0[11] == "OK" }, "every step answered by the policy")
        #expect(rows.allSatisfy { abs(Double($0[5])! - .pi) < 0.3 }, "the pole stays within 0.3 rad of upright")
        let status = try runProcess(Binaries.pipps, ["admin", "status", "--endpoint", serve.admin])
        #expect(status.status == 0 && status.output.contains("\"runtimeVersion\""), "\(status.output)")
    }

    @Test func badInputGetsFallbacksWhileAnotherRobotIsServed() throws {
        let serve = try ServeProcess()
        defer { serve.process.stop() }
        let admin = try serve.adminClient()
        try admin.perform(.deploy(.with { $0.robotID = "good"; $0.policy = try balancingPolicy() }))
        try admin.perform(.deploy(.with { $0.robotID = "bad"; $0.policy = try balancingPolicy() }))
        // The well-behaved robot runs in real time meanwhile.
        // It runs until stopped (so it is still connected when the counters are read), with a
        // watchdog that only a hang reaches: this test is about the runtime's answers.
        let sim = try BackgroundProcess(Binaries.firmwareSim, ["cartpole", "--connect", serve.robots, "--id", "good", "--task", "cartpole-balance",
                                                               "--initial", "0,0,0,3.1", "--noise", "0.01", "--steps", "0", "--watchdog-ms", "10000"])
        try RecorderIntegrationTests.waitUntilRegistered("good", admin)
        let bad = try RawRobot(endpoint: serve.robots, id: "bad")
        // Before Hello: a heartbeat gets no answer, a state NOT_REGISTERED (the first message back).
        try bad.send(.with { $0.heartbeat = .with { $0.timeNs = 1 } })
        bad.sequence += 1
        try bad.send(.with { $0.state = .with { $0.robotID = "bad"; $0.sequence = bad.sequence; $0.state = [0, 0, 0, 3] } })
        let first = try #require(try bad.receive())
        #expect(first.control.reason == .notRegistered && first.control.control == [0], "the cart-pole's safe control (its policy is deployed): \(first)")
        #expect(try bad.hello()?.accepted == true)
        // With a session, a heartbeat is answered with the runtime's clock.
        try bad.send(.with { $0.heartbeat = .with { $0.timeNs = 1 } })
        #expect((try bad.receive()?.heartbeat.timeNs ?? 0) > 0)
        #expect(try bad.state([0, 0, 0, 3])?.status == .ok)
        #expect(try bad.state([0, .nan, 0, 3])?.reason == .nonFiniteState)
        #expect(try bad.state([0, 0, 3])?.reason == .wrongDimension)
        #expect(try bad.state([0, 0, 0, 3], sequence: 1)?.reason == .outOfOrder)
        #expect(try bad.state([0, 0, 0, 3], age: 60_000_000_000)?.reason == .staleState)
        let c = try #require(try bad.state([0, 0, 0, 3]))
        #expect(c.status == .ok && c.control.count == 1 && abs(c.control[0]) <= 10)
        // Malformed bytes: an error reply, and the runtime goes on.
        _ = try bad.socket.send([0xff, 0xff, 0xff, 0x01])
        let error = try bad.receive()
        #expect(error?.error.message.isEmpty == false)
        #expect(try bad.state([0, 0, 0, 3])?.status == .ok)
        // Counters while both are connected (a robot that leaves or falls silent loses its session).
        let status = try admin.perform(.status(.init())).status
        #expect(sim.stop() == 0, "\(sim.log)")
        let summary = try #require(sim.output.last.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        #expect(summary["watchdog_trips"] as? Int == 0, "\(summary)")
        #expect((summary["steps"] as? Int ?? 0) > 0, "\(summary)")
        #expect(status.malformedMessages >= 1)
        let badStatus = try #require(status.robots.first { $0.robotID == "bad" })
        for reason in ["FALLBACK_REASON_NON_FINITE_STATE", "FALLBACK_REASON_WRONG_DIMENSION", "FALLBACK_REASON_OUT_OF_ORDER", "FALLBACK_REASON_STALE_STATE"] {
            #expect(badStatus.fallbacks[reason] == 1, "\(reason): \(badStatus.fallbacks)")
        }
        #expect(status.robots.first { $0.robotID == "good" }?.fallbacks.isEmpty == true)
    }

    @Test func oversizedMessagesAreAnsweredLoggedAndCounted() throws {
        let serve = try ServeProcess()
        defer { serve.process.stop() }
        let admin = try serve.adminClient()
        try admin.perform(.deploy(.with { $0.robotID = "big"; $0.policy = try balancingPolicy() }))
        let robot = try RawRobot(endpoint: serve.robots, id: "big")
        #expect(try robot.hello()?.accepted == true)
        // Above 1 MiB: a ProtocolError that names the limit; the session goes on.
        _ = try robot.socket.send([UInt8](repeating: 0x2a, count: WireProtocol.maxMessageBytes + 1))
        let error = try #require(try robot.receive())
        #expect(error.error.message.contains("the limit is \(WireProtocol.maxMessageBytes) bytes"), "\(error)")
        #expect(try robot.state([0, 0, 0, 3])?.status == .ok)
        var status = try admin.perform(.status(.init())).status
        #expect(status.oversizedMessages == 1 && status.malformedMessages == 0, "\(status)")
        // Above 16 MiB libzmq closes the connection unread: logged and counted; the robot's DEALER
        // reconnects on its own and must say Hello again.
        _ = try robot.socket.send([UInt8](repeating: 0x2a, count: WireProtocol.connectionMessageLimit + 1))
        let limit = Date().addingTimeInterval(120)
        while status.robotDisconnects == 0, Date() < limit {
            Thread.sleep(forTimeInterval: 0.05)
            status = try admin.perform(.status(.init())).status
        }
        #expect(status.robotDisconnects == 1, "\(status)")
        #expect(serve.process.log.contains("a robot connection closed"), "\(serve.process.log)")
        #expect(try robot.state([0, 0, 0, 3])?.reason == .notRegistered)
        #expect(try robot.hello()?.accepted == true)
        #expect(try robot.state([0, 0, 0, 3])?.status == .ok)
    }

    @Test func unknownCurveKeysGetNothing() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let serve = try ServeProcess.withCurveKeys(in: dir, extraKeys: ["stranger"])
        defer { serve.process.stop() }
        func keys(_ name: String) throws -> CurveKeyPair {
            try CurveKeyPair(secretKey: KeyFile.value("\(name).key", secret: true, relativeTo: dir))
        }
        // The operator deploys; a stranger and the robot's own key cannot.
        let operatorClient = try serve.adminClient(keys: try keys("operator"))
        try operatorClient.perform(.deploy(.with { $0.robotID = "cp"; $0.policy = try balancingPolicy(version: 1) }))
        for name in ["stranger", "robot"] {
            let client = try serve.adminClient(keys: try keys(name), timeoutMilliseconds: 1500)
            #expect(throws: AdminClientError.self) {
                try client.perform(.deploy(.with { $0.robotID = "cp"; $0.policy = try balancingPolicy(version: 2) }))
            }
        }
        #expect(try operatorClient.perform(.status(.init())).status.robots.isEmpty)
        // The robot key gets controls; a stranger's robot gets no reply at all.
        let robot = try RawRobot(endpoint: serve.robots, id: "cp", keys: try keys("robot"), serverKey: serve.serverKey)
        #expect(try robot.hello()?.accepted == true)
        let control = try #require(try robot.state([0, 0, 0, 3]))
        #expect(control.status == .ok && control.policyVersion == 1)
        let stranger = try RawRobot(endpoint: serve.robots, id: "intruder", keys: try keys("stranger"), serverKey: serve.serverKey)
        try stranger.socket.setReceiveTimeout(milliseconds: 1000)
        #expect(try stranger.hello() == nil)
        // Without security the runtime refuses to start unless told --insecure.
        let refused = try runProcess(Binaries.pipps, ["serve", "--robots", "tcp://127.0.0.1:*", "--admin", "tcp://127.0.0.1:*"])
        #expect(refused.status != 0 && refused.output.contains("--insecure"))
        let badDeadline = try runProcess(Binaries.pipps, ["serve", "--insecure", "--deadline-ms", "nan"])
        #expect(badDeadline.status != 0 && badDeadline.output.contains("--deadline-ms must be a positive number"))
    }

    @Test func hotSwapUnderLoadNeverMixesPolicies() throws {
        let serve = try ServeProcess()
        defer { serve.process.stop() }
        // Constant policies: version v commands sat(bias(v)); any other value would be a mix.
        @Sendable func bias(_ v: UInt64) -> Double { 0.01 * Double(v) }
        let admin = try serve.adminClient()
        try admin.perform(.deploy(.with { $0.robotID = "r"; $0.policy = TestPolicy.constant(version: 1, bias: bias(1)) }))
        let robot = try RawRobot(endpoint: serve.robots, id: "r")
        #expect(try robot.hello()?.accepted == true)
        let endpoint = serve.admin
        let streaming = StopFlag()  // set once states flow
        let deploying = StopFlag()  // set when the deployer is done
        let deployer = Thread {
            defer { deploying.set() }
            let start = Date()
            while !streaming.isSet, Date().timeIntervalSince(start) < 300 { usleep(1000) }
            guard let client = try? AdminClient(endpoint: endpoint, timeoutMilliseconds: 30_000) else { return }
            for v in UInt64(2)...60 {
                _ = try? client.perform(.deploy(.with { $0.robotID = "r"; $0.policy = TestPolicy.constant(version: v, bias: bias(v)) }))
            }
        }
        deployer.start()
        var versions = Set<UInt64>()
        // At least 3,000 states, and on until every deploy has happened (bounded: a hang fails).
        let limit = Date().addingTimeInterval(300)
        var sent = 0
        while sent < 3000 || (!deploying.isSet && Date() < limit) {
            sent += 1
            if sent == 100 { streaming.set() }
            let c = try #require(try robot.state([0, 0, 0, 3]))
            #expect(c.status == .ok)
            #expect(c.control == [Saturation(limit: 10).value(bias(c.policyVersion))], "control \(c.control) from version \(c.policyVersion)")
            versions.insert(c.policyVersion)
        }
        #expect(deploying.isSet, "the deployer finished")
        #expect(versions.count > 2, "deploys happened during the stream: \(versions.sorted())")
    }

    @Test func firmwareSimFallsBackWhenTheRuntimeDiesAndReconnects() throws {
        // Fixed ports, so the restarted runtime is found at the same address.
        let first = try ServeProcess()
        let robots = first.robots, adminEndpoint = first.admin
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let policyFile = dir.appendingPathComponent("lqr.json")
        try PolicyFile.write(try balancingPolicy(), to: policyFile)
        try first.adminClient().perform(.deploy(.with { $0.robotID = "cp"; $0.policy = try balancingPolicy() }))
        let trace = dir.appendingPathComponent("trace.csv")
        // Real time with the default 50 ms watchdog (what this test is about), until stopped.
        let sim = try BackgroundProcess(Binaries.firmwareSim, ["cartpole", "--connect", robots, "--id", "cp", "--task", "cartpole-balance",
                                                               "--initial", "0,0,0,3.1", "--noise", "0.01", "--steps", "0", "--trace", trace.path])
        defer { _ = sim.stop(signal: SIGKILL) }
        /// The trace's rows so far (status in column 11, control in column 10); waits (bounded) until `done` holds.
        func rows(until done: ([[Substring]]) -> Bool) throws -> [[Substring]] {
            let limit = Date().addingTimeInterval(120)
            while true {
                let text = (try? String(contentsOf: trace, encoding: .utf8)) ?? ""
                // Only whole lines: the last one may be half written.
                let rows = text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().dropLast().map { $0.split(separator: ",") }
                if done(rows) { return rows }
                guard Date() < limit, sim.process.isRunning else { throw TestFailure("trace: \(rows.count) rows; \(sim.log)") }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        let served = try rows { $0.filter { $0[11] == "OK" }.count >= 3 }
        first.process.stop(signal: SIGKILL)
        _ = try rows { $0.dropFirst(served.count).filter { $0[11] == "WATCHDOG" }.count >= 5 }
        let second = try ServeProcess(["--insecure", "--policy", "cp=\(policyFile.path)"], robots: robots, admin: adminEndpoint)
        defer { second.process.stop() }
        let all = try rows { $0.count > served.count + 5 && $0.suffix(5).allSatisfy { $0[11] == "OK" } }
        #expect(sim.stop() == 0, "\(sim.log)")
        let summary = try #require(sim.output.last.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        #expect((summary["watchdog_trips"] as? Int ?? 0) >= 5, "safe control while the runtime was gone: \(summary)")
        #expect((summary["registrations"] as? Int ?? 0) >= 2, "registered again with the new runtime: \(summary)")
        #expect(all.filter { $0[11] == "WATCHDOG" }.allSatisfy { Double($0[10]) == 0 }, "watchdog steps apply the safe (zero) control")
    }
}

enum TestPolicy {
    static func constant(version: UInt64, bias: Double) -> Pipps_V1_Policy {
        let policy = LinearPolicy(transform: InputTransform(stateDimension: 4, angleIndices: [3]), controlLimits: [10],
                                  weights: Matrix(rows: 1, columns: 5), bias: [bias])
        return Pipps_V1_Policy(policy, version: version, robotKind: .cartPole)
    }
}
