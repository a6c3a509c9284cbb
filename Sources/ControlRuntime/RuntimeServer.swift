import Foundation
import Logging
import Messages
import Robots
import SwiftProtobuf
import Synchronization
import TrialStore
import ZeroMQ

/// `pipps serve`: the runtime on ZeroMQ. A ROUTER for robots and a ROUTER for operators, both
/// polled by one thread, which also runs every ``RuntimeCore`` decision; so a policy swap (an admin
/// request) always falls between two control steps, and the control path needs no lock.
///
/// With ``RuntimeConfiguration/security`` both endpoints are CURVE servers with a ZAP handler: robot
/// keys open the robot endpoint (ZAP domain `pipps-robots`), operator keys the admin endpoint
/// (`pipps-admin`); a peer with any other key never completes the handshake, so it gets no reply and
/// no request of it reaches the runtime.
public final class RuntimeServer {
    public let core: RuntimeCore
    public let configuration: RuntimeConfiguration
    /// The endpoints actually bound (wildcard ports resolved).
    public let robotEndpoint: String
    public let adminEndpoint: String
    /// The server's public key when CURVE is on.
    public let publicKey: String?

    private let context: Context
    private let robots: Socket
    private let admin: Socket
    private let authenticator: ZAPAuthenticator?
    /// Connection events of the robot endpoint: closed connections are logged and counted.
    private let robotEvents: SocketMonitor
    private var logger: Logger
    /// Records every step into the trial store (``RuntimeConfiguration/storePath``).
    public let recorder: StepRecorder?

