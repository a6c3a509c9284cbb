import Foundation
import GRDB

/// Where a trial stands.
public enum TrialStatus: String, Codable, Sendable, CaseIterable {
    case running, complete, aborted
}

/// One trial: a run of a robot on a task, from the runtime's `StartTrial` to its end.
public struct StoredTrial: Codable, FetchableRecord, PersistableRecord, Sendable, Equatable {
    public static let databaseTableName = "trial"
    public var id: Int64
    public var robotID: String
    public var task: String
    public var maxSteps: Int
    public var status: TrialStatus
    /// Why it ended, when it did ("" for a trial that reached `max_steps`).
    public var reason: String
    public var startedNs: Int64
    public var endedNs: Int64?
    /// Policy version deployed when the trial started (0: none, e.g. a random trial).
    public var policyVersion: Int64
    public var cycleID: Int64?
    /// Where the trial came from: `runtime`, `csv` or `mcap` (imported).
    public var source: String
    /// What the trial achieved by its task (``setOutcome(trial:cost:finalCost:success:)``): the sum
    /// of the task's cost over its observed states, the mean over the success test's final window,
    /// and the test's verdict; nil until computed (a trial of an unknown task, or not complete).
    public var cost: Double?
    public var finalCost: Double?
    public var success: Bool?

    enum CodingKeys: String, CodingKey {
        case id, task, status, reason, source, cost, success
        case robotID = "robot_id", maxSteps = "max_steps", startedNs = "started_ns", endedNs = "ended_ns"
        case policyVersion = "policy_version", cycleID = "cycle_id", finalCost = "final_cost"
    }

    public init(id: Int64, robotID: String, task: String, maxSteps: Int, status: TrialStatus, reason: String = "",
                startedNs: Int64, endedNs: Int64? = nil, policyVersion: Int64 = 0, cycleID: Int64? = nil, source: String = "runtime") {
        self.id = id
        self.robotID = robotID
        self.task = task
        self.maxSteps = maxSteps
        self.status = status
        self.reason = reason
        self.startedNs = startedNs
        self.endedNs = endedNs
        self.policyVersion = policyVersion
        self.cycleID = cycleID
        self.source = source
    }
}

/// One State → Control exchange as the runtime served it.
public struct StoredStep: Sendable, Equatable {
    public var robotID: String
    /// The trial the step belongs to (0: outside any trial).
    public var trialID: Int64
    public var sequence: UInt64
    public var robotTimeNs: Int64
    /// Runtime wall clock when the state arrived (unix ns).
    public var receivedNs: Int64
    /// The observed state as the robot sent it.
    public var state: [Double]
    /// The control sent back (the saturated policy output, or the safe control).
    public var control: [Double]
    public var policyVersion: UInt64
    /// `pipps.v1.ControlStatus` and `FallbackReason` raw values.
    public var status: Int
    public var reason: Int
    public var latencyNs: Int64

    public init(robotID: String, trialID: Int64, sequence: UInt64, robotTimeNs: Int64, receivedNs: Int64, state: [Double],
                control: [Double], policyVersion: UInt64, status: Int, reason: Int, latencyNs: Int64) {
        self.robotID = robotID
        self.trialID = trialID
        self.sequence = sequence
        self.robotTimeNs = robotTimeNs
        self.receivedNs = receivedNs
        self.state = state
        self.control = control
        self.policyVersion = policyVersion
        self.status = status
        self.reason = reason
        self.latencyNs = latencyNs
    }
}

/// A policy version as the store keeps it: the serialised `pipps.v1.Policy` and where it came from.
public struct StoredPolicy: Codable, FetchableRecord, PersistableRecord, Sendable, Equatable {
    public static let databaseTableName = "policy"
    public var robotID: String
    public var version: Int64
    public var createdNs: Int64
    public var learningRoundID: Int64?
    public var deployedNs: Int64?
    /// Serialised `pipps.v1.Policy`.
    public var policy: Data
    public var checksum: String

