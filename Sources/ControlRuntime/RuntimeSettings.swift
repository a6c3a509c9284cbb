import Foundation
import Robots
import Yams
import ZeroMQ

/// What the runtime's decisions depend on. Durations in nanoseconds.
public struct RuntimeSettings: Sendable, Equatable {
    /// A state whose transport delay exceeds the smallest seen on its session by more than this is
    /// stale (see ``RuntimeCore``).
    public var maxStateAge: Int64 = 50_000_000
    /// A control sent later than this after its state arrived counts as a deadline miss.
    public var deadline: Int64 = 20_000_000
    /// A robot silent for this long loses its session (and a running trial is aborted).
    public var sessionTimeout: Int64 = 3_000_000_000
    /// Per robot kind: the control applied instead of the policy's on any fallback (default zeros).
    public var safeControls: [RobotKind: [Double]] = [:]
    /// Per robot kind: the largest |control| a policy may command (default: the kind's limits).
    public var controlLimits: [RobotKind: [Double]] = [:]
    /// The first trial id handed out.
    public var firstTrialID: UInt64 = 1

    public init() {}

    public func safeControl(_ kind: RobotKind) -> [Double] {
        safeControls[kind] ?? [Double](repeating: 0, count: kind.controlDimension)
    }

    public func limits(_ kind: RobotKind) -> [Double] {
        controlLimits[kind] ?? kind.controlLimits
    }

    /// Checks every value; throws a message naming the first wrong one.
    public func validate() throws {
        func fail(_ message: String) -> RuntimeConfigurationError { RuntimeConfigurationError(message) }
        guard maxStateAge > 0 else { throw fail("max_state_age_ms must be positive") }
        guard deadline > 0 else { throw fail("deadline_ms must be positive") }
        guard sessionTimeout > 0 else { throw fail("session_timeout_ms must be positive") }
        guard firstTrialID > 0 else { throw fail("first_trial_id must be positive") }
        for kind in RobotKind.allCases {
            let limits = self.limits(kind), safe = safeControl(kind)
            guard limits.count == kind.controlDimension, limits.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                throw fail("\(kind.rawValue): control limits must be \(kind.controlDimension) positive numbers")
            }
            guard safe.count == kind.controlDimension else {
                throw fail("\(kind.rawValue): the safe control needs \(kind.controlDimension) values, got \(safe.count)")
            }
            for (s, l) in zip(safe, limits) where !(abs(s) <= l) {
                throw fail("\(kind.rawValue): safe control \(safe) is outside the limits \(limits)")
            }
        }
    }
}

public struct RuntimeConfigurationError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// How the runtime is reached and who may reach it.
public struct RuntimeConfiguration: Sendable, Equatable {
    /// ROUTER endpoint for robots.
    public var robotEndpoint = "tcp://127.0.0.1:7700"
    /// ROUTER endpoint for operators (deploy, trials, emergency stop, status).
    public var adminEndpoint = "tcp://127.0.0.1:7701"
    /// CURVE security; `nil` runs unauthenticated (local development only).
    public var security: Security?
    public var settings = RuntimeSettings()
    /// Policy files (`pipps.v1.Policy`, binary or `.json`) deployed at start-up, by robot id.
    public var policies: [String: String] = [:]
    /// The trial store (SQLite) that records every step served; `nil` records nothing. Trial ids
    /// then continue from the store's.
    public var storePath: String?

    public struct Security: Sendable, Equatable {
        /// The runtime's secret key (Z85), or a file holding it.
        public var serverSecretKey: String
        /// Public keys (Z85) admitted on the robot endpoint.
        public var robotKeys: [String]
        /// Public keys (Z85) admitted on the admin endpoint.
        public var operatorKeys: [String]

        public init(serverSecretKey: String, robotKeys: [String], operatorKeys: [String]) {
            self.serverSecretKey = serverSecretKey
            self.robotKeys = robotKeys
            self.operatorKeys = operatorKeys
        }
    }

    public init() {}

