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

/// A program running in the background for an integration test: its standard output is read line
/// by line (for "ready" lines), everything else goes to a log file shown on failure.
public final class BackgroundProcess: @unchecked Sendable {
    public let process = Process()
    private let stdoutPipe = Pipe()
    private let lock = NSLock()
    private var lines: [String] = []
    private var partial = ""
    public let logURL: URL

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("pipps-bg-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        process.standardOutput = stdoutPipe
        process.standardError = try FileHandle(forWritingTo: logURL)
        stdoutPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let data = h.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock()
            self.partial += String(decoding: data, as: UTF8.self)
            while let nl = self.partial.firstIndex(of: "\n") {
                self.lines.append(String(self.partial[..<nl]))
                self.partial = String(self.partial[self.partial.index(after: nl)...])
            }
            self.lock.unlock()
        }
        try process.run()
    }

    /// Lines printed so far.
    public var output: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }

    /// Waits up to `timeout` seconds for a line starting with `prefix`. The defaults of this type's
    /// time-outs are generous on purpose: on a slow, busy machine only a hang reaches them.
    public func waitForLine(startingWith prefix: String, timeout: Double = 120) -> String? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if let line = output.first(where: { $0.hasPrefix(prefix) }) { return line }
            if !process.isRunning { return output.first(where: { $0.hasPrefix(prefix) }) }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return nil
    }

    /// Standard error and anything else the program logged.
    public var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Sends `signal` and waits (up to `timeout` s) for the exit; returns the status.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeout: Double = 60) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        return process.terminationStatus
    }

    /// Waits for the program to end by itself (up to `timeout` s; then kills it).
    @discardableResult
    public func wait(timeout: Double = 300) -> Int32 {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.02) }
        return process.isRunning ? stop(signal: SIGKILL) : process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        stdoutPipe.fileHandleForReading.readabilityHandler = nil
        try? FileManager.default.removeItem(at: logURL)
    }
}

/// Runs a program that starts daemons (scripts/slurm-local start) and returns its exit status and
/// combined output. Foundation's `Process` sometimes never sees such a child exit (seen with munged:
/// `waitUntilExit` waits forever on a zombie), so this spawns it with `posix_spawn`, sends its output
/// to a temporary file and waits with `waitpid`.
public func runDaemonStarter(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("pipps-spawn-\(UUID().uuidString.prefix(8)).log")
    defer { try? FileManager.default.removeItem(at: log) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for a in argv { free(a) } }
    // A clean signal state for the child and the daemons it starts: test threads block signals
    // (SIGTERM among them), and a daemon that inherited that mask could not be stopped.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t(), all = sigset_t()
    sigemptyset(&empty)
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
    guard spawned == 0 else { throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "cannot start \(executable): \(String(cString: strerror(spawned)))"]) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 {
        guard errno == EINTR else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "waiting for \(executable): \(String(cString: strerror(errno)))"])
        }
    }
    let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    // Exited normally: the exit code; killed: 128 + the signal, as a shell reports it.
    let exitCode: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (exitCode, output)
}
