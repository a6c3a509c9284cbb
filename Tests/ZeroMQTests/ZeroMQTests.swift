import Foundation
import Testing
import ZeroMQ

/// Transports every pattern is tried over.
enum Transport: String, CaseIterable, CustomTestStringConvertible {
    case inproc, ipc, tcp

    var testDescription: String { rawValue }

    /// A fresh endpoint to bind (tcp binds a free port on loopback).
    func bindEndpoint() -> String {
        let tag = UUID().uuidString.prefix(8)
        switch self {
        case .inproc: return "inproc://pipps-test-\(tag)"
        case .ipc: return "ipc://\(FileManager.default.temporaryDirectory.path)/pipps-test-\(tag).ipc"
        case .tcp: return "tcp://127.0.0.1:*"
        }
    }
}

/// Binds `socket` and returns the endpoint peers connect to (the resolved port for tcp).
func bindFresh(_ socket: Socket, _ transport: Transport) throws -> String {
    try socket.bind(transport.bindEndpoint())
    return try socket.lastEndpoint
}

/// Bounded waits so that a broken test fails instead of hanging.
func bounded(_ sockets: Socket...) throws {
    for s in sockets {
        try s.setReceiveTimeout(milliseconds: 30_000)  // generous: only a hang reaches it
        try s.setSendTimeout(milliseconds: 30_000)
    }
}

@Suite("ZeroMQ patterns over inproc, ipc and tcp")
struct PatternTests {
    @Test(arguments: Transport.allCases)
    func requestReply(transport: Transport) throws {
        let ctx = try Context()
        let rep = try Socket(ctx, .rep)
        let req = try Socket(ctx, .req)
        try bounded(rep, req)
        try req.connect(try bindFresh(rep, transport))
        for i in 0..<10 {
            #expect(try req.send("ping \(i)"))
            #expect(try rep.receiveString() == "ping \(i)")
            #expect(try rep.send("pong \(i)"))
            #expect(try req.receiveString() == "pong \(i)")
        }
    }

    @Test(arguments: Transport.allCases)
    func routerDealerWithSeveralPeers(transport: Transport) throws {
        let ctx = try Context()
        let router = try Socket(ctx, .router)
        try router.setRouterMandatory(true)
        try bounded(router)
        let endpoint = try bindFresh(router, transport)
        let names = ["robot-a", "robot-b", "robot-c"]
        var dealers: [Socket] = []
        for name in names {
            let d = try Socket(ctx, .dealer)
            try d.setRoutingID(Array(name.utf8))
            try bounded(d)
            try d.connect(endpoint)
            dealers.append(d)
        }
        for (name, d) in zip(names, dealers) { try d.send("state from \(name)") }
        var seen = Set<String>()
        for _ in names {
            let frames = try #require(try router.receiveMultipart())
            #expect(frames.count == 2)
            let id = String(decoding: frames[0], as: UTF8.self)
            #expect(String(decoding: frames[1], as: UTF8.self) == "state from \(id)")
            seen.insert(id)
            try router.send(multipart: [frames[0], Array("control for \(id)".utf8)])
        }
        #expect(seen == Set(names))
        for (name, d) in zip(names, dealers) {
            #expect(try d.receiveString() == "control for \(name)")
        }
        // An unknown peer is an error with ROUTER_MANDATORY, not a silent drop.
        #expect(throws: ZMQError.self) { try router.send(multipart: [Array("nobody".utf8), [1]]) }
    }

    @Test(arguments: Transport.allCases)
    func publishSubscribe(transport: Transport) throws {
        let ctx = try Context()
        let pub = try Socket(ctx, .pub)
        let sub = try Socket(ctx, .sub)
        try bounded(pub, sub)
        try sub.subscribe(Array("state".utf8))
        try sub.connect(try bindFresh(pub, transport))
        // Subscriptions propagate asynchronously: publish until the first message arrives (bounded).
        try sub.setReceiveTimeout(milliseconds: 20)
        var received: String?
        for _ in 0..<250 where received == nil {
            try pub.send("other topic")
            try pub.send("state 1")
            received = try sub.receiveString()
        }
        #expect(received == "state 1")
        try sub.setReceiveTimeout(milliseconds: 200)
        while try sub.receiveString() != nil {}  // drain
        try sub.setReceiveTimeout(milliseconds: 30_000)  // only a hang reaches this on a busy machine
        try pub.send("other topic")
        try pub.send(multipart: [Array("state".utf8), [1, 2, 3]])
        let frames = try #require(try sub.receiveMultipart())
        #expect(frames == [Array("state".utf8), [1, 2, 3]])
    }

