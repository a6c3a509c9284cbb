import ArgumentParser
import CZeroMQ
import Foundation
import ZeroMQ

/// `pipps bench zmq`: request-reply round-trip latency over tcp loopback, through the wrapper and
/// through plain libzmq calls in the same run.
struct BenchZMQ: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zmq",
        abstract: "REQ/REP round-trip latency over tcp loopback: the ZeroMQ wrapper against plain libzmq."
    )

    @Option(help: "Timed round trips per path.") var roundTrips = 10_000
    @Option(help: "Untimed warm-up round trips per path.") var warmup = 1_000
    @Option(help: "Message size in bytes.") var size = 60
    @Option(help: "Blocks the round trips are split into, alternating the two paths to cancel drift.") var blocks = 10

    func validate() throws {
        guard roundTrips >= blocks, blocks >= 1 else { throw ValidationError("--round-trips must be at least --blocks (≥ 1)") }
        guard size >= 1 && size <= 65_536 else { throw ValidationError("--size must be 1…65536") }
        guard warmup >= 0 else { throw ValidationError("--warmup must be ≥ 0") }
    }

    func run() throws {
        BenchmarkSupport.warnIfDebug()
        let ctx = try Context()
        let perBlock = roundTrips / blocks
        let total = warmup + perBlock * blocks
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0) }

        // Wrapper pair.
        let server = try Socket(ctx, .rep)
        try server.bind("tcp://127.0.0.1:*")
        let wrapperEndpoint = try server.lastEndpoint
        let serverBox = Handoff(server)
        let size = self.size
        let wrapperServer = Thread {
            let s = serverBox.value
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
            defer { buffer.deallocate(); s.close() }
            for _ in 0..<total {
                guard let frame = try? s.receive(into: buffer) else { return }
                _ = try? s.send(UnsafeRawBufferPointer(rebasing: buffer[..<min(frame.size, size)]))
            }
        }
        wrapperServer.start()
        let client = try Socket(ctx, .req)
        try client.connect(wrapperEndpoint)

        // Plain libzmq pair, same context.
        let rawServerSocket = zmq_socket(ctx.handle, ZMQ_REP)!
        var zero: Int32 = 0
        zmq_setsockopt(rawServerSocket, ZMQ_LINGER, &zero, 4)
        guard zmq_bind(rawServerSocket, "tcp://127.0.0.1:*") == 0 else { throw ZMQError(code: zmq_errno(), operation: "raw bind") }
        var endpointBytes = [CChar](repeating: 0, count: 256)
        var endpointLength = endpointBytes.count
        zmq_getsockopt(rawServerSocket, ZMQ_LAST_ENDPOINT, &endpointBytes, &endpointLength)
        let rawEndpoint = String(decoding: endpointBytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let rawBox = Handoff(rawServerSocket)
        let rawServer = Thread {
            let s = rawBox.value
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
            defer { buffer.deallocate(); zmq_close(s) }
            for _ in 0..<total {
                let n = zmq_recv(s, buffer, size, 0)
                guard n >= 0 else { return }
                zmq_send(s, buffer, min(Int(n), size), 0)
            }
        }
        rawServer.start()
        let rawClient = zmq_socket(ctx.handle, ZMQ_REQ)!
        zmq_setsockopt(rawClient, ZMQ_LINGER, &zero, 4)
        zmq_connect(rawClient, rawEndpoint)
        defer { zmq_close(rawClient) }

        let receiveBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { receiveBuffer.deallocate() }

        func wrapperRoundTrip() throws {
            try payload.withUnsafeBytes { _ = try client.send($0) }
            _ = try client.receive(into: receiveBuffer)
        }
        func rawRoundTrip() {
            payload.withUnsafeBytes { p in _ = zmq_send(rawClient, p.baseAddress, p.count, 0) }
            _ = zmq_recv(rawClient, receiveBuffer.baseAddress, receiveBuffer.count, 0)
        }

        for _ in 0..<warmup {
            try wrapperRoundTrip()
            rawRoundTrip()
        }
        var wrapperSamples = [Double](), rawSamples = [Double]()
        wrapperSamples.reserveCapacity(perBlock * blocks)
        rawSamples.reserveCapacity(perBlock * blocks)
        for block in 0..<blocks {
            // Alternate which path goes first in a block.
            for path in (block % 2 == 0 ? [0, 1] : [1, 0]) {
                for _ in 0..<perBlock {
                    let start = MonotonicClock.nowNanoseconds
                    if path == 0 { try wrapperRoundTrip() } else { rawRoundTrip() }
                    let elapsed = Double(MonotonicClock.nowNanoseconds - start) / 1000
                    if path == 0 { wrapperSamples.append(elapsed) } else { rawSamples.append(elapsed) }
                }
            }
        }
        client.close()

        func summary(_ samples: [Double]) -> [String: Any] {
            let s = samples.sorted()
            return [
                "p50_us": BenchmarkSupport.quantile(s, 0.5),
                "p99_us": BenchmarkSupport.quantile(s, 0.99),
                "p999_us": BenchmarkSupport.quantile(s, 0.999),
                "mean_us": s.reduce(0, +) / Double(s.count),
                "count": s.count,
            ]
        }
        let wrapperMedian = BenchmarkSupport.median(wrapperSamples)
        let rawMedian = BenchmarkSupport.median(rawSamples)
        let ratio = wrapperMedian / rawMedian
        try BenchmarkSupport.printJSON([
            "benchmark": "zmq",
            "transport": "tcp://127.0.0.1 REQ/REP",
            "message_bytes": size,
            "wrapper": summary(wrapperSamples),
            "plain_libzmq": summary(rawSamples),
            "median_ratio_wrapper_over_plain": ratio,
            "target_median_ratio": 1.10,
            "meets_target": ratio <= 1.10,
            "environment": BenchmarkSupport.environment(),
        ])
    }
}

/// Hands a thread-confined value to the one thread that will use it from then on.
struct Handoff<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
