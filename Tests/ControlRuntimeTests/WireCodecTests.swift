import ControlRuntime
import Foundation
import LinearAlgebra
import Messages
import SwiftProtobuf
import Testing

@Suite("Control-path codec")
struct WireCodecTests {
    @Test func decodesWhatSwiftProtobufEncodes() throws {
        var rng = SeededGenerator(seed: 3)
        let decoded = DecodedState()
        for trial in 0..<200 {
            let n = Int.random(in: 0...12, using: &rng)
            let state = Pipps_V1_State.with {
                $0.robotID = trial % 5 == 0 ? "" : "robot-\(trial)"
                $0.trialID = trial % 3 == 0 ? 0 : UInt64.random(in: 1...UInt64.max, using: &rng)
                $0.sequence = UInt64.random(in: 0...UInt64.max >> UInt64.random(in: 0...63, using: &rng), using: &rng)
                $0.robotTimeNs = Int64.random(in: Int64.min...Int64.max, using: &rng)
                $0.state = (0..<n).map { _ in Double.random(in: -1e6...1e6, using: &rng) }
            }
            let bytes: [UInt8] = try Pipps_V1_RobotMessage.with { $0.state = state }.serializedBytes()
            let result = bytes.withUnsafeBytes { WireCodec.decodeState($0, into: decoded) }
            #expect(result == .state)
            #expect(decoded.trialID == state.trialID && decoded.sequence == state.sequence)
            #expect(decoded.robotTimeNanoseconds == state.robotTimeNs)
            #expect(Array(decoded.values) == state.state)
            // robotID points into the (now released) buffer: compare through a fresh decode in scope.
            bytes.withUnsafeBytes { raw in
                _ = WireCodec.decodeState(raw, into: decoded)
                #expect(String(decoding: decoded.robotID, as: UTF8.self) == state.robotID)
            }
        }
    }

    @Test func unpackedValuesAndUnknownFieldsAreRead() throws {
        // State with field 5 unpacked (wire type 1, allowed by the protobuf spec) and an unknown field 9.
        var body: [UInt8] = [0x18, 0x07]  // sequence = 7
        for v in [1.5, -2.0] {
            body.append(0x29)
            withUnsafeBytes(of: v.bitPattern.littleEndian) { body.append(contentsOf: $0) }
        }
        body += [0x48, 0x01]  // field 9 varint: unknown, skipped
        let message: [UInt8] = [0x12, UInt8(body.count)] + body
        let decoded = DecodedState()
        #expect(message.withUnsafeBytes { WireCodec.decodeState($0, into: decoded) } == .state)
        #expect(decoded.sequence == 7 && Array(decoded.values) == [1.5, -2.0])
        let reference = try Pipps_V1_RobotMessage(serializedBytes: message)
        #expect(reference.state.state == [1.5, -2.0] && reference.state.sequence == 7)
    }

    @Test func otherMessagesAndBrokenBytesAreLeftToTheFullDecoder() throws {
        let decoded = DecodedState()
        let hello: [UInt8] = try Pipps_V1_RobotMessage.with { $0.hello = .with { $0.robotID = "x" } }.serializedBytes()
        #expect(hello.withUnsafeBytes { WireCodec.decodeState($0, into: decoded) } == .other)
        #expect([UInt8]().withUnsafeBytes { WireCodec.decodeState($0, into: decoded) } == .other)
        let state: [UInt8] = try Pipps_V1_RobotMessage.with { $0.state = .with { $0.sequence = 300; $0.state = [1, 2, 3] } }.serializedBytes()
        // Every truncation of a valid message is refused by the fast path (never read past the end).
        for cut in 0..<state.count {
            #expect(Array(state[0..<cut]).withUnsafeBytes { WireCodec.decodeState($0, into: decoded) } == .other)
        }
        // Random bytes: no crash, and whatever the fast path accepts SwiftProtobuf reads the same way.
        var rng = SeededGenerator(seed: 9)
        for _ in 0..<2000 {
            var bytes = state
            for _ in 0..<Int.random(in: 1...4, using: &rng) { bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            try bytes.withUnsafeBytes { raw in
                guard WireCodec.decodeState(raw, into: decoded) == .state else { return }
                guard let reference = try? Pipps_V1_RobotMessage(serializedBytes: bytes) else {
                    // The one thing the fast path does not check: a robot id that is not UTF-8 (it then
                    // matches no session and gets the not-registered fallback).
                    #expect(String(validating: decoded.robotID, as: UTF8.self) == nil, "\(bytes)")
                    return
                }
                #expect(reference.state.sequence == decoded.sequence)
                #expect(reference.state.state.elementsEqual(decoded.values) { $0.bitPattern == $1.bitPattern })
                _ = try #require(Optional(reference))
            }
        }
    }

    @Test func encodesControlsExactlyAsSwiftProtobuf() throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
        defer { buffer.deallocate() }
        let cases: [(UInt64, [Double], UInt64, Pipps_V1_ControlStatus, Pipps_V1_FallbackReason, StaticString, Int64)] = [
            (1, [3.5], 7, .ok, .none, "", 1234),
            (0, [], 0, .unspecified, .none, "", 0),
            (UInt64.max, [-10, 50], 1 << 40, .fallback, .staleState, "state older than max_state_age", 9_999_999),
            (42, [0, -0.0], 0, .stopped, .emergencyStop, "emergency stop engaged", -5),
        ]
        for (seq, control, version, status, reason, detail, latency) in cases {
            let n = try #require(control.withUnsafeBufferPointer {
                WireCodec.encodeControl(into: buffer, sequence: seq, control: $0, policyVersion: version, status: status,
                                        reason: reason, detail: detail, runtimeLatencyNanoseconds: latency)
            })
            let expected: [UInt8] = try Pipps_V1_RuntimeMessage.with {
                $0.control = .with {
                    $0.sequence = seq; $0.control = control; $0.policyVersion = version; $0.status = status
                    $0.reason = reason; $0.detail = detail.description; $0.runtimeLatencyNs = latency
                }
            }.serializedBytes()
            #expect(Array(buffer[0..<n]) == expected)
        }
        // Too small a buffer: refused, nothing claimed written.
        let small = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 8)
        defer { small.deallocate() }
        #expect([1.0, 2.0].withUnsafeBufferPointer {
            WireCodec.encodeControl(into: small, sequence: 1, control: $0, policyVersion: 1, status: .ok, reason: .none, detail: "", runtimeLatencyNanoseconds: 0)
        } == nil)
    }
}
