import Messages

/// The control path's protobuf codec: decodes a `RobotMessage` holding a `State` and encodes a
/// `RuntimeMessage` holding a `Control` straight between byte buffers and preallocated storage,
/// without allocating. Everything else (and any `State` this decoder does not take) goes through
/// SwiftProtobuf's generated types, which define the format; tests check that both agree.
///
/// Wire format (protobuf encoding): each field is a varint key `(number << 3) | wire type`, then a
/// varint (type 0), 8 little-endian bytes (type 1), a varint length and that many bytes (type 2), or
/// 4 bytes (type 5).
public enum WireCodec {
    /// The outcome of ``decodeState(_:into:)``.
    public enum StateDecoding: Equatable, Sendable {
        /// A `State`, now in the ``DecodedState``.
        case state
        /// Not a lone `State` (Hello, Heartbeat, Goodbye, several bodies) or malformed: decode it with
        /// SwiftProtobuf, which also says what is wrong.
        case other
    }

    /// Reads `bytes` as a `RobotMessage` whose only body is a `State`.
    ///
    /// State values beyond `into.capacity` are counted but not stored (the state is then refused for
    /// its dimension anyway).
    public static func decodeState(_ bytes: UnsafeRawBufferPointer, into state: DecodedState) -> StateDecoding {
        var reader = Reader(bytes)
        var found = false
        while !reader.atEnd {
            guard let key = reader.varint(), key >> 3 == 2, key & 7 == 2, !found,
                  let body = reader.lengthDelimited()
            else { return .other }
            found = true
            guard decodeStateBody(body, into: state) else { return .other }
        }
        return found ? .state : .other
    }

    private static func decodeStateBody(_ bytes: UnsafeRawBufferPointer, into state: DecodedState) -> Bool {
        state.reset()
        var reader = Reader(bytes)
        while !reader.atEnd {
            // Field numbers run from 1 to 2^29 − 1; anything else is malformed.
            guard let key = reader.varint(), key >> 3 >= 1, key >> 3 < 1 << 29 else { return false }
            let field = key >> 3, wire = key & 7
            switch (field, wire) {
            case (1, 2):
                guard let id = reader.lengthDelimited() else { return false }
                state.robotID = id
            case (2, 0):
                guard let v = reader.varint() else { return false }
                state.trialID = v
            case (3, 0):
                guard let v = reader.varint() else { return false }
                state.sequence = v
            case (4, 0):
                guard let v = reader.varint() else { return false }
                state.robotTimeNanoseconds = Int64(bitPattern: v)
            case (5, 2):
                guard let packed = reader.lengthDelimited(), packed.count % 8 == 0 else { return false }
                var i = 0
                while i < packed.count {
                    state.append(Double(bitPattern: UInt64(littleEndian: packed.loadUnaligned(fromByteOffset: i, as: UInt64.self))))
                    i += 8
                }
            case (5, 1):
                guard let bits = reader.fixed64() else { return false }
                state.append(Double(bitPattern: bits))
            case (1...5, _):
                return false  // a known field with the wrong wire type: leave it to SwiftProtobuf
            default:
                guard reader.skip(wireType: wire) else { return false }
            }
        }
        return true
    }

    /// Writes a `RuntimeMessage` whose body is this `Control` into `buffer` and returns the number of
    /// bytes, or `nil` when the buffer is too small. Fields at their default value are left out, as
    /// protobuf encoders do.
    public static func encodeControl(
        into buffer: UnsafeMutableRawBufferPointer, sequence: UInt64, control: UnsafeBufferPointer<Double>,
        policyVersion: UInt64, status: Pipps_V1_ControlStatus, reason: Pipps_V1_FallbackReason,
        detail: StaticString, runtimeLatencyNanoseconds: Int64
    ) -> Int? {
        let detailBytes = detail.utf8CodeUnitCount
        var body = 0
        if sequence != 0 { body += 1 + varintSize(sequence) }
        if control.count > 0 { body += 1 + varintSize(UInt64(8 * control.count)) + 8 * control.count }
        if policyVersion != 0 { body += 1 + varintSize(policyVersion) }
        if status.rawValue != 0 { body += 1 + varintSize(UInt64(status.rawValue)) }
        if reason.rawValue != 0 { body += 1 + varintSize(UInt64(reason.rawValue)) }
        if detailBytes > 0 { body += 1 + varintSize(UInt64(detailBytes)) + detailBytes }
        if runtimeLatencyNanoseconds != 0 { body += 1 + varintSize(UInt64(bitPattern: runtimeLatencyNanoseconds)) }
        let total = 1 + varintSize(UInt64(body)) + body
        guard total <= buffer.count else { return nil }
        var w = Writer(buffer)
        w.byte(0x12)  // RuntimeMessage.control = 2, length-delimited
        w.varint(UInt64(body))
        if sequence != 0 { w.byte(0x08); w.varint(sequence) }
        if control.count > 0 {
            w.byte(0x12)
            w.varint(UInt64(8 * control.count))
            for v in control { w.fixed64(v.bitPattern) }
        }
        if policyVersion != 0 { w.byte(0x18); w.varint(policyVersion) }
        if status.rawValue != 0 { w.byte(0x20); w.varint(UInt64(status.rawValue)) }
        if reason.rawValue != 0 { w.byte(0x28); w.varint(UInt64(reason.rawValue)) }
        if detailBytes > 0 {
            w.byte(0x32)
            w.varint(UInt64(detailBytes))
            w.bytes(UnsafeRawBufferPointer(start: detail.utf8Start, count: detailBytes))
        }
        if runtimeLatencyNanoseconds != 0 { w.byte(0x38); w.varint(UInt64(bitPattern: runtimeLatencyNanoseconds)) }
        return w.offset
    }

