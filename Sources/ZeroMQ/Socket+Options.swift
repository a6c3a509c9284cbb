import CZeroMQ

extension Socket {
    // MARK: Raw options

    /// Sets an integer option.
    public func setOption(_ option: Int32, _ value: Int32, name: String) throws {
        let h = try live("setsockopt(\(name))")
        var v = value
        if retrying({ zmq_setsockopt(h, option, &v, MemoryLayout<Int32>.size) }) != 0 {
            throw ZMQError.last("setsockopt(\(name) = \(value))")
        }
    }

    /// Sets a binary or string option.
    public func setOption(_ option: Int32, bytes: [UInt8], name: String) throws {
        let h = try live("setsockopt(\(name))")
        let rc = bytes.withUnsafeBytes { p in retrying { zmq_setsockopt(h, option, p.baseAddress, p.count) } }
        if rc != 0 { throw ZMQError.last("setsockopt(\(name))") }
    }

    /// Reads an integer option.
    public func intOption(_ option: Int32, name: String) throws -> Int32 {
        let h = try live("getsockopt(\(name))")
        var v: Int32 = 0
        var size = MemoryLayout<Int32>.size
        if retrying({ zmq_getsockopt(h, option, &v, &size) }) != 0 { throw ZMQError.last("getsockopt(\(name))") }
        return v
    }

    /// Reads a string option (NUL-terminated by libzmq).
    public func stringOption(_ option: Int32, name: String) throws -> String {
        let h = try live("getsockopt(\(name))")
        var buffer = [UInt8](repeating: 0, count: 512)
        var size = buffer.count
        let rc = buffer.withUnsafeMutableBytes { p in retrying { zmq_getsockopt(h, option, p.baseAddress, &size) } }
        if rc != 0 { throw ZMQError.last("getsockopt(\(name))") }
        let end = buffer.prefix(size).firstIndex(of: 0) ?? size
        return String(decoding: buffer[..<end], as: UTF8.self)
    }

    // MARK: Named options

    /// Refuses (and disconnects) peers that send a message larger than `bytes` (`ZMQ_MAXMSGSIZE`).
    public func setMaximumMessageSize(_ bytes: Int64) throws {
        let h = try live("setsockopt(ZMQ_MAXMSGSIZE)")
        var v = bytes
        if retrying({ zmq_setsockopt(h, ZMQ_MAXMSGSIZE, &v, MemoryLayout<Int64>.size) }) != 0 {
            throw ZMQError.last("setsockopt(ZMQ_MAXMSGSIZE = \(bytes))")
        }
    }

    /// How long (ms) unsent messages are kept after close; 0 (the default here) drops them at once.

    public func setLinger(milliseconds: Int) throws {
        try setOption(ZMQ_LINGER, Int32(milliseconds), name: "ZMQ_LINGER")
    }

    /// High-water mark for outbound messages (0 = unlimited; libzmq's default is 1000).
    public func setSendHighWaterMark(_ messages: Int) throws {
        try setOption(ZMQ_SNDHWM, Int32(messages), name: "ZMQ_SNDHWM")
    }

    /// High-water mark for inbound messages.
    public func setReceiveHighWaterMark(_ messages: Int) throws {
        try setOption(ZMQ_RCVHWM, Int32(messages), name: "ZMQ_RCVHWM")
    }

    /// Receive timeout in milliseconds; a blocking receive then returns `nil` after it. −1 waits forever.
    public func setReceiveTimeout(milliseconds: Int) throws {
        try setOption(ZMQ_RCVTIMEO, Int32(milliseconds), name: "ZMQ_RCVTIMEO")
    }

    /// Send timeout in milliseconds; a blocking send then returns `false` after it. −1 waits forever.
    public func setSendTimeout(milliseconds: Int) throws {
        try setOption(ZMQ_SNDTIMEO, Int32(milliseconds), name: "ZMQ_SNDTIMEO")
    }

    /// ZMTP heartbeats: a PING every `interval` ms; the connection is dropped when nothing arrives for
    /// `timeout` ms; `ttl` ms is the timeout the peer is asked to apply to us (0 leaves it unset).
    public func setHeartbeat(intervalMilliseconds interval: Int, timeoutMilliseconds timeout: Int, ttlMilliseconds ttl: Int = 0) throws {
        try setOption(ZMQ_HEARTBEAT_IVL, Int32(interval), name: "ZMQ_HEARTBEAT_IVL")
        try setOption(ZMQ_HEARTBEAT_TIMEOUT, Int32(timeout), name: "ZMQ_HEARTBEAT_TIMEOUT")
        if ttl > 0 { try setOption(ZMQ_HEARTBEAT_TTL, Int32(ttl), name: "ZMQ_HEARTBEAT_TTL") }
    }

    /// The identity a DEALER or REQ presents to a ROUTER (1 to 255 bytes, not starting with 0).
    public func setRoutingID(_ id: [UInt8]) throws {
        precondition((1...255).contains(id.count) && id[0] != 0, "routing id must be 1–255 bytes, not starting with 0")
        try setOption(ZMQ_ROUTING_ID, bytes: id, name: "ZMQ_ROUTING_ID")
    }

    /// ROUTER: fail with `EHOSTUNREACH` instead of silently dropping a message to an unknown peer.
    public func setRouterMandatory(_ on: Bool) throws {
        try setOption(ZMQ_ROUTER_MANDATORY, on ? 1 : 0, name: "ZMQ_ROUTER_MANDATORY")
    }

    /// ROUTER: a new connection with an existing routing id takes it over.
    public func setRouterHandover(_ on: Bool) throws {
        try setOption(ZMQ_ROUTER_HANDOVER, on ? 1 : 0, name: "ZMQ_ROUTER_HANDOVER")
    }

    /// Queue messages only to completed connections.
    public func setImmediate(_ on: Bool) throws {
        try setOption(ZMQ_IMMEDIATE, on ? 1 : 0, name: "ZMQ_IMMEDIATE")
    }

    /// Keep only the last message in the queues (for latest-state subscriptions).
    public func setConflate(_ on: Bool) throws {
        try setOption(ZMQ_CONFLATE, on ? 1 : 0, name: "ZMQ_CONFLATE")
    }

    /// SUB: receive messages whose first frame starts with `prefix` (empty: everything).
    public func subscribe(_ prefix: [UInt8] = []) throws {
        try setOption(ZMQ_SUBSCRIBE, bytes: prefix, name: "ZMQ_SUBSCRIBE")
    }

    /// SUB: undo a ``subscribe(_:)``.
    public func unsubscribe(_ prefix: [UInt8] = []) throws {
        try setOption(ZMQ_UNSUBSCRIBE, bytes: prefix, name: "ZMQ_UNSUBSCRIBE")
    }

    /// Time (ms) allowed for a connection's handshake, CURVE included (libzmq's default 30 000).
    public func setHandshakeInterval(milliseconds: Int) throws {
        try setOption(ZMQ_HANDSHAKE_IVL, Int32(milliseconds), name: "ZMQ_HANDSHAKE_IVL")
    }
}