    enum CodingKeys: String, CodingKey {
        case version, policy, checksum
        case robotID = "robot_id", createdNs = "created_ns", learningRoundID = "learning_round_id", deployedNs = "deployed_ns"
    }

    public init(robotID: String, version: Int64, createdNs: Int64, learningRoundID: Int64? = nil, deployedNs: Int64? = nil,
                policy: Data, checksum: String) {
        self.robotID = robotID
        self.version = version
        self.createdNs = createdNs
        self.learningRoundID = learningRoundID
        self.deployedNs = deployedNs
        self.policy = policy
        self.checksum = checksum
    }
}

/// One learning round: what it learned from, how, how long it took, and what it made.
public struct StoredLearningRound: Codable, FetchableRecord, Sendable, Equatable {
    public var id: Int64
    public var robotID: String
    public var task: String
    public var cycleID: Int64?
    /// The settings as JSON.
    public var settings: String
    public var seed: Int64
    /// Ids of the trials it learned from, as a JSON array.
    public var trainingTrials: String
    public var startedNs: Int64
    public var finishedNs: Int64?
    public var modelSeconds: Double?
    public var optimisationSeconds: Double?
    public var predictedReturn: Double?
    public var achievedReturn: Double?
    public var policyVersion: Int64?

    enum CodingKeys: String, CodingKey {
        case id, task, settings, seed
        case robotID = "robot_id", cycleID = "cycle_id", trainingTrials = "training_trials", startedNs = "started_ns"
        case finishedNs = "finished_ns", modelSeconds = "model_seconds", optimisationSeconds = "optimisation_seconds"
        case predictedReturn = "predicted_return", achievedReturn = "achieved_return", policyVersion = "policy_version"
    }
}

/// What the runtime's recorder hands the store: robots seen, trial starts and ends, deploys and
/// steps, in the order they happened; ``TrialStore/write(_:)`` stores one batch in one transaction.
public struct RecorderBatch: Sendable {
    public enum Event: Sendable, Equatable {
        case robot(id: String, kind: String, atNs: Int64)
        case trialStarted(id: Int64, robot: String, task: String, maxSteps: Int, policyVersion: Int64, atNs: Int64)
        case trialEnded(id: Int64, status: TrialStatus, reason: String, atNs: Int64)
        /// A policy went live on a robot (serialised `pipps.v1.Policy`, stored if the store lacks it).
        case policyDeployed(robot: String, version: Int64, policy: Data, checksum: String, atNs: Int64)
    }
    public enum Item: Sendable, Equatable {
        case event(Event)
        case step(StoredStep)
    }
    public var items: [Item] = []
    public init(_ items: [Item] = []) { self.items = items }
    public var isEmpty: Bool { items.isEmpty }
    public var stepCount: Int { items.reduce(0) { if case .step = $1 { $0 + 1 } else { $0 } } }
}

/// The embedded trial store: one SQLite file in WAL mode (GRDB), shared by the runtime (which
/// records), the learner and the scheduler. Robots, trials, steps, policy versions, learning rounds
/// and cycles; the schema is migrated from its first version on open.
///
/// Durability: every ``write(_:)`` is one transaction; with WAL and `synchronous=NORMAL` a committed
/// transaction survives the process being killed (only an operating-system crash or power loss can
/// take the last ones back).
public final class TrialStore: Sendable {
    public let path: String
    private let pool: DatabasePool

