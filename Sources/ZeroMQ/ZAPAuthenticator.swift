import CZeroMQ
import Foundation
import Synchronization

/// A ZAP handler (ZeroMQ RFC 27) that admits CURVE clients whose public key is on an allow-list.
///
/// It serves `inproc://zeromq.zap.01` of one context on a thread of its own; every CURVE server
/// socket of that context (see ``Socket/makeCurveServer(_:domain:)``) then asks it about each
/// connecting client. Unknown keys are refused during the handshake: the client never gets a message
/// through and the server never sees one from it. Start it before binding the servers; ``stop()`` (or
/// releasing it) ends the thread.
public final class ZAPAuthenticator: Sendable {
    /// A decision, for logs and metrics.
    public struct Decision: Sendable, Equatable {
        public let publicKey: String
        public let address: String
        public let allowed: Bool
    }

    private let state: Mutex<State>
    private let done = DispatchSemaphore(value: 0)

    private struct State {
        /// Admitted on every domain.
        var allowed: Set<[UInt8]>
        /// Admitted on one ZAP domain only (see ``Socket/makeCurveServer(_:domain:)``).
        var allowedByDomain: [String: Set<[UInt8]>] = [:]
        var stopping = false
        var decisions: [Decision] = []
        var onDecision: (@Sendable (Decision) -> Void)?
    }

    /// Starts the handler on `context` with the Z85 public keys in `allowedKeys`.
    ///
    /// - Throws: a ``ZMQError`` when a key is not valid Z85 or the ZAP endpoint cannot be bound (a
    ///   context has at most one ZAP handler).
    public convenience init(context: Context, allowedKeys: [String], onDecision: (@Sendable (Decision) -> Void)? = nil) throws {
        try self.init(context: context, allowedKeys: allowedKeys, allowedKeysByDomain: [:], onDecision: onDecision)
    }

    /// Starts the handler with keys admitted on every domain (`allowedKeys`) and keys admitted only
    /// on the servers of one ZAP domain (`allowedKeysByDomain`), so that, say, a robot's key opens
    /// the robot endpoint but not the admin endpoint.
    public init(context: Context, allowedKeys: [String], allowedKeysByDomain: [String: [String]],
                onDecision: (@Sendable (Decision) -> Void)? = nil) throws {
        func decode(_ keys: [String]) throws -> Set<[UInt8]> {
            var raw = Set<[UInt8]>()
            for key in keys {
                guard let bytes = CurveKeyPair.decodeZ85(key) else {
                    throw ZMQError(code: ZMQError.Code.invalidArgument, operation: "ZAPAuthenticator: invalid public key \(key.prefix(8))…")
                }
                raw.insert(bytes)
            }
            return raw
        }
        var initial = State(allowed: try decode(allowedKeys), onDecision: onDecision)
        for (domain, keys) in allowedKeysByDomain { initial.allowedByDomain[domain] = try decode(keys) }
        state = Mutex(initial)
        // Bind on the caller's thread so that errors surface here and the endpoint exists before any
        // server binds; the socket is then used only by the handler thread.
        let socket = try Socket(context, .rep)
        try socket.bind("inproc://zeromq.zap.01")
        let box = UnsafeTransfer(socket)
        let t = Thread { [self] in
            self.serve(box.value)
            box.value.close()
            self.done.signal()
        }
        t.name = "pipps-zap"
        t.start()
    }

    deinit { stop() }

    /// Replaces the allow-list; later handshakes use the new one.
    public func setAllowedKeys(_ keys: [String]) throws {
        let raw = try keys.map { key -> [UInt8] in
            guard let b = CurveKeyPair.decodeZ85(key) else {
                throw ZMQError(code: ZMQError.Code.invalidArgument, operation: "ZAPAuthenticator: invalid public key")
            }
            return b
        }
        state.withLock { $0.allowed = Set(raw) }
    }

    /// Decisions made so far (most recent last, at most 1000 kept).
    public var decisions: [Decision] { state.withLock { $0.decisions } }

    /// Stops the handler thread and waits for it. Idempotent.
    public func stop() {
        let wasRunning = state.withLock { s -> Bool in
            defer { s.stopping = true }
            return !s.stopping
        }
        if wasRunning { done.wait() }
    }

    private func serve(_ socket: Socket) {
        guard let poller = try? Poller([(socket, .readable)]) else { return }
        while !state.withLock({ $0.stopping }) {
            do {
                guard try poller.poll(timeoutMilliseconds: 50) > 0 else { continue }
                guard let request = try socket.receiveMultipart(dontWait: true) else { continue }
                try socket.send(multipart: reply(to: request))
            } catch let error as ZMQError where error.kind == .terminated {
                return
            } catch {
                continue
            }
        }
    }

    /// ZAP request frames: version, request id, domain, address, routing id, mechanism, credentials…
    private func reply(to frames: [[UInt8]]) -> [[UInt8]] {
        let version = frames.first ?? []
        let requestID = frames.count > 1 ? frames[1] : []
        func answer(_ code: String, _ text: String, user: String = "") -> [[UInt8]] {
            [Array("1.0".utf8), requestID, Array(code.utf8), Array(text.utf8), Array(user.utf8), []]
        }
        guard version == Array("1.0".utf8), frames.count >= 6 else {
            return answer("500", "malformed ZAP request")
        }
        let domain = String(decoding: frames[2], as: UTF8.self)
        let address = String(decoding: frames[3], as: UTF8.self)
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        guard mechanism == "CURVE", frames.count >= 7, frames[6].count == 32 else {
            return answer("400", "only CURVE clients are admitted")
        }
        let key = frames[6]
        let z85 = CurveKeyPair.encodeZ85(key)
        let (allowed, callback) = state.withLock { s -> (Bool, (@Sendable (Decision) -> Void)?) in
            let ok = s.allowed.contains(key) || s.allowedByDomain[domain]?.contains(key) == true
            s.decisions.append(Decision(publicKey: z85, address: address, allowed: ok))
            if s.decisions.count > 1000 { s.decisions.removeFirst(s.decisions.count - 1000) }
            return (ok, s.onDecision)
        }
        callback?(Decision(publicKey: z85, address: address, allowed: allowed))
        return allowed ? answer("200", "OK", user: z85) : answer("400", "public key not on the allow-list")
    }
}

/// Moves a value that is confined to one thread into the closure of the thread that will own it.
/// Only for hand-overs where the sender never touches the value again.
struct UnsafeTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
