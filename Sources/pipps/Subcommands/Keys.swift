import ArgumentParser
import ControlRuntime
import Foundation
import ZeroMQ

/// `pipps keys NAME`: a CURVE key pair for a robot, an operator or the runtime.
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a CURVE key pair: NAME.key (secret, mode 0600) and NAME.pub (public, to share).",
        discussion: """
            The runtime's configuration names its own secret key file and the public key files of the \
            robots and operators it admits (deploy/HARDWARE.md).
            """
    )

    @Argument(help: "Name of the key pair, e.g. cartpole-01, operator or runtime.")
    var name: String

    @Option(help: "Directory to write the two files into.")
    var directory = "."

    @Flag(help: "Replace existing files.")
    var force = false

    func validate() throws {
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw ValidationError("NAME may contain letters, digits, '-', '_' and '.' only")
        }
    }

    func run() throws {
        let dir = URL(fileURLWithPath: directory)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let secretURL = dir.appendingPathComponent("\(name).key"), publicURL = dir.appendingPathComponent("\(name).pub")
        for url in [secretURL, publicURL] where FileManager.default.fileExists(atPath: url.path) && !force {
            throw ValidationError("\(url.path) exists; use --force to replace it")
        }
        let keys = try CurveKeyPair.generate()
        let secret = KeyFile.text(publicKey: keys.publicKey, secretKey: keys.secretKey, comment: "\(name): SECRET key pair")
        try Data(secret.utf8).write(to: secretURL, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: secretURL.path)
        try Data(KeyFile.text(publicKey: keys.publicKey, secretKey: nil, comment: "\(name): public key").utf8).write(to: publicURL, options: .atomic)
        print("wrote \(secretURL.path) (secret) and \(publicURL.path) (public key \(keys.publicKey))")
    }
}