    // Control-path buffers, allocated once.
    private let routing = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
    private let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: WireProtocol.maxMessageBytes, alignment: 8)
    private let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
    private let controlValues = UnsafeMutableBufferPointer<Double>.allocate(capacity: 16)
    private let decoded = DecodedState()
    /// Made once: an option-set literal builds an array each time in debug builds.
    private let moreWithoutWaiting: SendFlags = [.more, .dontWait]
    private let expiryPassCount = Atomic<Int>(0)

    /// The session-expiry passes ``run(until:)`` has made (one every 100 ms while it serves). The
    /// first pass over a non-empty session table can allocate once (a debug build instantiates
    /// generic type metadata lazily), so a check that the control path is allocation-free waits for
    /// a pass with its robots registered before it counts.
    public var expiryPasses: Int { expiryPassCount.load(ordering: .relaxed) }

    public init(configuration: RuntimeConfiguration, logger: Logger = Logger(label: "pipps.runtime")) throws {
        self.configuration = configuration
        self.logger = logger
        try configuration.settings.validate()
        context = try Context()
        let now = MonotonicClock.nowNanoseconds
        var settings = configuration.settings
        var knownRobots: [(String, RobotKind)] = []
        if let path = configuration.storePath {
            let store = try TrialStore(path: path)
            let prepared = try store.prepareForRuntime(nowNs: Int64(Date().timeIntervalSince1970 * 1e9))
            for id in prepared.aborted {
                logger.warning("trial left running by the previous runtime marked aborted", metadata: ["trial": "\(id)"])
            }
            settings.firstTrialID = max(settings.firstTrialID, UInt64(prepared.nextTrialID))
            knownRobots = prepared.robotKinds.sorted { $0.key < $1.key }.compactMap { id, kind in RobotKind(rawValue: kind).map { (id, $0) } }
            recorder = StepRecorder(store: store, logger: logger)
            logger.info("recording to the trial store", metadata: ["store": "\(path)", "next_trial": "\(settings.firstTrialID)"])
        } else {
            recorder = nil
        }
        core = RuntimeCore(settings: settings, now: now, logger: logger)
        for (robot, kind) in knownRobots { core.rememberRobot(robot, kind: kind) }
        core.recording = recorder
        robots = try Socket(context, .router)
        admin = try Socket(context, .router)
        for s in [robots, admin] {
            try s.setMaximumMessageSize(Int64(WireProtocol.connectionMessageLimit))
            try s.setReceiveHighWaterMark(10_000)
            try s.setSendHighWaterMark(10_000)
        }
        if let security = configuration.security {
            guard Context.has("curve") else { throw RuntimeConfigurationError("this libzmq has no CURVE support; security cannot be enabled") }
            let keys: CurveKeyPair
            do { keys = try CurveKeyPair(secretKey: security.serverSecretKey) } catch {
                throw RuntimeConfigurationError("security: the server secret key is not a valid Z85 CURVE key")
            }
            let log = logger
            authenticator = try ZAPAuthenticator(
                context: context, allowedKeys: [],
                allowedKeysByDomain: ["pipps-robots": security.robotKeys, "pipps-admin": security.operatorKeys],
                onDecision: { d in
                    if !d.allowed { log.warning("refused a connection with an unknown key", metadata: ["key": "\(d.publicKey)", "address": "\(d.address)"]) }
                })
            try robots.makeCurveServer(keys, domain: "pipps-robots")
            try admin.makeCurveServer(keys, domain: "pipps-admin")
            publicKey = keys.publicKey
        } else {
            authenticator = nil
            publicKey = nil
        }
        do {
            try robots.bind(configuration.robotEndpoint)
            try admin.bind(configuration.adminEndpoint)
        } catch {
            throw RuntimeConfigurationError("cannot bind \(configuration.robotEndpoint) / \(configuration.adminEndpoint): \(error)")
        }
        robotEvents = try SocketMonitor(robots, events: .disconnected)
        robotEndpoint = try robots.lastEndpoint
        adminEndpoint = try admin.lastEndpoint
        for (robot, path) in configuration.policies.sorted(by: { $0.key < $1.key }) {
            let policy = try PolicyFile.read(URL(fileURLWithPath: path))
            try core.deploy(policy, robot: robot, now: now)
        }
        recorder?.start()  // after everything that can fail: a failed start leaves no writer thread behind
        if configuration.security == nil {
            logger.warning("UNAUTHENTICATED MODE: anyone who can reach \(robotEndpoint) or \(adminEndpoint) can drive robots and deploy policies. For local development only; configure `security` (see deploy/HARDWARE.md).")
        }
        logger.info("runtime listening", metadata: ["robots": "\(robotEndpoint)", "admin": "\(adminEndpoint)", "curve": "\(publicKey != nil)"])
    }

    deinit {
        recorder?.stop()
        robotEvents.stop()
        robots.close()
        admin.close()
        authenticator?.stop()
        context.terminate()
        routing.deallocate()
        payload.deallocate()
        output.deallocate()
        controlValues.deallocate()
    }

    /// Serves until `stop` is set (checked at least every 100 ms).
    public func run(until stop: StopFlag) throws {
        let poller = try Poller([(robots, .readable), (admin, .readable), (robotEvents.socket, .readable)])
        var lastExpiry = MonotonicClock.nowNanoseconds
        while !stop.isSet {
            _ = try poller.poll(timeoutMilliseconds: 100)
            // Bounded batches so that neither endpoint starves the other.
            var n = 0
            while n < 1000, try serveRobotMessage() { n += 1 }
            n = 0
            while n < 100, try serveAdminMessage() { n += 1 }
            // Connection events only when the poll saw some (no receive call per wake-up otherwise).
            if poller.events(at: 2).contains(.readable) {
                while let event = try robotEvents.next() {
                    guard event.kind.contains(.disconnected) else { continue }
                    core.countDisconnect()
                    logger.info("a robot connection closed (by the robot, or by libzmq for a message above \(WireProtocol.connectionMessageLimit) bytes)",
                                metadata: ["endpoint": "\(event.endpoint)"])
                }
            }
            let now = MonotonicClock.nowNanoseconds
            if now - lastExpiry > 100_000_000 {
                core.expire(now: now)
                lastExpiry = now
                expiryPassCount.add(1, ordering: .relaxed)
            }
        }
        logger.info("runtime stopping")
        recorder?.stop()
        if let counts = recorder?.counts {
            logger.info("recorder stopped", metadata: ["steps_recorded": "\(counts.recorded)", "steps_dropped": "\(counts.dropped)"])
        }
    }

    /// Receives and answers one robot message; `false` when none was waiting.
    private func serveRobotMessage() throws -> Bool {
        guard let id = try robots.receive(into: routing, dontWait: true) else { return false }
        guard id.more, !id.truncated else {
            drain(robots, more: id.more)
            core.countMalformed()
            return true
        }
        guard let body = try robots.receive(into: payload) else { return true }
        let received = MonotonicClock.nowNanoseconds
        let routingID = UnsafeRawBufferPointer(rebasing: routing[0..<id.size])
        if body.truncated {
            drain(robots, more: body.more)
            core.countOversized()
            reject(routingID, "a robot message of \(body.size) bytes: the limit is \(WireProtocol.maxMessageBytes) bytes", malformed: false)
            return true
        }
        if body.more {
            drain(robots, more: body.more)
            reject(routingID, "a robot message is one frame of at most \(WireProtocol.maxMessageBytes) bytes")
            return true
        }
        let bytes = UnsafeRawBufferPointer(rebasing: payload[0..<body.size])
        switch WireCodec.decodeState(bytes, into: decoded) {
        case .state:
            try answer(routingID, received: received)
        case .other:
            let message: Pipps_V1_RobotMessage
            do { message = try Pipps_V1_RobotMessage(serializedBytes: Array(bytes)) } catch {
                reject(routingID, "malformed message: \(error)")
                return true
            }
            switch message.body {
            case .hello(let hello):
                send(core.hello(hello, routingID: Array(routingID), now: received))
            case .state(let state):
                let idBytes = Array(state.robotID.utf8)
                try idBytes.withUnsafeBytes { ids in
                    decoded.load(state, idBuffer: ids)
                    try answer(routingID, received: received)
                }
            case .heartbeat:
                if core.heartbeat(routingID: routingID, now: received) {
                    send(Outgoing(routingID: Array(routingID), message: .with { $0.heartbeat = .with { $0.timeNs = received } }))
                }
            case .goodbye(let goodbye):
                core.goodbye(routingID: routingID, reason: goodbye.reason)
            case nil:
                reject(routingID, "empty message (no body)")
            }
        }
        return true
    }

    /// The control path: decision, encoding, send; no allocation.
    private func answer(_ routingID: UnsafeRawBufferPointer, received: Int64) throws {
        let decision = core.control(for: decoded, routingID: routingID, now: received, into: controlValues)
        let latency = MonotonicClock.nowNanoseconds - received
        guard let n = WireCodec.encodeControl(
            into: output, sequence: decoded.sequence,
            control: UnsafeBufferPointer(rebasing: controlValues[0..<decision.count]),
            policyVersion: decision.policyVersion, status: decision.status, reason: decision.reason,
            detail: decision.detail, runtimeLatencyNanoseconds: latency)
        else { preconditionFailure("RuntimeServer: a control does not fit \(output.count) bytes") }
        if try robots.send(routingID, flags: moreWithoutWaiting) {
            _ = try robots.send(UnsafeRawBufferPointer(rebasing: output[0..<n]), flags: .dontWait)
        }
        let sentLatency = MonotonicClock.nowNanoseconds - received
        core.sent(routingID: routingID, latency: sentLatency)
        if let recorder, let robotIndex = decision.robotIndex {
            recorder.record(robotIndex: robotIndex, trialID: decision.trialID, sequence: decoded.sequence,
                            robotTime: decoded.robotTimeNanoseconds, received: received, state: decoded.values,
                            control: UnsafeBufferPointer(rebasing: controlValues[0..<decision.count]), policyVersion: decision.policyVersion,
                            status: decision.status.rawValue, reason: decision.reason.rawValue, latency: sentLatency)
        }
        if decision.endedTrial, let stop = core.trialStop(for: routingID) { send(stop) }
    }

    private func serveAdminMessage() throws -> Bool {
        guard let frames = try admin.receiveMultipart(dontWait: true) else { return false }
        // ROUTER envelope: the peer's id, and an empty delimiter frame from REQ peers.
        guard frames.count >= 2, let body = frames.last else { return true }
        let envelope = Array(frames.dropLast())
        var reply: Pipps_V1_AdminReply
        if body.count > WireProtocol.maxMessageBytes {
            core.countOversized()
            logger.warning("admin request refused", metadata: ["reason": "\(body.count) bytes: the limit is \(WireProtocol.maxMessageBytes) bytes"])
            reply = .with { $0.ok = false; $0.error = "an admin request of \(body.count) bytes: the limit is \(WireProtocol.maxMessageBytes) bytes" }
        } else if let request = try? Pipps_V1_AdminRequest(serializedBytes: body) {
            let result = core.admin(request, now: MonotonicClock.nowNanoseconds)
            reply = result.reply
            for notice in result.notices { send(notice) }
        } else {
            core.countMalformed()
            reply = .with { $0.ok = false; $0.error = "malformed admin request (expected one pipps.v1.AdminRequest)" }
        }
        let bytes: [UInt8] = (try? reply.serializedBytes()) ?? []
        _ = try? admin.send(multipart: envelope + [bytes], flags: .dontWait)
        return true
    }

    private func send(_ outgoing: Outgoing) {
        guard let bytes: [UInt8] = try? outgoing.message.serializedBytes() else { return }
        _ = try? robots.send(multipart: [outgoing.routingID, bytes], flags: .dontWait)
    }

    private func reject(_ routingID: UnsafeRawBufferPointer, _ text: String, malformed: Bool = true) {
        if malformed { core.countMalformed() }
        logger.warning("robot message refused", metadata: ["reason": "\(text)"])
        send(Outgoing(routingID: Array(routingID), message: .with { $0.error = .with { $0.message = text } }))
    }

    private func drain(_ socket: Socket, more: Bool) {
        var more = more
        while more, let frame = try? socket.receiveFrame() { more = frame.more }
    }
}
