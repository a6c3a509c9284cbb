import CZeroMQ

/// The socket types this package's protocol uses.
public enum SocketType: Sendable, CaseIterable {
    case req, rep, dealer, router, pub, sub, push, pull, pair

    var raw: Int32 {
        switch self {
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        case .pair: ZMQ_PAIR
        }
    }
}

/// Flags for ``Socket/send(_:flags:)``.
public struct SendFlags: OptionSet, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// Return at once (`false`) instead of blocking when the message cannot be queued.
    public static let dontWait = SendFlags(rawValue: ZMQ_DONTWAIT)
    /// More frames of the same message follow.
    public static let more = SendFlags(rawValue: ZMQ_SNDMORE)
}

/// The outcome of ``Socket/receive(into:dontWait:)``.
public struct ReceivedFrame: Sendable, Equatable {
    /// The frame's real size in bytes; when larger than the buffer, the frame was truncated.
    public let size: Int
    /// Whether more frames of the same message follow.
    public let more: Bool
    /// Whether the frame did not fit the buffer.
    public let truncated: Bool

    public init(size: Int, more: Bool, truncated: Bool) {
        self.size = size
        self.more = more
        self.truncated = truncated
    }
}

/// A ZeroMQ socket.
///
/// **Thread confinement.** A socket belongs to the thread that uses it: create, use and close it on
/// one thread. It is deliberately not `Sendable`. From Swift concurrency, give each socket (or a
/// group of sockets polled together) a dedicated `Thread` running a loop over ``Poller``, and pass
/// data to async code through an `AsyncStream` continuation (which is `Sendable`); to send from async
/// code, hand messages to that thread through a PUSH/PULL or PAIR pair over `inproc`. Never block a
/// cooperative-pool thread in a receive or a poll: the pool has one thread per core.
///
/// **Defaults.** `ZMQ_LINGER` is 0 so that closing never waits for unsent messages. `EINTR` is
/// retried; `EAGAIN` (non-blocking call with nothing to do, or a timeout set by
/// ``receiveTimeout``/``sendTimeout``) comes back as `nil`/`false`, not as an error.
public final class Socket {
    /// The libzmq socket handle; `nil` once closed.
    public private(set) var handle: UnsafeMutableRawPointer?
    public let type: SocketType
    /// The context that owns the socket (kept alive while the socket lives).
    public let context: Context
    /// A reusable message for receives of unknown size, at a stable heap address.
    private let message: UnsafeMutablePointer<zmq_msg_t>

    /// Creates a socket of `type` in `context`, with linger 0.
    public init(_ context: Context, _ type: SocketType) throws {
        guard let h = zmq_socket(context.handle, type.raw) else {
            throw ZMQError.last("zmq_socket(\(type))")
        }
        self.handle = h
        self.type = type
        self.context = context
        self.message = .allocate(capacity: 1)
        zmq_msg_init(message)
        try setOption(ZMQ_LINGER, Int32(0), name: "ZMQ_LINGER")
    }

    deinit {
        close()
        zmq_msg_close(message)
        message.deallocate()
    }

    /// Closes the socket; later calls fail with `ENOTSOCK`. Idempotent.
    public func close() {
        if let h = handle {
            zmq_close(h)
            handle = nil
        }
    }

    @inline(__always) func live(_ operation: @autoclosure () -> String) throws -> UnsafeMutableRawPointer {
        guard let h = handle else { throw ZMQError(code: ZMQError.Code.notSocket, operation: operation()) }
        return h
    }

    /// Runs a libzmq call, retrying on `EINTR`; returns its result (−1 for failure with `zmq_errno`).
    @inline(__always) func retrying(_ call: () -> Int32) -> Int32 {
        var rc: Int32
        repeat { rc = call() } while rc == -1 && zmq_errno() == EINTR
        return rc
    }

    // MARK: Endpoints

    /// Binds to `endpoint` (`tcp://127.0.0.1:5555`, `tcp://127.0.0.1:*` for a free port,
    /// `ipc:///path`, `inproc://name`).
    public func bind(_ endpoint: String) throws {
        let h = try live("bind(\(endpoint))")
        if retrying({ zmq_bind(h, endpoint) }) != 0 { throw ZMQError.last("bind(\(endpoint))") }
    }

    /// Connects to `endpoint`; the connection itself is made in the background.
    public func connect(_ endpoint: String) throws {
        let h = try live("connect(\(endpoint))")
        if retrying({ zmq_connect(h, endpoint) }) != 0 { throw ZMQError.last("connect(\(endpoint))") }
    }

    public func unbind(_ endpoint: String) throws {
        let h = try live("unbind(\(endpoint))")
        if retrying({ zmq_unbind(h, endpoint) }) != 0 { throw ZMQError.last("unbind(\(endpoint))") }
    }

