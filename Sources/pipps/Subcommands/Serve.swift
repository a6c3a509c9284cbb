import ArgumentParser
import ControlRuntime
import Foundation
import Logging
import Messages
import ZeroMQ

extension LogSetup.Format: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `pipps serve`: the runtime.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the control runtime: robots stream states in, saturated controls go back.",
        discussion: """
            Robots connect a DEALER to the robot endpoint and speak Proto/pipps/v1/robot.proto; operators \
            (pipps admin, pipps cycle) use the admin endpoint. Settings come from --config (YAML, see \
            deploy/pipps-runtime.yaml) and the options below, which override the file. Without a \
            `security` section the runtime refuses to start unless --insecure is given (unauthenticated, \
            for local development only). Stops cleanly on SIGINT or SIGTERM.
            """
    )

    @Option(help: "A YAML configuration file.")
    var config: String?

    @Option(help: "Robot endpoint (ROUTER), e.g. tcp://0.0.0.0:7700; tcp://127.0.0.1:* picks a free port.")
    var robots: String?

    @Option(help: "Admin endpoint (ROUTER).")
    var admin: String?

    @Option(name: .customLong("policy"), help: "ROBOT=FILE: deploy a policy file to a robot at start-up (repeatable).")
    var policies: [String] = []

    @Option(help: "States delayed by more than this (ms, beyond the best seen) are stale.")
    var maxStateAgeMs: Double?

    @Option(help: "A control later than this (ms) after its state counts as a deadline miss.")
    var deadlineMs: Double?

    @Option(help: "Record every step into this trial store (SQLite; created when missing). Overrides `store` in --config.")
    var store: String?

    @Flag(help: "Run without CURVE authentication (local development only).")
    var insecure = false

    @Option(help: "Log format: text or json.")
    var logFormat: LogSetup.Format = .text

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() throws {
        LogSetup.bootstrap(format: logFormat, level: logLevel)
        var configuration = RuntimeConfiguration()
        if let config {
            let url = URL(fileURLWithPath: config)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw ValidationError("cannot read --config \(config)") }
            do {
                configuration = try RuntimeConfiguration.load(yaml: text, relativeTo: url.deletingLastPathComponent())
            } catch { throw ValidationError("\(config): \(error)") }
        }
        if let robots { configuration.robotEndpoint = robots }
        if let admin { configuration.adminEndpoint = admin }
        if let store {
            guard !store.isEmpty else { throw ValidationError("--store needs a path") }
            configuration.storePath = store
        }
        do {
            if let maxStateAgeMs { configuration.settings.maxStateAge = try RuntimeConfiguration.nanoseconds(maxStateAgeMs, "--max-state-age-ms") }
            if let deadlineMs { configuration.settings.deadline = try RuntimeConfiguration.nanoseconds(deadlineMs, "--deadline-ms") }
        } catch { throw ValidationError("\(error)") }
        for p in policies {
            let parts = p.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw ValidationError("--policy takes ROBOT=FILE, got '\(p)'") }
            configuration.policies[parts[0]] = parts[1]
        }
        if configuration.security == nil && !insecure {
            throw ValidationError("no `security` section in the configuration: give one (see deploy/HARDWARE.md), or --insecure for local development")
        }
        do { try configuration.settings.validate() } catch { throw ValidationError("\(error)") }

        let server: RuntimeServer
        do { server = try RuntimeServer(configuration: configuration) } catch { throw ValidationError("\(error)") }
        let stop = StopFlag()
        let sources = stop.setOnSignals()
        // One line on stdout that scripts and tests read for the bound endpoints.
        let ready = "listening robots=\(server.robotEndpoint) admin=\(server.adminEndpoint)" + (server.publicKey.map { " server-key=\($0)" } ?? "")
            + (configuration.storePath.map { " store=\($0)" } ?? "")
        FileHandle.standardOutput.write(Data((ready + "\n").utf8))  // unbuffered, so a pipe sees it at once
        try server.run(until: stop)
        sources.forEach { $0.cancel() }
    }
}
