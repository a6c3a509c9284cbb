import Foundation
import CZeroMQ

/// A CURVE key pair in Z85 text form (40 characters each), as libzmq and `pipps keys` write them.
public struct CurveKeyPair: Sendable, Equatable, Codable {
    public let publicKey: String
    public let secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A new random key pair (`zmq_curve_keypair`).
    ///
    /// - Throws: when libzmq was built without CURVE (`Context.has("curve")` is false).
    public static func generate() throws -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        if zmq_curve_keypair(&pub, &sec) != 0 { throw ZMQError.last("zmq_curve_keypair") }
        return CurveKeyPair(publicKey: CurveKeyPair.string(pub), secretKey: CurveKeyPair.string(sec))
    }

    /// The key pair of a secret key, with the public key derived from it (`zmq_curve_public`).
    public init(secretKey: String) throws {
        guard CurveKeyPair.isValidZ85Key(secretKey) else {
            throw ZMQError(code: ZMQError.Code.invalidArgument, operation: "CurveKeyPair(secretKey:): not a 40-character Z85 key")
        }
        var pub = [CChar](repeating: 0, count: 41)
        if zmq_curve_public(&pub, secretKey) != 0 { throw ZMQError.last("zmq_curve_public") }
        self.init(publicKey: CurveKeyPair.string(pub), secretKey: secretKey)
    }

    /// Whether `key` is a 40-character Z85 string that decodes to 32 bytes.
    public static func isValidZ85Key(_ key: String) -> Bool {
        decodeZ85(key) != nil
    }

    /// The 32 raw bytes of a Z85 key, or `nil` when it is not one.
    public static func decodeZ85(_ key: String) -> [UInt8]? {
        guard key.utf8.count == 40 else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        let ok = out.withUnsafeMutableBufferPointer { zmq_z85_decode($0.baseAddress, key) != nil }
        return ok ? out : nil
    }

    /// A Swift string from a NUL-terminated C buffer.
    static func string(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The Z85 text of 32 raw key bytes.
    public static func encodeZ85(_ bytes: [UInt8]) -> String {
        precondition(bytes.count == 32, "encodeZ85: a CURVE key has 32 bytes, got \(bytes.count)")
        var text = [CChar](repeating: 0, count: 41)
        _ = bytes.withUnsafeBufferPointer { zmq_z85_encode(&text, $0.baseAddress, 32) }
        return CurveKeyPair.string(text)
    }
}

extension Socket {
    /// Makes this socket a CURVE server with the given key pair: every peer must complete a CURVE
    /// handshake. Which client keys are accepted is decided by a ``ZAPAuthenticator`` on the same
    /// context (without one, libzmq accepts any client that knows the server's public key).
    /// Call before `bind`.
    public func makeCurveServer(_ keys: CurveKeyPair, domain: String = "pipps") throws {
        guard let secret = CurveKeyPair.decodeZ85(keys.secretKey) else {
            throw ZMQError(code: ZMQError.Code.invalidArgument, operation: "makeCurveServer: invalid secret key")
        }
        try setOption(ZMQ_CURVE_SERVER, 1, name: "ZMQ_CURVE_SERVER")
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: secret, name: "ZMQ_CURVE_SECRETKEY")
        try setOption(ZMQ_ZAP_DOMAIN, bytes: Array(domain.utf8), name: "ZMQ_ZAP_DOMAIN")
    }

    /// Makes this socket a CURVE client that authenticates with `keys` and trusts only a server with
    /// `serverPublicKey`. Call before `connect`.
    public func makeCurveClient(_ keys: CurveKeyPair, serverPublicKey: String) throws {
        guard let server = CurveKeyPair.decodeZ85(serverPublicKey),
              let pub = CurveKeyPair.decodeZ85(keys.publicKey),
              let sec = CurveKeyPair.decodeZ85(keys.secretKey)
        else {
            throw ZMQError(code: ZMQError.Code.invalidArgument, operation: "makeCurveClient: invalid Z85 key")
        }
        try setOption(ZMQ_CURVE_SERVERKEY, bytes: server, name: "ZMQ_CURVE_SERVERKEY")
        try setOption(ZMQ_CURVE_PUBLICKEY, bytes: pub, name: "ZMQ_CURVE_PUBLICKEY")
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: sec, name: "ZMQ_CURVE_SECRETKEY")
    }
}

/// Key files as `pipps keys` writes them: `public-key = "…"` / `secret-key = "…"` lines (the
/// format of libzmq's zcert files, minus the metadata), or a bare key.
public enum KeyFile {
    /// The value of `name` (`public-key` or `secret-key`) in a key file's text.
    public static func key(_ name: String, in text: String) -> String? {
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix(name), let q1 = line.firstIndex(of: "\""), let q2 = line.lastIndex(of: "\""), q1 < q2 else { continue }
            return String(line[line.index(after: q1)..<q2])
        }
        return nil
    }

    /// Why a key could not be read.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// A key given as a 40-character Z85 string, or the `secret-key` (`secret`) or `public-key`
    /// line of a key file; a relative file path is taken relative to `directory` when given.
    public static func value(_ keyOrFile: String, secret: Bool, relativeTo directory: URL? = nil) throws -> String {
        if CurveKeyPair.isValidZ85Key(keyOrFile) { return keyOrFile }
        let url = keyOrFile.hasPrefix("/") || directory == nil ? URL(fileURLWithPath: keyOrFile) : directory!.appendingPathComponent(keyOrFile)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw Failure(description: "'\(keyOrFile)' is neither a 40-character Z85 key nor a readable key file")
        }
        guard let k = key(secret ? "secret-key" : "public-key", in: text) else {
            throw Failure(description: "no \(secret ? "secret" : "public") key in '\(keyOrFile)'")
        }
        return k
    }

    /// The text of a key file; without `secretKey`, the shareable public file.
    public static func text(publicKey: String, secretKey: String?, comment: String) -> String {
        var s = "#   \(comment)\n#   ZeroMQ CURVE key (Z85). Keep the secret file private (mode 0600).\npublic-key = \"\(publicKey)\"\n"
        if let secretKey { s += "secret-key = \"\(secretKey)\"\n" }
        return s
    }
}