    public func disconnect(_ endpoint: String) throws {
        let h = try live("disconnect(\(endpoint))")
        if retrying({ zmq_disconnect(h, endpoint) }) != 0 { throw ZMQError.last("disconnect(\(endpoint))") }
    }

    /// The endpoint last bound, with a wildcard port resolved (`tcp://127.0.0.1:41235`).
    public var lastEndpoint: String {
        get throws { try stringOption(ZMQ_LAST_ENDPOINT, name: "ZMQ_LAST_ENDPOINT") }
    }

    // MARK: Sending

    /// Sends one frame of `bytes` (copied). Returns `false` when the frame could not be queued now
    /// (`EAGAIN`: `.dontWait`, or the send timeout passed).
    @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer, flags: SendFlags = []) throws -> Bool {
        let h = try live("send")
        let rc = retrying { Int32(truncatingIfNeeded: zmq_send(h, bytes.baseAddress, bytes.count, flags.rawValue)) }
        if rc == -1 {
            if zmq_errno() == EAGAIN { return false }
            throw ZMQError.last("send")
        }
        return true
    }

    /// Sends one frame of `bytes` (copied).
    @discardableResult
    public func send(_ bytes: [UInt8], flags: SendFlags = []) throws -> Bool {
        try bytes.withUnsafeBytes { try send($0, flags: flags) }
    }

    /// Sends a UTF-8 string as one frame.
    @discardableResult
    public func send(_ string: String, flags: SendFlags = []) throws -> Bool {
        try send(Array(string.utf8), flags: flags)
    }

    /// Sends a message of several frames. Returns `false` when it could not be queued now; ZeroMQ
    /// queues multipart messages atomically, so then no frame was sent.
    @discardableResult
    public func send(multipart frames: [[UInt8]], flags: SendFlags = []) throws -> Bool {
        precondition(!frames.isEmpty, "send(multipart:): no frames")
        for (i, frame) in frames.enumerated() {
            let last = i == frames.count - 1
            let f: SendFlags = last ? flags.subtracting(.more) : flags.union(.more)
            if try !send(frame, flags: f) {
                precondition(i == 0, "ZeroMQ refused a frame after the first of a multipart message")
                return false
            }
        }
        return true
    }

    // MARK: Receiving

    /// Receives one frame into `buffer` without allocating. Returns `nil` when nothing is there yet
    /// (`EAGAIN`: `dontWait`, or the receive timeout passed).
    public func receive(into buffer: UnsafeMutableRawBufferPointer, dontWait: Bool = false) throws -> ReceivedFrame? {
        let h = try live("receive")
        let rc = retrying { zmq_recv(h, buffer.baseAddress, buffer.count, dontWait ? ZMQ_DONTWAIT : 0) }
        if rc == -1 {
            if zmq_errno() == EAGAIN { return nil }
            throw ZMQError.last("receive")
        }
        let size = Int(rc)
        return ReceivedFrame(size: size, more: try hasMore, truncated: size > buffer.count)
    }

    /// Receives one frame of any size. Returns `nil` when nothing is there yet.
    public func receive(dontWait: Bool = false) throws -> [UInt8]? {
        try receiveFrame(dontWait: dontWait)?.bytes
    }

    /// Receives one frame and whether more follow.
    public func receiveFrame(dontWait: Bool = false) throws -> (bytes: [UInt8], more: Bool)? {
        let h = try live("receive")
        let rc = retrying { zmq_msg_recv(message, h, dontWait ? ZMQ_DONTWAIT : 0) }
        if rc == -1 {
            if zmq_errno() == EAGAIN { return nil }
            throw ZMQError.last("receive")
        }
        let size = zmq_msg_size(message)
        let bytes = [UInt8](UnsafeRawBufferPointer(start: zmq_msg_data(message), count: size))
        return (bytes, zmq_msg_more(message) != 0)
    }

    /// Receives every frame of one message. Returns `nil` when nothing is there yet; once the first
    /// frame has arrived, the rest are waited for (ZeroMQ delivers a message's frames together).
    public func receiveMultipart(dontWait: Bool = false) throws -> [[UInt8]]? {
        guard var frame = try receiveFrame(dontWait: dontWait) else { return nil }
        var frames = [frame.bytes]
        while frame.more {
            guard let next = try receiveFrame(dontWait: false) else {
                throw ZMQError(code: EAGAIN, operation: "receiveMultipart (frame \(frames.count) timed out)")
            }
            frame = next
            frames.append(frame.bytes)
        }
        return frames
    }

    /// Receives one frame as a UTF-8 string (invalid bytes repaired).
    public func receiveString(dontWait: Bool = false) throws -> String? {
        try receive(dontWait: dontWait).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether the last frame received has more frames after it (`ZMQ_RCVMORE`).
    public var hasMore: Bool {
        get throws { try intOption(ZMQ_RCVMORE, name: "ZMQ_RCVMORE") != 0 }
    }
}
