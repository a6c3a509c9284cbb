import Foundation

/// MCAP files (https://mcap.dev/spec, major version 0): a writer with uncompressed chunks, message
/// indexes, and a summary (schemas, channels, statistics, chunk indexes, summary offsets) with CRCs;
/// and a linear reader for files without compression, which checks every CRC it finds.
public enum MCAP {
    public static let magic: [UInt8] = [0x89, 0x4D, 0x43, 0x41, 0x50, 0x30, 0x0D, 0x0A]

    enum Opcode: UInt8 {
        case header = 0x01, footer = 0x02, schema = 0x03, channel = 0x04, message = 0x05, chunk = 0x06
        case messageIndex = 0x07, chunkIndex = 0x08, statistics = 0x0B, summaryOffset = 0x0E, dataEnd = 0x0F
    }

    public struct Message: Equatable, Sendable {
        public var channel: UInt16
        public var sequence: UInt32
        public var logTime: UInt64
        public var publishTime: UInt64
        public var data: [UInt8]
    }

    public struct Channel: Equatable, Sendable {
        public var id: UInt16
        public var schemaID: UInt16
        public var topic: String
        public var messageEncoding: String
        public var metadata: [String: String]
    }

    public struct Schema: Equatable, Sendable {
        public var id: UInt16
        public var name: String
        public var encoding: String
        public var data: [UInt8]
    }
}

/// Little-endian record building.
struct MCAPBytes {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func string(_ s: String) { let u = Array(s.utf8); u32(UInt32(u.count)); bytes += u }
    mutating func bytes32(_ b: [UInt8]) { u32(UInt32(b.count)); bytes += b }
    mutating func map(_ entries: [(key: MCAPBytes, value: MCAPBytes)]) {
        let body = entries.flatMap { $0.key.bytes + $0.value.bytes }
        u32(UInt32(body.count))
        bytes += body
    }
    /// A record: opcode, uint64 content length, content.
    mutating func record(_ op: MCAP.Opcode, _ content: MCAPBytes) {
        u8(op.rawValue)
        u64(UInt64(content.bytes.count))
        bytes += content.bytes
    }
}

/// CRC-32 (IEEE 802.3, as zlib's `crc32`), incremental.
public struct CRC32: Sendable {
    private static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
    public private(set) var value: UInt32 = 0
    public init() {}
    public mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        var c = ~value
        for b in bytes { c = Self.table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        value = ~c
    }
    public static func of(_ bytes: [UInt8]) -> UInt32 { var c = CRC32(); c.update(bytes); return c.value }
}

/// Writes an MCAP file in memory: schemas and channels first, then messages (in log-time order per
/// channel), gathered into chunks of about `chunkSize` bytes.
public struct MCAPWriter {
    private var out = MCAPBytes()
    private var dataCRC = CRC32()
    private var schemas: [MCAP.Schema] = []
    private var channels: [MCAP.Channel] = []
    private var chunk = MCAPBytes()
    private var chunkIndexes: [MCAPBytes] = []
    private var chunkMessages: [UInt16: [(UInt64, UInt64)]] = [:]
    private var chunkStart: UInt64 = .max, chunkEnd: UInt64 = 0
    private var messageCounts: [UInt16: UInt64] = [:]
    private var messageStart: UInt64 = .max, messageEnd: UInt64 = 0
    private var chunkCount = 0
    public let chunkSize: Int

    public init(profile: String = "", library: String = "pipps", chunkSize: Int = 256 * 1024) {
        self.chunkSize = chunkSize
        out.bytes = MCAP.magic
        var header = MCAPBytes()
        header.string(profile)
        header.string(library)
        out.record(.header, header)
    }

    private static func schemaRecord(_ s: MCAP.Schema) -> MCAPBytes {
        var r = MCAPBytes()
        r.u16(s.id); r.string(s.name); r.string(s.encoding); r.bytes32(s.data)
        return r
    }

    private static func channelRecord(_ c: MCAP.Channel) -> MCAPBytes {
        var r = MCAPBytes()
        r.u16(c.id); r.u16(c.schemaID); r.string(c.topic); r.string(c.messageEncoding)
        r.map(c.metadata.sorted { $0.key < $1.key }.map { entry in
            var k = MCAPBytes(), v = MCAPBytes()
            k.string(entry.key); v.string(entry.value)
            return (k, v)
        })
        return r
    }

    public mutating func add(_ schema: MCAP.Schema) {
        schemas.append(schema)
        out.record(.schema, Self.schemaRecord(schema))
    }

    public mutating func add(_ channel: MCAP.Channel) {
        precondition(schemas.contains { $0.id == channel.schemaID } || channel.schemaID == 0, "MCAPWriter: channel before its schema")
        channels.append(channel)
        out.record(.channel, Self.channelRecord(channel))
    }

