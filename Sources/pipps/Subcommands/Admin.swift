import ArgumentParser
import ControlRuntime
import Foundation
import Messages
import Robots
import SwiftProtobuf
import ZeroMQ

/// `pipps admin …`: operator requests to a running runtime.
struct Admin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk to a running runtime's admin endpoint: status, deploy, trials, emergency stop.",
        subcommands: [Status.self, Deploy.self, StartTrial.self, StopTrial.self, EmergencyStop.self]
    )

    struct Connection: ParsableArguments {
        @Option(help: "The runtime's admin endpoint.")
        var endpoint = "tcp://127.0.0.1:7701"

        @Option(help: "The operator's secret key file (from pipps keys), for a CURVE runtime.")
        var key: String?

        @Option(help: "The runtime's public key (Z85) or its .pub file, for a CURVE runtime.")
        var serverKey: String?

        @Option(help: "Seconds to wait for the answer.")
        var timeout = 5.0

        func validate() throws {
            guard (key == nil) == (serverKey == nil) else { throw ValidationError("--key and --server-key go together") }
            guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be between 0 and 3600 seconds") }
        }

        func client() throws -> AdminClient {
            var keys: CurveKeyPair?, server: String?
            if let key, let serverKey {
                do {
                    keys = try CurveKeyPair(secretKey: KeyFile.value(key, secret: true))
                    server = try KeyFile.value(serverKey, secret: false)
                } catch { throw ValidationError("\(error)") }
            }
            return try AdminClient(endpoint: endpoint, keys: keys, serverPublicKey: server, timeoutMilliseconds: Int(timeout * 1000))
        }

        /// Sends the request and prints the reply as JSON; a refusal exits with status 1.
        func send(_ body: Pipps_V1_AdminRequest.OneOf_Body) throws {
            let reply: Pipps_V1_AdminReply
            do { reply = try client().request(body) } catch let error as AdminClientError {
                printError("pipps admin: \(error)")
                throw ExitCode(2)
            }
            var options = JSONEncodingOptions()
            options.alwaysPrintInt64sAsNumbers = true
            print(try reply.jsonString(options: options))
            if !reply.ok {
                printError("pipps admin: refused: \(reply.error)")
                throw ExitCode(1)
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sessions, policy versions, latency percentiles, fallbacks.")
        @OptionGroup var connection: Connection
        func run() throws { try connection.send(.status(.init())) }
    }

    struct Deploy: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deploy a policy file (pipps.v1.Policy, binary or .json) to a robot.")
        @OptionGroup var connection: Connection
        @Argument(help: "Robot id.") var robot: String
        @Argument(help: "Policy file.") var policy: String
        func run() throws {
            let wire: Pipps_V1_Policy
            do { wire = try PolicyFile.read(URL(fileURLWithPath: policy)) } catch { throw ValidationError("\(error)") }
            try connection.send(.deploy(.with { $0.robotID = robot; $0.policy = wire }))
        }
    }

    struct StartTrial: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "start-trial", abstract: "Start a trial on a robot.")
        @OptionGroup var connection: Connection
        @Argument(help: "Robot id.") var robot: String
        @Option(help: "Task: \(Task.names.joined(separator: ", ")) (an alias is sent as the task's name).") var task = "cartpole-angle"
        @Option(help: "Steps after which the trial ends (0: until stop-trial).") var maxSteps: UInt32 = 0
        @Option(help: "Wait up to this many seconds for the robot to connect first (0: do not wait).") var wait = 0.0
        func validate() throws {
            guard Task.canonicalName(task) != nil else { throw ValidationError("unknown --task '\(task)'; known: \(Task.names.joined(separator: ", "))") }
            guard wait >= 0, wait <= 3600 else { throw ValidationError("--wait must be between 0 and 3600 seconds") }
        }
        func run() throws {
            let name = Task.canonicalName(task)!
            if wait > 0 {
                let client = try connection.client(), end = Date().addingTimeInterval(wait)
                func connected() -> Bool {
                    ((try? client.perform(.status(.init())))?.status.robots ?? []).contains { $0.robotID == robot }
                }
                while !connected() {
                    guard Date() < end else {
                        printError("pipps admin: robot '\(robot)' did not connect within \(wait) s")
                        throw ExitCode(1)
                    }
                    Thread.sleep(forTimeInterval: 0.1)
                }
            }
            try connection.send(.startTrial(.with { $0.robotID = robot; $0.task = name; $0.maxSteps = maxSteps }))
        }
    }

    struct StopTrial: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "stop-trial", abstract: "Stop a robot's running trial.")
        @OptionGroup var connection: Connection
        @Argument(help: "Robot id.") var robot: String
        @Option(help: "Why.") var reason = ""
        func run() throws { try connection.send(.stopTrial(.with { $0.robotID = robot; $0.reason = reason })) }
    }

    struct EmergencyStop: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "estop", abstract: "Engage (or --release) the emergency stop of one robot, or of all.")
        @OptionGroup var connection: Connection
        @Argument(help: "Robot id; leave out for every robot.") var robot: String?
        @Flag(help: "Release instead of engage.") var release = false
        @Option(help: "Why.") var reason = ""
        func run() throws {
            try connection.send(.emergencyStop(.with { $0.robotID = robot ?? ""; $0.release = release; $0.reason = reason }))
        }
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