    /// Reads a YAML configuration file (see `deploy/pipps-runtime.yaml` for every key). Unknown keys
    /// are errors, so that a misspelt setting is not silently ignored. Key files named in `security`
    /// are read relative to the configuration file.
    public static func load(yaml text: String, relativeTo directory: URL? = nil) throws -> RuntimeConfiguration {
        let file: File
        do { file = try YAMLDecoder().decode(File.self, from: text) } catch let error as DecodingError {
            throw RuntimeConfigurationError("configuration: \(Self.describe(error))")
        }
        var c = RuntimeConfiguration()
        if let v = file.robot_endpoint { c.robotEndpoint = v }
        if let v = file.admin_endpoint { c.adminEndpoint = v }
        if let v = file.max_state_age_ms { c.settings.maxStateAge = try nanoseconds(v, "max_state_age_ms") }
        if let v = file.deadline_ms { c.settings.deadline = try nanoseconds(v, "deadline_ms") }
        if let v = file.session_timeout_ms { c.settings.sessionTimeout = try nanoseconds(v, "session_timeout_ms") }
        if let v = file.first_trial_id { c.settings.firstTrialID = v }
        for (name, robot) in file.robots ?? [:] {
            guard let kind = RobotKind(rawValue: name) else {
                throw RuntimeConfigurationError("robots: unknown robot kind '\(name)'; known: \(RobotKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if let s = robot.safe_control { c.settings.safeControls[kind] = s }
            if let l = robot.control_limits { c.settings.controlLimits[kind] = l }
        }
        c.policies = file.policies ?? [:]
        if let store = file.store {
            guard !store.isEmpty else { throw RuntimeConfigurationError("store: empty path") }
            c.storePath = store.hasPrefix("/") || directory == nil ? store : directory!.appendingPathComponent(store).path
        }
        if let s = file.security {
            func key(_ value: String, secret: Bool = false) throws -> String {
                do { return try KeyFile.value(value, secret: secret, relativeTo: directory) } catch {
                    throw RuntimeConfigurationError("security: \(error)")
                }
            }
            c.security = Security(serverSecretKey: try key(s.server_secret_key, secret: true),
                                  robotKeys: try (s.robot_keys ?? []).map { try key($0) },
                                  operatorKeys: try (s.operator_keys ?? []).map { try key($0) })
        }
        try c.settings.validate()
        return c
    }

    /// A duration given in milliseconds (configuration keys, command-line options) in nanoseconds,
    /// after checking it is a positive, finite number below 10⁹ ms; `name` goes into the error.
    public static func nanoseconds(_ ms: Double, _ name: String) throws -> Int64 {
        guard ms > 0, ms.isFinite, ms < 1e9 else { throw RuntimeConfigurationError("\(name) must be a positive number of milliseconds") }
        return Int64(ms * 1e6)
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): return "missing key '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "\(path.isEmpty ? "" : "'\(path)': ")\(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    /// The file's layout (snake_case keys as written in YAML).
    private struct File: Decodable {
        var robot_endpoint: String?
        var admin_endpoint: String?
        var max_state_age_ms: Double?
        var deadline_ms: Double?
        var session_timeout_ms: Double?
        var first_trial_id: UInt64?
        var robots: [String: Robot]?
        var policies: [String: String]?
        var store: String?
        var security: SecurityFile?

        struct Robot: Decodable {
            var safe_control: [Double]?
            var control_limits: [Double]?
            private enum CodingKeys: String, CodingKey, CaseIterable { case safe_control, control_limits }
            init(from decoder: any Decoder) throws {
                try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue))
                let c = try decoder.container(keyedBy: CodingKeys.self)
                safe_control = try c.decodeIfPresent([Double].self, forKey: .safe_control)
                control_limits = try c.decodeIfPresent([Double].self, forKey: .control_limits)
            }
        }

        struct SecurityFile: Decodable {
            var server_secret_key: String
            var robot_keys: [String]?
            var operator_keys: [String]?
            private enum CodingKeys: String, CodingKey, CaseIterable { case server_secret_key, robot_keys, operator_keys }
            init(from decoder: any Decoder) throws {
                try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue))
                let c = try decoder.container(keyedBy: CodingKeys.self)
                server_secret_key = try c.decode(String.self, forKey: .server_secret_key)
                robot_keys = try c.decodeIfPresent([String].self, forKey: .robot_keys)
                operator_keys = try c.decodeIfPresent([String].self, forKey: .operator_keys)
            }
        }

        private enum CodingKeys: String, CodingKey, CaseIterable {
            case robot_endpoint, admin_endpoint, max_state_age_ms, deadline_ms, session_timeout_ms, first_trial_id
            case robots, policies, store, security
        }

        init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            robot_endpoint = try c.decodeIfPresent(String.self, forKey: .robot_endpoint)
            admin_endpoint = try c.decodeIfPresent(String.self, forKey: .admin_endpoint)
            max_state_age_ms = try c.decodeIfPresent(Double.self, forKey: .max_state_age_ms)
            deadline_ms = try c.decodeIfPresent(Double.self, forKey: .deadline_ms)
            session_timeout_ms = try c.decodeIfPresent(Double.self, forKey: .session_timeout_ms)
            first_trial_id = try c.decodeIfPresent(UInt64.self, forKey: .first_trial_id)
            robots = try c.decodeIfPresent([String: Robot].self, forKey: .robots)
            policies = try c.decodeIfPresent([String: String].self, forKey: .policies)
            store = try c.decodeIfPresent(String.self, forKey: .store)
            security = try c.decodeIfPresent(SecurityFile.self, forKey: .security)
        }
    }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

private func rejectUnknownKeys(_ decoder: any Decoder, known: [String]) throws {
    let c = try decoder.container(keyedBy: AnyKey.self)
    for key in c.allKeys where !known.contains(key.stringValue) {
        let path = (decoder.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
        throw RuntimeConfigurationError("configuration: unknown key '\(path)'; known here: \(known.joined(separator: ", "))")
    }
}