    public mutating func add(_ message: MCAP.Message) {
        let offset = UInt64(chunk.bytes.count)
        var r = MCAPBytes()
        r.u16(message.channel); r.u32(message.sequence); r.u64(message.logTime); r.u64(message.publishTime)
        r.bytes += message.data
        chunk.record(.message, r)
        chunkMessages[message.channel, default: []].append((message.logTime, offset))
        chunkStart = min(chunkStart, message.logTime)
        chunkEnd = max(chunkEnd, message.logTime)
        messageStart = min(messageStart, message.logTime)
        messageEnd = max(messageEnd, message.logTime)
        messageCounts[message.channel, default: 0] += 1
        if chunk.bytes.count >= chunkSize { flushChunk() }
    }

    private mutating func flushChunk() {
        guard !chunk.bytes.isEmpty else { return }
        let chunkOffset = UInt64(out.bytes.count)
        var c = MCAPBytes()
        c.u64(chunkStart); c.u64(chunkEnd)
        c.u64(UInt64(chunk.bytes.count)); c.u32(CRC32.of(chunk.bytes)); c.string("")
        c.u64(UInt64(chunk.bytes.count)); c.bytes += chunk.bytes
        out.record(.chunk, c)
        let chunkLength = UInt64(out.bytes.count) - chunkOffset
        let indexStart = UInt64(out.bytes.count)
        var indexOffsets: [(key: MCAPBytes, value: MCAPBytes)] = []
        for channel in chunkMessages.keys.sorted() {
            var k = MCAPBytes(), v = MCAPBytes()
            k.u16(channel); v.u64(UInt64(out.bytes.count))
            indexOffsets.append((k, v))
            var r = MCAPBytes()
            r.u16(channel)
            var entries = MCAPBytes()
            for (time, offset) in chunkMessages[channel]! { entries.u64(time); entries.u64(offset) }
            r.bytes32(entries.bytes)
            out.record(.messageIndex, r)
        }
        var index = MCAPBytes()
        index.u64(chunkStart); index.u64(chunkEnd); index.u64(chunkOffset); index.u64(chunkLength)
        index.map(indexOffsets)
        index.u64(UInt64(out.bytes.count) - indexStart)
        index.string("")
        index.u64(UInt64(chunk.bytes.count)); index.u64(UInt64(chunk.bytes.count))
        chunkIndexes.append(index)
        chunkCount += 1
        chunk = MCAPBytes()
        chunkMessages = [:]
        chunkStart = .max
        chunkEnd = 0
    }

    /// Ends the data section, writes the summary, offsets and footer; returns the file's bytes.
    public mutating func finish() -> [UInt8] {
        flushChunk()
        dataCRC.update(out.bytes)
        var end = MCAPBytes()
        end.u32(dataCRC.value)
        out.record(.dataEnd, end)

        let summaryStart = UInt64(out.bytes.count)
        var summary = MCAPBytes()
        var groups: [(MCAP.Opcode, UInt64, UInt64)] = []
        func group(_ op: MCAP.Opcode, _ body: (inout MCAPBytes) -> Void) {
            let start = summary.bytes.count
            body(&summary)
            if summary.bytes.count > start { groups.append((op, summaryStart + UInt64(start), UInt64(summary.bytes.count - start))) }
        }
        group(.schema) { s in for schema in schemas { s.record(.schema, Self.schemaRecord(schema)) } }
        group(.channel) { s in for channel in channels { s.record(.channel, Self.channelRecord(channel)) } }
        group(.statistics) { s in
            var st = MCAPBytes()
            st.u64(messageCounts.values.reduce(0, +)); st.u16(UInt16(schemas.count)); st.u32(UInt32(channels.count))
            st.u32(0); st.u32(0); st.u32(UInt32(chunkCount))
            st.u64(messageStart == .max ? 0 : messageStart); st.u64(messageEnd)
            st.map(messageCounts.keys.sorted().map { id in
                var k = MCAPBytes(), v = MCAPBytes()
                k.u16(id); v.u64(messageCounts[id]!)
                return (k, v)
            })
            s.record(.statistics, st)
        }
        group(.chunkIndex) { s in for index in chunkIndexes { s.record(.chunkIndex, index) } }
        let summaryOffsetStart = summaryStart + UInt64(summary.bytes.count)
        for (op, start, length) in groups {
            var r = MCAPBytes()
            r.u8(op.rawValue); r.u64(start); r.u64(length)
            summary.record(.summaryOffset, r)
        }
        var footerPrefix = MCAPBytes()
        footerPrefix.u8(MCAP.Opcode.footer.rawValue); footerPrefix.u64(20); footerPrefix.u64(summaryStart); footerPrefix.u64(summaryOffsetStart)
        var crc = CRC32()
        crc.update(summary.bytes)
        crc.update(footerPrefix.bytes)
        out.bytes += summary.bytes
        out.bytes += footerPrefix.bytes
        out.u32(crc.value)
        out.bytes += MCAP.magic
        return out.bytes
    }
}