    @Test(arguments: Transport.allCases)
    func pushPull(transport: Transport) throws {
        let ctx = try Context()
        let pull = try Socket(ctx, .pull)
        let push = try Socket(ctx, .push)
        try bounded(pull, push)
        try push.connect(try bindFresh(pull, transport))
        let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        for i in 0..<50 { try push.send([UInt8(i)] + payload) }
        for i in 0..<50 {
            let m = try #require(try pull.receive())
            #expect(m.first == UInt8(i) && m.count == payload.count + 1)
        }
    }
}

@Suite("ZeroMQ wrapper behaviour")
struct WrapperTests {
    @Test func receiveTimeoutReturnsNil() throws {
        let ctx = try Context()
        let pull = try Socket(ctx, .pull)
        try pull.bind("inproc://timeout")
        try pull.setReceiveTimeout(milliseconds: 80)
        let start = MonotonicClock.nowNanoseconds
        #expect(try pull.receive() == nil)
        let waited = Double(MonotonicClock.nowNanoseconds - start) / 1e6
        #expect(waited >= 60 && waited < 30_000, "waited \(waited) ms")
        #expect(try pull.receive(dontWait: true) == nil)
    }

    @Test func pollerReportsReadableSockets() throws {
        let ctx = try Context()
        let a = try Socket(ctx, .pull), b = try Socket(ctx, .pull)
        try a.bind("inproc://poll-a"); try b.bind("inproc://poll-b")
        let pushB = try Socket(ctx, .push)
        try pushB.connect("inproc://poll-b")
        let poller = try Poller([(a, .readable), (b, .readable)])
        #expect(try poller.poll(timeoutMilliseconds: 10) == 0)
        try pushB.send([42])
        #expect(try poller.poll(timeoutMilliseconds: 30_000) == 1)
        #expect(poller.events(at: 0).isEmpty)
        #expect(poller.events(at: 1).contains(.readable))
        #expect(try b.receive(dontWait: true) == [42])
    }

    @Test func receiveIntoABufferWithoutAllocating() throws {
        let ctx = try Context()
        let pull = try Socket(ctx, .pull), push = try Socket(ctx, .push)
        try pull.bind("inproc://buffer"); try push.connect("inproc://buffer")
        try bounded(pull)
        try push.send([1, 2, 3, 4, 5])
        try push.send(multipart: [[9, 9], [8]])
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 3, alignment: 8)
        defer { buffer.deallocate() }
        let first = try #require(try pull.receive(into: buffer))
        #expect(first == ReceivedFrame(size: 5, more: false, truncated: true))
        #expect(Array(buffer) == [1, 2, 3])
        let second = try #require(try pull.receive(into: buffer))
        #expect(second == ReceivedFrame(size: 2, more: true, truncated: false))
        #expect(try #require(try pull.receive(into: buffer)).more == false)
    }

    @Test func errorsAreTyped() throws {
        let ctx = try Context()
        let s = try Socket(ctx, .rep)
        #expect(throws: ZMQError.self) { try s.bind("nonsense://x") }
        let a = try Socket(ctx, .rep), b = try Socket(ctx, .rep)
        try a.bind("tcp://127.0.0.1:*")
        let endpoint = try a.lastEndpoint
        do {
            try b.bind(endpoint)
            Issue.record("binding \(endpoint) twice succeeded")
        } catch let e as ZMQError {
            #expect(e.kind == .addressInUse)
            #expect(e.description.contains(endpoint))
        }
        let req = try Socket(ctx, .req)
        try req.connect(endpoint)
        try req.send("one")
        do {
            try req.send("two")
            Issue.record("a REQ sent twice without a reply")
        } catch let e as ZMQError {
            #expect(e.kind == .invalidState)
        }
        req.close()
        #expect(throws: ZMQError(code: ZMQError.Code.notSocket, operation: "send")) { try req.send("closed") }
    }

    @Test func aMonitorReportsClosedConnections() throws {
        let ctx = try Context()
        let router = try Socket(ctx, .router)
        try router.bind("tcp://127.0.0.1:*")
        let monitor = try SocketMonitor(router, events: [.accepted, .disconnected])
        try monitor.socket.setReceiveTimeout(milliseconds: 30_000)
        let endpoint = try router.lastEndpoint
        let dealer = try Socket(ctx, .dealer)
        try dealer.connect(endpoint)
        let accepted = try #require(try monitor.next(dontWait: false))
        #expect(accepted.kind == .accepted && accepted.endpoint == endpoint)
        dealer.close()
        let closed = try #require(try monitor.next(dontWait: false))
        #expect(closed.kind == .disconnected && closed.endpoint == accepted.endpoint)
        monitor.stop()
        #expect(throws: ZMQError.self) { try monitor.next() }
    }

    @Test func lingerIsZeroByDefault() throws {
        let ctx = try Context()
        let push = try Socket(ctx, .push)
        #expect(try push.intOption(17 /* ZMQ_LINGER */, name: "ZMQ_LINGER") == 0)
        try push.setHeartbeat(intervalMilliseconds: 100, timeoutMilliseconds: 300, ttlMilliseconds: 1000)
        try push.setSendHighWaterMark(10)
        try push.setReceiveHighWaterMark(10)
        // Unsent messages to a peer that never comes do not block close or termination.
        try push.connect("tcp://127.0.0.1:1")
        _ = try push.send([1], flags: .dontWait)
        push.close()
        ctx.terminate()
    }
}

