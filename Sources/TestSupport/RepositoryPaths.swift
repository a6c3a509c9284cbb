import Foundation

/// Paths inside this repository, for tests that run its scripts or read its files.
public enum RepositoryPaths {
    /// The repository root, found from this source file's location (`Sources/TestSupport/…`).
    public static var root: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // TestSupport
            .deletingLastPathComponent()  // Sources
            .deletingLastPathComponent()
    }

    /// A fresh, empty temporary directory; the caller removes it.
    public static func temporaryDirectory(prefix: String = "pipps-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Runs a program to completion and returns its exit status and combined output.
public func runProcess(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:],
    currentDirectory: URL? = nil
) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    if let dir = currentDirectory { p.currentDirectoryURL = dir }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
