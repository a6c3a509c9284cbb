import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error reported by libzmq: which operation failed, and libzmq's `errno` for it.
///
/// Compare with the named codes (`error.code == ZMQError.Code.terminated`) or switch on ``kind``.
/// `EINTR` is retried inside the wrapper and never surfaces; `EAGAIN` ("nothing yet": a
/// non-blocking call with nothing to do, or a receive/send timeout) is returned as `nil` or `false`
/// by the calls that can meet it, not thrown.
public struct ZMQError: Error, Equatable, Sendable, CustomStringConvertible {
    /// libzmq's `errno` value.
    public let code: Int32
    /// The wrapper operation that failed, e.g. `"bind(tcp://127.0.0.1:5555)"`.
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// The error of the last failed libzmq call on this thread.
    static func last(_ operation: @autoclosure () -> String) -> ZMQError {
        ZMQError(code: zmq_errno(), operation: operation())
    }

    /// Named `errno` values libzmq uses.
    public enum Code {
        /// The context was terminated (`ETERM`): the socket must be closed.
        public static let terminated = ETERM
        /// The operation is not valid in the socket's state (`EFSM`), e.g. two sends on a REQ.
        public static let invalidState = EFSM
        /// The endpoint's address is already in use (`EADDRINUSE`).
        public static let addressInUse = EADDRINUSE
        /// The endpoint string is not valid (`EINVAL`).
        public static let invalidArgument = EINVAL
        /// The protocol of the endpoint is not supported (`EPROTONOSUPPORT`).
        public static let protocolNotSupported = EPROTONOSUPPORT
        /// A ROUTER with `routerMandatory` cannot route to the peer (`EHOSTUNREACH`).
        public static let hostUnreachable = EHOSTUNREACH
        /// The socket was closed or is otherwise not a socket (`ENOTSOCK`).
        public static let notSocket = ENOTSOCK
    }

    /// A coarse classification for `switch`.
    public enum Kind: Sendable {
        case terminated, invalidState, addressInUse, invalidArgument, hostUnreachable, other
    }

    public var kind: Kind {
        switch code {
        case Code.terminated: .terminated
        case Code.invalidState: .invalidState
        case Code.addressInUse: .addressInUse
        case Code.invalidArgument: .invalidArgument
        case Code.hostUnreachable: .hostUnreachable
        default: .other
        }
    }

    public var description: String {
        "ZeroMQ \(operation) failed: \(String(cString: zmq_strerror(code))) (errno \(code))"
    }
}