@Suite("CURVE authentication")
struct CurveTests {
    @Test func keysRoundTrip() throws {
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey.utf8.count == 40 && pair.secretKey.utf8.count == 40)
        #expect(try CurveKeyPair(secretKey: pair.secretKey) == pair)
        let raw = try #require(CurveKeyPair.decodeZ85(pair.publicKey))
        #expect(CurveKeyPair.encodeZ85(raw) == pair.publicKey)
        #expect(!CurveKeyPair.isValidZ85Key("too short"))
        #expect(throws: ZMQError.self) { try CurveKeyPair(secretKey: "not a key") }
    }

    @Test func onlyAllowedClientsGetThrough() throws {
        #expect(Context.has("curve"))
        let ctx = try Context()
        let server = try CurveKeyPair.generate()
        let trusted = try CurveKeyPair.generate()
        let stranger = try CurveKeyPair.generate()
        let zap = try ZAPAuthenticator(context: ctx, allowedKeys: [trusted.publicKey])
        defer { zap.stop() }

        let rep = try Socket(ctx, .router)
        try rep.makeCurveServer(server)
        try rep.bind("tcp://127.0.0.1:*")
        let endpoint = try rep.lastEndpoint
        try rep.setReceiveTimeout(milliseconds: 5000)

        // The trusted client is served.
        let good = try Socket(ctx, .dealer)
        try good.makeCurveClient(trusted, serverPublicKey: server.publicKey)
        try good.setReceiveTimeout(milliseconds: 5000)
        try good.connect(endpoint)
        try good.send("deploy")
        let frames = try #require(try rep.receiveMultipart())
        #expect(frames.last == Array("deploy".utf8))
        try rep.send(multipart: [frames[0], Array("ok".utf8)])
        #expect(try good.receiveString() == "ok")

        // The stranger's handshake is refused: nothing reaches the server, nothing comes back.
        let bad = try Socket(ctx, .dealer)
        try bad.makeCurveClient(stranger, serverPublicKey: server.publicKey)
        try bad.setReceiveTimeout(milliseconds: 500)
        try bad.connect(endpoint)
        _ = try bad.send("emergency stop", flags: .dontWait)
        #expect(try bad.receive() == nil)
        try rep.setReceiveTimeout(milliseconds: 300)
        #expect(try rep.receiveMultipart() == nil)
        // The ZAP handler decides asynchronously: wait (bounded) for both decisions.
        let limit = Date().addingTimeInterval(30)
        while !zap.decisions.contains(where: { $0.publicKey == stranger.publicKey }), Date() < limit { Thread.sleep(forTimeInterval: 0.01) }
        let decisions = zap.decisions
        #expect(decisions.contains { $0.publicKey == trusted.publicKey && $0.allowed })
        #expect(decisions.contains { $0.publicKey == stranger.publicKey && !$0.allowed })

        // A plain client with no CURVE at all is refused by the handshake too.
        let plain = try Socket(ctx, .dealer)
        try plain.setReceiveTimeout(milliseconds: 300)
        try plain.connect(endpoint)
        _ = try plain.send("hello", flags: .dontWait)
        #expect(try rep.receiveMultipart() == nil)
        #expect(try plain.receive() == nil)
    }
}
