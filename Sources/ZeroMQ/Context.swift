import CZeroMQ

/// A ZeroMQ context: the owner of I/O threads and of every socket made from it.
///
/// One per process is usual. A context is thread-safe (`Sendable`); sockets made from it are not
/// (see ``Socket``). ``terminate()`` (also run by `deinit`) blocks until every socket of the context is
/// closed; sockets are created with `ZMQ_LINGER` 0, so closing never waits for unsent messages.
public final class Context: @unchecked Sendable {
    /// The libzmq context handle.
    public let handle: UnsafeMutableRawPointer
    private var terminated = false

    /// Creates a context with `ioThreads` I/O threads (1 is enough below about a gigabyte per second).
    public init(ioThreads: Int = 1) throws {
        guard let h = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        handle = h
        if zmq_ctx_set(h, ZMQ_IO_THREADS, Int32(ioThreads)) != 0 {
            let error = ZMQError.last("zmq_ctx_set(ZMQ_IO_THREADS)")
            zmq_ctx_term(h)
            throw error
        }
    }

    /// Makes every blocking call on this context's sockets return `ETERM` at once, from any thread;
    /// the sockets must still be closed by their threads before ``terminate()`` returns.
    public func shutdown() {
        zmq_ctx_shutdown(handle)
    }

    /// Terminates the context, waiting for its sockets to be closed. Idempotent.
    public func terminate() {
        guard !terminated else { return }
        terminated = true
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    deinit { terminate() }

    /// The libzmq version the process runs with, e.g. (4, 3, 4).
    public static var libraryVersion: (major: Int, minor: Int, patch: Int) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (Int(major), Int(minor), Int(patch))
    }

    /// Whether libzmq was built with `capability` (e.g. "curve", "ipc").
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) != 0
    }
}