    static func varintSize(_ v: UInt64) -> Int {
        var n = 1, x = v
        while x >= 0x80 { x >>= 7; n += 1 }
        return n
    }

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0
        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
        var atEnd: Bool { offset >= bytes.count }

        mutating func varint() -> UInt64? {
            var result: UInt64 = 0, shift: UInt64 = 0
            while offset < bytes.count, shift < 64 {
                let b = bytes[offset]
                offset += 1
                result |= UInt64(b & 0x7f) << shift
                if b < 0x80 { return result }
                shift += 7
            }
            return nil
        }

        mutating func fixed64() -> UInt64? {
            guard offset + 8 <= bytes.count else { return nil }
            defer { offset += 8 }
            return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }

        mutating func lengthDelimited() -> UnsafeRawBufferPointer? {
            guard let n = varint(), n <= UInt64(bytes.count - offset) else { return nil }
            defer { offset += Int(n) }
            return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + Int(n)])
        }

        mutating func skip(wireType: UInt64) -> Bool {
            switch wireType {
            case 0: return varint() != nil
            case 1: return fixed64() != nil
            case 2: return lengthDelimited() != nil
            case 5:
                guard offset + 4 <= bytes.count else { return false }
                offset += 4
                return true
            default: return false  // groups (3, 4) are not proto3; anything else is malformed
            }
        }
    }

    struct Writer {
        let buffer: UnsafeMutableRawBufferPointer
        var offset = 0
        init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

        mutating func byte(_ b: UInt8) {
            buffer[offset] = b
            offset += 1
        }

        mutating func varint(_ v: UInt64) {
            var x = v
            while x >= 0x80 {
                byte(UInt8(x & 0x7f) | 0x80)
                x >>= 7
            }
            byte(UInt8(x))
        }

        mutating func fixed64(_ v: UInt64) {
            buffer.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }

        mutating func bytes(_ b: UnsafeRawBufferPointer) {
            UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<offset + b.count]).copyMemory(from: b)
            offset += b.count
        }
    }
}

/// A `State` decoded by ``WireCodec/decodeState(_:into:)``, in storage allocated once.
///
/// `robotID` points into the message buffer it was decoded from and is valid only until that buffer
/// is reused.
public final class DecodedState {
    public fileprivate(set) var robotID = UnsafeRawBufferPointer(start: nil, count: 0)
    public fileprivate(set) var trialID: UInt64 = 0
    public fileprivate(set) var sequence: UInt64 = 0
    public fileprivate(set) var robotTimeNanoseconds: Int64 = 0
    /// Number of state values in the message (may exceed ``capacity``).
    public private(set) var count = 0
    /// The most values stored.
    public let capacity: Int
    private let storage: UnsafeMutableBufferPointer<Double>

    public init(capacity: Int = 64) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
        storage.initialize(repeating: 0)
    }

    deinit { storage.deallocate() }

    /// The stored values (the first `min(count, capacity)`).
    public var values: UnsafeBufferPointer<Double> {
        UnsafeBufferPointer(rebasing: storage[0..<min(count, capacity)])
    }

    fileprivate func reset() {
        robotID = UnsafeRawBufferPointer(start: nil, count: 0)
        trialID = 0
        sequence = 0
        robotTimeNanoseconds = 0
        count = 0
    }

    fileprivate func append(_ v: Double) {
        if count < capacity { storage[count] = v }
        count += 1
    }

    /// Fills this from a SwiftProtobuf-decoded `State` (the slow path); `robotID` then points into
    /// `idBuffer`, which the caller keeps alive while it uses this.
    public func load(_ state: Pipps_V1_State, idBuffer: UnsafeRawBufferPointer) {
        reset()
        robotID = idBuffer
        trialID = state.trialID
        sequence = state.sequence
        robotTimeNanoseconds = state.robotTimeNs
        for v in state.state { append(v) }
    }
}
