import Foundation
import Messages
import SwiftProtobuf
import ZeroMQ

/// Why an admin request got no usable answer.
public struct AdminClientError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An operator's connection to the runtime's admin endpoint (a DEALER; CURVE client when keys are
/// given). Requests are answered in order; each waits at most `timeout`.
public final class AdminClient {
    private let context: Context
    private let socket: Socket
    private var nextRequestID: UInt64 = 1
    public var timeoutMilliseconds: Int

    /// - Parameters:
    ///   - keys: the operator's key pair, with `serverPublicKey`, for a CURVE runtime.
    public init(endpoint: String, keys: CurveKeyPair? = nil, serverPublicKey: String? = nil, timeoutMilliseconds: Int = 5000) throws {
        context = try Context()
        socket = try Socket(context, .dealer)
        self.timeoutMilliseconds = timeoutMilliseconds
        if let keys, let serverPublicKey { try socket.makeCurveClient(keys, serverPublicKey: serverPublicKey) }
        try socket.setImmediate(true)
        try socket.connect(endpoint)
    }

    deinit {
        socket.close()
        context.terminate()
    }

    /// Sends `body` and waits for its reply.
    ///
    /// - Throws: ``AdminClientError`` on timeout (which is also what an unknown CURVE key gets) or an
    ///   undecodable reply. A refused request is not an error here: see `reply.ok` and `reply.error`.
    public func request(_ body: Pipps_V1_AdminRequest.OneOf_Body) throws -> Pipps_V1_AdminReply {
        var request = Pipps_V1_AdminRequest()
        request.requestID = nextRequestID
        nextRequestID += 1
        request.body = body
        let bytes: [UInt8] = try request.serializedBytes()
        let deadline = MonotonicClock.nowNanoseconds + Int64(timeoutMilliseconds) * 1_000_000
        // With ZMQ_IMMEDIATE the send waits for a completed connection (and handshake).
        try socket.setSendTimeout(milliseconds: timeoutMilliseconds)
        guard try socket.send(bytes) else { throw AdminClientError("no answer from the runtime within \(timeoutMilliseconds) ms (not running, or our key is not on its allow-list)") }
        let poller = try Poller([(socket, .readable)])
        while true {
            let left = Int((deadline - MonotonicClock.nowNanoseconds) / 1_000_000)
            guard left > 0, try poller.poll(timeoutMilliseconds: left) > 0, let data = try socket.receive(dontWait: true) else {
                throw AdminClientError("no answer from the runtime within \(timeoutMilliseconds) ms (not running, or our key is not on its allow-list)")
            }
            guard let reply = try? Pipps_V1_AdminReply(serializedBytes: data) else { throw AdminClientError("undecodable reply from the runtime") }
            if reply.requestID == request.requestID { return reply }
        }
    }

    /// `request`, throwing the runtime's error when it refused.
    @discardableResult
    public func perform(_ body: Pipps_V1_AdminRequest.OneOf_Body) throws -> Pipps_V1_AdminReply {
        let reply = try request(body)
        guard reply.ok else { throw AdminClientError(reply.error) }
        return reply
    }
}
