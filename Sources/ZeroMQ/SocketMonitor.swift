import CZeroMQ
import Foundation

/// Connection events of a socket (`zmq_socket_monitor`), read from a PAIR socket that can be polled
/// beside the monitored one, on the same thread.
public final class SocketMonitor {
    /// One event: what happened, libzmq's value for it (a file descriptor or an errno), and the
    /// endpoint it concerns (for a bound socket: the bound address).
    public struct Event: Sendable, Equatable {
        public let kind: Kind
        public let value: UInt32
        public let endpoint: String
    }

    /// The events a monitor reports (libzmq's `ZMQ_EVENT_*` bits).
    public struct Kind: OptionSet, Sendable, Hashable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let accepted = Kind(rawValue: UInt16(ZMQ_EVENT_ACCEPTED))
        /// A connection closed: by the peer, or by libzmq (for example a message above
        /// `ZMQ_MAXMSGSIZE`); libzmq reports both alike.
        public static let disconnected = Kind(rawValue: UInt16(ZMQ_EVENT_DISCONNECTED))
        public static let handshakeSucceeded = Kind(rawValue: UInt16(ZMQ_EVENT_HANDSHAKE_SUCCEEDED))
    }

    /// The PAIR socket the events arrive on: poll it for `.readable`.
    public let socket: Socket
    private let monitored: Socket

    /// Starts reporting `events` of `monitored` (which must outlive this monitor's use).
    public init(_ monitored: Socket, events: Kind) throws {
        let h = try monitored.live("zmq_socket_monitor")
        let endpoint = "inproc://pipps-monitor-\(UUID().uuidString)"
        guard zmq_socket_monitor(h, endpoint, Int32(events.rawValue)) == 0 else { throw ZMQError.last("zmq_socket_monitor") }
        self.monitored = monitored
        socket = try Socket(monitored.context, .pair)
        try socket.connect(endpoint)
    }

    /// The next event, or `nil` when none is waiting (with `dontWait`) or the receive timed out.
    /// Each event is two frames: 6 bytes (event, little-endian UInt16; value, UInt32) and the endpoint.
    public func next(dontWait: Bool = true) throws -> Event? {
        guard let first = try socket.receiveFrame(dontWait: dontWait) else { return nil }
        guard first.more, let second = try socket.receiveFrame() else {
            throw ZMQError(code: EPROTO, operation: "socket monitor: an event without its endpoint frame")
        }
        guard first.bytes.count >= 6 else { throw ZMQError(code: EPROTO, operation: "socket monitor: a short event frame") }
        let b = first.bytes
        let kind = UInt16(b[0]) | UInt16(b[1]) << 8
        let value = UInt32(b[2]) | UInt32(b[3]) << 8 | UInt32(b[4]) << 16 | UInt32(b[5]) << 24
        return Event(kind: Kind(rawValue: kind), value: value, endpoint: String(decoding: second.bytes, as: UTF8.self))
    }

    /// Stops the monitor (idempotent); the monitored socket is left as it is.
    public func stop() {
        if let h = monitored.handle { _ = zmq_socket_monitor(h, nil, 0) }
        socket.close()
    }

    deinit { stop() }
}
