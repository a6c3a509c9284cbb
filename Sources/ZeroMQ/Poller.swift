import CZeroMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Events a poll waits for or reports.
public struct PollEvents: OptionSet, Sendable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }
    /// A message can be received without blocking.
    public static let readable = PollEvents(rawValue: Int16(ZMQ_POLLIN))
    /// A message can be sent without blocking.
    public static let writable = PollEvents(rawValue: Int16(ZMQ_POLLOUT))
}

/// Waits for events on several sockets of one thread (`zmq_poll`).
///
/// The item array is built once and reused, so a poll loop allocates nothing per iteration.
public final class Poller {
    private var items: [zmq_pollitem_t]
    private let sockets: [Socket]

    /// Polls `sockets`, each for the events beside it.
    public init(_ entries: [(Socket, PollEvents)]) throws {
        sockets = entries.map(\.0)
        items = try entries.map { socket, events in
            zmq_pollitem_t(socket: try socket.live("poll"), fd: 0, events: events.rawValue, revents: 0)
        }
    }

    /// Waits until at least one socket has an event, or `timeoutMilliseconds` pass (−1: forever,
    /// 0: just look). Returns the number of sockets with events; read them with ``events(at:)``.
    /// `EINTR` restarts the wait with the time that is left.
    @discardableResult
    public func poll(timeoutMilliseconds: Int) throws -> Int {
        var remaining = timeoutMilliseconds
        let deadline = timeoutMilliseconds > 0 ? MonotonicClock.nowNanoseconds + Int64(timeoutMilliseconds) * 1_000_000 : 0
        while true {
            let count = items.count
            let rc = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32(count), remaining) }
            if rc >= 0 { return Int(rc) }
            guard zmq_errno() == EINTR else { throw ZMQError.last("poll") }
            if timeoutMilliseconds > 0 {
                remaining = max(0, Int((deadline - MonotonicClock.nowNanoseconds) / 1_000_000))
            }
        }
    }

    /// The events the last poll reported for the socket at `index` (in the order given to `init`).
    public func events(at index: Int) -> PollEvents {
        PollEvents(rawValue: items[index].revents)
    }

    /// The socket at `index`.
    public func socket(at index: Int) -> Socket { sockets[index] }
}

/// The system's monotonic clock, for deadlines and latency measurements.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary fixed point (`CLOCK_MONOTONIC`).
    @inlinable public static var nowNanoseconds: Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