/// Reads every message of an MCAP file written without compression (as ``MCAPWriter`` writes it),
/// checking the magic, chunk CRCs and the data-section CRC.
public struct MCAPReader {
    public private(set) var schemas: [UInt16: MCAP.Schema] = [:]
    public private(set) var channels: [UInt16: MCAP.Channel] = [:]
    public private(set) var messages: [MCAP.Message] = []

    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
    }

    public init(_ bytes: [UInt8]) throws {
        guard bytes.count >= 2 * MCAP.magic.count, Array(bytes.prefix(8)) == MCAP.magic, Array(bytes.suffix(8)) == MCAP.magic else {
            throw Error(description: "not an MCAP file (magic bytes missing)")
        }
        var position = 8
        var sawDataEnd = false
        while position < bytes.count - 8, !sawDataEnd {
            let (op, content, next) = try Self.record(bytes, at: position)
            switch op {
            case MCAP.Opcode.dataEnd.rawValue:
                var c = Cursor(content)
                let expected = try c.u32()
                if expected != 0, expected != CRC32.of(Array(bytes[0..<position])) { throw Error(description: "data section CRC mismatch") }
                sawDataEnd = true
            case MCAP.Opcode.chunk.rawValue:
                var c = Cursor(content)
                _ = try c.u64(); _ = try c.u64()
                let uncompressedSize = try c.u64(), crc = try c.u32(), compression = try c.string()
                guard compression.isEmpty else { throw Error(description: "compressed chunks (\(compression)) are not supported; decompress with `mcap convert`") }
                let records = try c.bytes64()
                guard UInt64(records.count) == uncompressedSize else { throw Error(description: "chunk size mismatch") }
                if crc != 0, crc != CRC32.of(records) { throw Error(description: "chunk CRC mismatch") }
                var p = 0
                while p < records.count {
                    let (innerOp, inner, after) = try Self.record(records, at: p)
                    try handle(innerOp, inner)
                    p = after
                }
            default:
                try handle(op, content)
            }
            position = next
        }
    }

    private mutating func handle(_ op: UInt8, _ content: ArraySlice<UInt8>) throws {
        var c = Cursor(content)
        switch op {
        case MCAP.Opcode.schema.rawValue:
            let s = MCAP.Schema(id: try c.u16(), name: try c.string(), encoding: try c.string(), data: try c.bytes32())
            schemas[s.id] = s
        case MCAP.Opcode.channel.rawValue:
            let id = try c.u16(), schema = try c.u16(), topic = try c.string(), encoding = try c.string()
            let mapEnd = Int(try c.u32()) + c.position
            var metadata: [String: String] = [:]
            while c.position < mapEnd { metadata[try c.string()] = try c.string() }
            channels[id] = MCAP.Channel(id: id, schemaID: schema, topic: topic, messageEncoding: encoding, metadata: metadata)
        case MCAP.Opcode.message.rawValue:
            let channel = try c.u16(), sequence = try c.u32(), log = try c.u64(), publish = try c.u64()
            guard channels[channel] != nil else { throw Error(description: "message on channel \(channel) before its Channel record") }
            messages.append(MCAP.Message(channel: channel, sequence: sequence, logTime: log, publishTime: publish, data: Array(c.rest())))
        default:
            break  // headers, indexes and other records carry nothing this reader needs
        }
    }

    private static func record(_ bytes: [UInt8], at position: Int) throws -> (UInt8, ArraySlice<UInt8>, Int) {
        guard position + 9 <= bytes.count else { throw Error(description: "truncated record at byte \(position)") }
        var c = Cursor(bytes[(position + 1)..<(position + 9)])
        let length = try c.u64()
        guard length <= UInt64(bytes.count - position - 9) else { throw Error(description: "record at byte \(position) runs past the end") }
        let end = position + 9 + Int(length)
        return (bytes[position], bytes[(position + 9)..<end], end)
    }

    struct Cursor {
        let data: ArraySlice<UInt8>
        var position: Int
        init(_ data: ArraySlice<UInt8>) { self.data = data; position = data.startIndex }
        mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, position + n <= data.endIndex else { throw Error(description: "truncated field") }
            defer { position += n }
            return data[position..<(position + n)]
        }
        mutating func int<T: FixedWidthInteger>(_: T.Type) throws -> T {
            let b = try take(MemoryLayout<T>.size)
            return b.reversed().reduce(T(0)) { ($0 << 8) | T($1) }
        }
        mutating func u16() throws -> UInt16 { try int(UInt16.self) }
        mutating func u32() throws -> UInt32 { try int(UInt32.self) }
        mutating func u64() throws -> UInt64 { try int(UInt64.self) }
        mutating func string() throws -> String { String(decoding: try take(Int(try u32())), as: UTF8.self) }
        mutating func bytes32() throws -> [UInt8] { Array(try take(Int(try u32()))) }
        mutating func bytes64() throws -> [UInt8] {
            let n = try u64()
            guard n <= UInt64(Int.max) else { throw Error(description: "field too long") }
            return Array(try take(Int(n)))
        }
        func rest() -> ArraySlice<UInt8> { data[position...] }
    }
}