    /// Opens (creating when missing, with its directory) and migrates the store at `path`.
    public init(path: String) throws {
        self.path = path
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw TrialStoreError("cannot open the trial store \(path): \(error)")
        }
    }

    /// Deletes a store's files (the database and its WAL and shared-memory files), for a command
    /// that created the store and failed before storing anything.
    public static func remove(at url: URL) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: url.path + suffix) }
    }

    // MARK: - Schema

    /// Migrations, oldest first. Never edit a registered migration: add a new one.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.create(table: "robot") { t in
                t.primaryKey("id", .text)
                t.column("kind", .text).notNull()
                t.column("first_seen_ns", .integer).notNull()
                t.column("last_seen_ns", .integer).notNull()
            }
            try db.create(table: "cycle") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("robot_id", .text).notNull()
                t.column("task", .text).notNull()
                t.column("status", .text).notNull()
                t.column("reason", .text).notNull().defaults(to: "")
                t.column("settings", .text).notNull()
                t.column("started_ns", .integer).notNull()
                t.column("ended_ns", .integer)
            }
            try db.create(table: "trial") { t in
                t.primaryKey("id", .integer)
                t.column("robot_id", .text).notNull().indexed()
                t.column("task", .text).notNull()
                t.column("max_steps", .integer).notNull()
                t.column("status", .text).notNull().check { ["running", "complete", "aborted"].contains($0) }
                t.column("reason", .text).notNull().defaults(to: "")
                t.column("started_ns", .integer).notNull()
                t.column("ended_ns", .integer)
                t.column("policy_version", .integer).notNull().defaults(to: 0)
                t.column("cycle_id", .integer)
                t.column("source", .text).notNull().defaults(to: "runtime")
            }
            // No foreign keys on steps: a step must never be refused (nothing recorded is lost).
            try db.create(table: "step") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("robot_id", .text).notNull()
                t.column("trial_id", .integer).notNull()
                t.column("sequence", .integer).notNull()
                t.column("robot_time_ns", .integer).notNull()
                t.column("received_ns", .integer).notNull()
                t.column("state", .blob).notNull()
                t.column("control", .blob).notNull()
                t.column("policy_version", .integer).notNull()
                t.column("status", .integer).notNull()
                t.column("reason", .integer).notNull()
                t.column("latency_ns", .integer).notNull()
            }
            try db.create(index: "step_by_trial", on: "step", columns: ["trial_id", "id"])
            try db.create(table: "learning_round") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("robot_id", .text).notNull()
                t.column("task", .text).notNull()
                t.column("cycle_id", .integer)
                t.column("settings", .text).notNull()
                t.column("seed", .integer).notNull()
                t.column("training_trials", .text).notNull()
                t.column("started_ns", .integer).notNull()
                t.column("finished_ns", .integer)
                t.column("model_seconds", .double)
                t.column("optimisation_seconds", .double)
                t.column("predicted_return", .double)
                t.column("achieved_return", .double)
                t.column("policy_version", .integer)
            }
            try db.create(table: "policy") { t in
                t.column("robot_id", .text).notNull()
                t.column("version", .integer).notNull()
                t.column("created_ns", .integer).notNull()
                t.column("learning_round_id", .integer)
                t.column("deployed_ns", .integer)
                t.column("policy", .blob).notNull()
                t.column("checksum", .text).notNull()
                t.primaryKey(["robot_id", "version"])
            }
        }
        m.registerMigration("v2") { db in
            // Files whose trials were imported, by the SHA-256 of their bytes and the robot and task they
            // were imported as: importing one again for them adds nothing.
            try db.create(table: "import_file") { t in
                t.column("sha256", .text).notNull()
                t.column("robot_id", .text).notNull()
                t.column("task", .text).notNull()
                t.column("name", .text).notNull()
                t.column("imported_ns", .integer).notNull()
                t.primaryKey(["sha256", "robot_id", "task"])
            }
            try db.create(table: "import_file_trial") { t in
                t.column("sha256", .text).notNull()
                t.column("robot_id", .text).notNull()
                t.column("task", .text).notNull()
                t.column("trial_id", .integer).notNull()
                t.primaryKey(["sha256", "robot_id", "task", "trial_id"])
            }
        }
        m.registerMigration("v3") { db in
            // What each trial achieved by its task (filled when it ends, or when it is listed).
            try db.alter(table: "trial") { t in
                t.add(column: "cost", .double)
                t.add(column: "final_cost", .double)
                t.add(column: "success", .boolean)
            }
            // Tasks are stored under their canonical names from now on; rows stored under the older
            // aliases (as they were typed) are renamed so that learning finds them.
            let aliases = [("cartpole-swingup", "cartpole-angle"), ("cartpole", "cartpole-angle"),
                           ("cartpole-swingup-tip", "cartpole-tip"), ("unicycle-balance", "unicycle")]
            for table in ["trial", "cycle", "learning_round", "import_file", "import_file_trial"] {
                for (alias, name) in aliases {
                    try db.execute(sql: "UPDATE \(table) SET task = ? WHERE task = ?", arguments: [name, alias])
                }
            }
        }
        return m
    }

    /// Names of the migrations applied, oldest first.
    public func appliedMigrations() throws -> [String] {
        try pool.read { try Self.migrator.appliedMigrations($0) }
    }

    // MARK: - Recording

    /// Start-up of a runtime on this store: trials still `running` were cut short by a crash or a
    /// kill, so they become `aborted`; returns the ids of those, the next free trial id and the kind
    /// each robot last registered as.
    public func prepareForRuntime(nowNs: Int64) throws -> (aborted: [Int64], nextTrialID: Int64, robotKinds: [String: String]) {
        try pool.write { db in
            let running = try Int64.fetchAll(db, sql: "SELECT id FROM trial WHERE status = 'running' ORDER BY id")
            for id in running {
                let last = try Int64.fetchOne(db, sql: "SELECT MAX(received_ns) FROM step WHERE trial_id = ?", arguments: [id])
                try db.execute(sql: """
                    UPDATE trial SET status = 'aborted', reason = 'the runtime stopped before the trial ended (crash or kill)',
                    ended_ns = ? WHERE id = ?
                    """, arguments: [last ?? nowNs, id])
            }
            let maxID = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM trial WHERE id < ?", arguments: [Self.firstImportedTrialID]) ?? 0
            var kinds: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, kind FROM robot") { kinds[row["id"]] = row["kind"] }
            return (running, maxID + 1, kinds)
        }
    }

    /// Stores one recorder batch in one transaction.
    public func write(_ batch: RecorderBatch) throws {
        guard !batch.isEmpty else { return }
        try pool.write { db in
            for item in batch.items {
                switch item {
                case .event(let event): try apply(event, db)
                case .step(let step): try insert(step, db)
                }
            }
        }
    }

    private func insert(_ s: StoredStep, _ db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO step (robot_id, trial_id, sequence, robot_time_ns, received_ns, state, control, policy_version,
                              status, reason, latency_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                s.robotID, s.trialID, Int64(bitPattern: s.sequence), s.robotTimeNs, s.receivedNs,
                DoubleBlob.encode(s.state), DoubleBlob.encode(s.control), Int64(bitPattern: s.policyVersion),
                s.status, s.reason, s.latencyNs,
            ])
    }

    private func apply(_ event: RecorderBatch.Event, _ db: Database) throws {
        switch event {
        case let .robot(id, kind, at):
            try db.execute(sql: """
                INSERT INTO robot (id, kind, first_seen_ns, last_seen_ns) VALUES (?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, last_seen_ns = excluded.last_seen_ns
                """, arguments: [id, kind, at, at])
        case let .trialStarted(id, robot, task, maxSteps, version, at):
            let cycle = try Int64.fetchOne(db, sql: """
                SELECT id FROM cycle WHERE robot_id = ? AND task = ? AND status = 'running' ORDER BY id DESC LIMIT 1
                """, arguments: [robot, task])
            // Never over an existing trial: ids are the runtime's own, and imports have their own range.
            try StoredTrial(id: id, robotID: robot, task: task, maxSteps: maxSteps, status: .running, startedNs: at,
                            policyVersion: version, cycleID: cycle).insert(db, onConflict: .ignore)
        case let .trialEnded(id, status, reason, at):
            try db.execute(sql: "UPDATE trial SET status = ?, reason = ?, ended_ns = ? WHERE id = ? AND status = 'running'",
                           arguments: [status.rawValue, reason, at, id])
        case let .policyDeployed(robot, version, policy, checksum, at):
            try db.execute(sql: """
                INSERT INTO policy (robot_id, version, created_ns, policy, checksum, deployed_ns) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(robot_id, version) DO UPDATE SET deployed_ns = excluded.deployed_ns
                """, arguments: [robot, version, at, policy, checksum, at])
        }
    }

    // MARK: - Reading

    public func trial(_ id: Int64) throws -> StoredTrial? {
        try pool.read { try StoredTrial.fetchOne($0, key: id) }
    }

    /// Trials, oldest first, optionally of one robot, task and set of statuses.
    public func trials(robot: String? = nil, task: String? = nil, statuses: Set<TrialStatus>? = nil) throws -> [StoredTrial] {
        try pool.read { db in
            var request = StoredTrial.order(Column("id"))
            if let robot { request = request.filter(Column("robot_id") == robot) }
            if let task { request = request.filter(Column("task") == task) }
            if let statuses { request = request.filter(statuses.map(\.rawValue).contains(Column("status"))) }
            return try request.fetchAll(db)
        }
    }

    /// The steps of a trial in the order they were served (trial 0: steps outside any trial).
    public func steps(trial: Int64, robot: String? = nil) throws -> [StoredStep] {
        try pool.read { db in
            var sql = "SELECT * FROM step WHERE trial_id = ?"
            var arguments: StatementArguments = [trial]
            if let robot { sql += " AND robot_id = ?"; arguments += [robot] }
            return try Row.fetchAll(db, sql: sql + " ORDER BY id", arguments: arguments).map(Self.step)
        }
    }

    /// Number of stored steps, in all or of one trial.
    public func stepCount(trial: Int64? = nil) throws -> Int {
        try pool.read { db in
            if let trial { return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM step WHERE trial_id = ?", arguments: [trial]) ?? 0 }
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM step") ?? 0
        }
    }

    static func step(_ row: Row) -> StoredStep {
        StoredStep(robotID: row["robot_id"], trialID: row["trial_id"], sequence: UInt64(bitPattern: row["sequence"]),
                   robotTimeNs: row["robot_time_ns"], receivedNs: row["received_ns"],
                   state: DoubleBlob.decode(row["state"]), control: DoubleBlob.decode(row["control"]),
                   policyVersion: UInt64(bitPattern: row["policy_version"]), status: row["status"], reason: row["reason"],
                   latencyNs: row["latency_ns"])
    }

    /// Imported trials are numbered from here on, apart from the runtime's (which count from 1), so
    /// an import never takes an id a running runtime is about to give a trial.
    public static let firstImportedTrialID: Int64 = 1 << 40

    /// Adds trials recorded elsewhere (CSV or MCAP import), with their steps, in one transaction;
    /// their ids count from ``firstImportedTrialID``.
    @discardableResult
    public func importTrial(robot: String, kind: String, task: String, source: String, steps: [StoredStep], nowNs: Int64) throws -> Int64 {
        try pool.write { db in
            try apply(.robot(id: robot, kind: kind, atNs: nowNs), db)
            return try insertImportedTrial(robot: robot, task: task, source: source, trial: ImportTrial(steps: steps), keepID: false, nowNs: nowNs, db)
        }
    }

    /// Imports the trials of `files` as trials of `robot` on `task`, in one transaction: all of them,
    /// or (on any error) none. A file whose bytes (SHA-256) the store has imported before for the
    /// same robot and task adds nothing and reports its earlier trials. A robot the store knows as
    /// another kind is refused. With `keepIDs` (restoring an export into a new store, where no
    /// runtime has handed out trial ids), trials keep their original ids below
    /// ``firstImportedTrialID``; otherwise they take the imported range. Policies that came with
    /// the trials are stored only when the store has none of `robot`'s (a new lineage), without
    /// their learning rounds (those are the source store's).
    public func importFiles(_ files: [ImportFile], robot: String, kind: String, task: String, keepIDs: Bool = false,
                            nowNs: Int64) throws -> [ImportedFile] {
        try pool.write { db in
            if let known = try String.fetchOne(db, sql: "SELECT kind FROM robot WHERE id = ?", arguments: [robot]), known != kind {
                throw TrialStoreError("\(robot) is a \(known) in \(path): its trials cannot be imported as \(kind) trials")
            }
            try apply(.robot(id: robot, kind: kind, atNs: nowNs), db)
            var hasPolicies = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM policy WHERE robot_id = ?", arguments: [robot]) ?? 0 > 0
            var results: [ImportedFile] = []
            for file in files {
                if try Row.fetchOne(db, sql: "SELECT 1 FROM import_file WHERE sha256 = ? AND robot_id = ? AND task = ?",
                                    arguments: [file.sha256, robot, task]) != nil {
                    let ids = try Int64.fetchAll(db, sql: """
                        SELECT trial_id FROM import_file_trial WHERE sha256 = ? AND robot_id = ? AND task = ? ORDER BY trial_id
                        """, arguments: [file.sha256, robot, task])
                    results.append(ImportedFile(name: file.name, trialIDs: ids, alreadyImported: true))
                    continue
                }
                let ids = try file.trials.map {
                    try insertImportedTrial(robot: robot, task: task, source: file.source, trial: $0, keepID: keepIDs, nowNs: nowNs, db)
                }
                if !hasPolicies, !file.policies.isEmpty {
                    for var policy in file.policies {
                        policy.robotID = robot
                        policy.learningRoundID = nil
                        try policy.insert(db)
                    }
                    hasPolicies = true
                }
                try db.execute(sql: "INSERT INTO import_file (sha256, robot_id, task, name, imported_ns) VALUES (?, ?, ?, ?, ?)",
                               arguments: [file.sha256, robot, task, file.name, nowNs])
                for id in ids {
                    try db.execute(sql: "INSERT INTO import_file_trial (sha256, robot_id, task, trial_id) VALUES (?, ?, ?, ?)",
                                   arguments: [file.sha256, robot, task, id])
                }
                results.append(ImportedFile(name: file.name, trialIDs: ids, alreadyImported: false))
            }
            return results
        }
    }

    /// One imported trial: with `keepID`, its original id when that is in the runtime's range and
    /// free; else the next id of the imported range. Inside a write transaction.
    private func insertImportedTrial(robot: String, task: String, source: String, trial: ImportTrial, keepID: Bool, nowNs: Int64,
                                     _ db: Database) throws -> Int64 {
        let id: Int64
        if keepID, let original = trial.originalID, original > 0, original < Self.firstImportedTrialID,
           try StoredTrial.fetchOne(db, key: original) == nil {
            id = original
        } else {
            id = max(try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM trial WHERE id >= ?", arguments: [Self.firstImportedTrialID]) ?? 0,
                     Self.firstImportedTrialID - 1) + 1
        }
        let steps = trial.steps
        try StoredTrial(id: id, robotID: robot, task: task, maxSteps: trial.maxSteps ?? steps.count, status: .complete,
                        startedNs: trial.startedNs ?? steps.first?.receivedNs ?? nowNs, endedNs: trial.endedNs ?? steps.last?.receivedNs ?? nowNs,
                        policyVersion: trial.policyVersion, source: source).insert(db)
        for var s in steps {
            s.trialID = id
            s.robotID = robot
            try insert(s, db)
        }
        return id
    }

    // MARK: - Policies

    /// Stores a new policy version.
    public func insertPolicy(_ policy: StoredPolicy) throws {
        try pool.write { try policy.insert($0) }
    }

    /// The newest policy version of a robot.
    public func latestPolicy(robot: String) throws -> StoredPolicy? {
        try pool.read { db in
            try StoredPolicy.filter(Column("robot_id") == robot).order(Column("version").desc).fetchOne(db)
        }
    }

    /// Stores what a trial achieved by its task.
    public func setOutcome(trial id: Int64, cost: Double, finalCost: Double, success: Bool) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE trial SET cost = ?, final_cost = ?, success = ? WHERE id = ?", arguments: [cost, finalCost, success, id])
        }
    }

    /// Every policy version of a robot, newest first.
    public func policies(robot: String) throws -> [StoredPolicy] {
        try pool.read { db in
            try StoredPolicy.filter(Column("robot_id") == robot).order(Column("version").desc).fetchAll(db)
        }
    }

    /// The next policy version for a robot (1 for the first).
    public func nextPolicyVersion(robot: String) throws -> Int64 {
        try pool.read { db in
            (try Int64.fetchOne(db, sql: "SELECT MAX(version) FROM policy WHERE robot_id = ?", arguments: [robot]) ?? 0) + 1
        }
    }

    // MARK: - Learning rounds

    /// Records the start of a learning round; returns its id.
    public func beginLearningRound(robot: String, task: String, cycleID: Int64?, settings: String, seed: UInt64,
                                   trainingTrials: [Int64], startedNs: Int64) throws -> Int64 {
        try pool.write { db in
            try db.execute(sql: """
                INSERT INTO learning_round (robot_id, task, cycle_id, settings, seed, training_trials, started_ns)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [robot, task, cycleID, settings, Int64(bitPattern: seed),
                                 "[" + trainingTrials.map(String.init).joined(separator: ",") + "]", startedNs])
            return db.lastInsertedRowID
        }
    }

    /// Records the end of a learning round and the policy it made, in one transaction.
    public func finishLearningRound(_ id: Int64, policy: StoredPolicy, modelSeconds: Double, optimisationSeconds: Double,
                                    predictedReturn: Double) throws {
        try pool.write { db in
            try policy.insert(db)
            try db.execute(sql: """
                UPDATE learning_round SET finished_ns = ?, model_seconds = ?, optimisation_seconds = ?, predicted_return = ?,
                policy_version = ? WHERE id = ?
                """, arguments: [policy.createdNs, modelSeconds, optimisationSeconds, predictedReturn, policy.version, id])
        }
    }

    /// Learning rounds, oldest first, optionally of one robot.
    public func learningRounds(robot: String? = nil) throws -> [StoredLearningRound] {
        try pool.read { db in
            if let robot {
                return try StoredLearningRound.fetchAll(db, sql: "SELECT * FROM learning_round WHERE robot_id = ? ORDER BY id", arguments: [robot])
            }
            return try StoredLearningRound.fetchAll(db, sql: "SELECT * FROM learning_round ORDER BY id")
        }
    }

    /// The return a round's policy achieved on its trial (filled in by the scheduler).
    public func setAchievedReturn(round id: Int64, _ value: Double) throws {
        try pool.write { try $0.execute(sql: "UPDATE learning_round SET achieved_return = ? WHERE id = ?", arguments: [value, id]) }
    }

    // MARK: - Cycles

    /// The running cycle of `robot` on `task`, or a new one: (id, whether it was resumed).
    public func openCycle(robot: String, task: String, settings: String, nowNs: Int64) throws -> (id: Int64, resumed: Bool) {
        try pool.write { db in
            if let id = try Int64.fetchOne(db, sql: "SELECT id FROM cycle WHERE robot_id = ? AND task = ? AND status = 'running' ORDER BY id DESC LIMIT 1",
                                           arguments: [robot, task]) {
                return (id, true)
            }
            try db.execute(sql: "INSERT INTO cycle (robot_id, task, status, settings, started_ns) VALUES (?, ?, 'running', ?, ?)",
                           arguments: [robot, task, settings, nowNs])
            return (db.lastInsertedRowID, false)
        }
    }

    /// The newest cycle of `robot` on `task`, whatever its status.
    public func latestCycle(robot: String, task: String) throws -> Int64? {
        try pool.read { try Int64.fetchOne($0, sql: "SELECT MAX(id) FROM cycle WHERE robot_id = ? AND task = ?", arguments: [robot, task]) }
    }

    /// Ends a cycle (`succeeded`, `exhausted` or `failed`) with a reason.
    public func finishCycle(_ id: Int64, status: String, reason: String, nowNs: Int64) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE cycle SET status = ?, reason = ?, ended_ns = ? WHERE id = ?", arguments: [status, reason, nowNs, id])
        }
    }

    /// A cycle's status and reason.
    public func cycleStatus(_ id: Int64) throws -> (status: String, reason: String)? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT status, reason FROM cycle WHERE id = ?", arguments: [id]).map { ($0["status"], $0["reason"]) }
        }
    }

    /// The trials of a cycle, oldest first.
    public func trials(cycle: Int64) throws -> [StoredTrial] {
        try pool.read { try StoredTrial.filter(Column("cycle_id") == cycle).order(Column("id")).fetchAll($0) }
    }

    /// The learning rounds of a cycle, oldest first.
    public func learningRounds(cycle: Int64) throws -> [StoredLearningRound] {
        try pool.read { try StoredLearningRound.fetchAll($0, sql: "SELECT * FROM learning_round WHERE cycle_id = ? ORDER BY id", arguments: [cycle]) }
    }

    /// A robot's policy of a given version.
    public func policy(robot: String, version: Int64) throws -> StoredPolicy? {
        try pool.read { try StoredPolicy.filter(Column("robot_id") == robot && Column("version") == version).fetchOne($0) }
    }

    /// Runs `body` in one write transaction (for the learner's and scheduler's own records).
    public func write<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.write(body)
    }

    /// Runs `body` with a read-only view.
    public func read<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.read(body)
    }
}

/// A store error with a message for the operator.
public struct TrialStoreError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Vectors of doubles as BLOBs: 8 bytes each, little-endian IEEE 754.
public enum DoubleBlob {
    public static func encode(_ values: [Double]) -> Data {
        var data = Data(capacity: values.count * 8)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    public static func decode(_ data: Data) -> [Double] {
        data.withUnsafeBytes { raw in
            (0..<raw.count / 8).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }
        }
    }
}

/// A file of logged trials (and policies) to import with ``TrialStore/importFiles(_:robot:kind:task:nowNs:)``.
public struct ImportFile: Sendable {
    /// The file's path, for messages and the store's record.
    public var name: String
    /// Where the trials came from: `csv` or `mcap`.
    public var source: String
    /// SHA-256 of the file's bytes (hex): the same content is imported once.
    public var sha256: String
    public var trials: [ImportTrial]
    /// Policy versions that came with the trials (an MCAP export): stored for the importing robot
    /// where the store lacks that version.
    public var policies: [StoredPolicy]

    public init(name: String, source: String, sha256: String, trials: [ImportTrial], policies: [StoredPolicy] = []) {
        self.name = name
        self.source = source
        self.sha256 = sha256
        self.trials = trials
        self.policies = policies
    }
}

/// One trial to import.
public struct ImportTrial: Sendable, Equatable {
    public var steps: [StoredStep]
    /// The id it had where it was recorded (an MCAP export): kept when restoring into a new store
    /// (``TrialStore/importFiles(_:robot:kind:task:keepIDs:nowNs:)``), so that the store carries on
    /// with the same ids; otherwise the next id of the imported range (``TrialStore/firstImportedTrialID``).
    public var originalID: Int64?
    public var policyVersion: Int64
    public var startedNs: Int64?
    public var endedNs: Int64?
    /// The trial's `max_steps` (default: its number of steps).
    public var maxSteps: Int?

    public init(steps: [StoredStep], originalID: Int64? = nil, policyVersion: Int64 = 0, startedNs: Int64? = nil, endedNs: Int64? = nil,
                maxSteps: Int? = nil) {
        self.steps = steps
        self.maxSteps = maxSteps
        self.originalID = originalID
        self.policyVersion = policyVersion
        self.startedNs = startedNs
        self.endedNs = endedNs
    }
}

/// What an import did with one file.
public struct ImportedFile: Sendable, Equatable {
    public var name: String
    /// Its trials in the store: new ones, or those of the earlier import of the same content.
    public var trialIDs: [Int64]
    /// The same content was imported before: nothing was added.
    public var alreadyImported: Bool
}
