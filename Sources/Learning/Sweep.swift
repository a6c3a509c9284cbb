import Foundation

// A sweep is a list of learning runs that share a results directory. Whatever executes it (this
// machine's threads or a Slurm job array), the directory holds:
//
//   sweeps/<id>.json     the runs a sweep asked for (so `collect` knows what is missing)
//   runs/<run>.json      a finished run, written atomically (ExperimentResults.store)
//   status/<run>.json    a run that started and has not finished: where it runs, its log, and the
//                        error if it failed; removed when the run finishes
//   slurm/…              job scripts, array task lists and the tasks' logs (Slurm backend)

/// The runs one sweep asked for, saved so that `pipps experiment collect` can say which are missing.
public struct SweepManifest: Codable, Sendable, Equatable {
    public var runs: [EpisodicSettings]
    public var created: Date
    public var backend: String

    public init(runs: [EpisodicSettings], created: Date = Date(), backend: String) {
        self.runs = runs
        self.created = created
        self.backend = backend
    }

    /// A stable identifier of the sweep's runs (FNV-1a 64 of the run identifiers, in order): the same
    /// sweep submitted twice has one manifest.
    public var id: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in runs.map(\.runID).joined(separator: "\n").utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}

/// Where a run that has not finished is, or why it failed.
public struct RunStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case started, failed }
    public var runID: String
    public var state: State
    public var host: String
    public var pid: Int32
    /// The Slurm job (`ARRAYJOB_TASK`), when run by Slurm.
    public var slurmJob: String?
    /// The log file with the run's output, when it has one of its own.
    public var log: String?
    public var error: String?
    public var time: Date

    public init(runID: String, state: State, host: String = ProcessInfo.processInfo.hostName, pid: Int32 = ProcessInfo.processInfo.processIdentifier,
                slurmJob: String? = nil, log: String? = nil, error: String? = nil, time: Date = Date()) {
        self.runID = runID
        self.state = state
        self.host = host
        self.pid = pid
        self.slurmJob = slurmJob
        self.log = log
        self.error = error
        self.time = time
    }
}

extension RunStatus {
    /// This status turned into a failure with `error`, now.
    public func failed(_ error: String) -> RunStatus {
        var s = self
        s.state = .failed
        s.error = error
        s.time = Date()
        return s
    }
}

extension ExperimentResults {
    public var sweepsDirectory: URL { directory.appendingPathComponent("sweeps", isDirectory: true) }
    public var statusDirectory: URL { directory.appendingPathComponent("status", isDirectory: true) }

    /// Saves a sweep's manifest (once per distinct sweep); returns its URL.
    @discardableResult
    public func saveManifest(_ manifest: SweepManifest) throws -> URL {
        try FileManager.default.createDirectory(at: sweepsDirectory, withIntermediateDirectories: true)
        let url = sweepsDirectory.appendingPathComponent(manifest.id + ".json")
        if FileManager.default.fileExists(atPath: url.path) { return url }
        try Self.writeAtomically(try Self.encoder.encode(manifest), to: url)
        return url
    }

    /// Every run any sweep in this directory asked for, without repeats, in the order first asked.
    public func expectedRuns() -> (runs: [EpisodicSettings], unreadable: [URL]) {
        let files = ((try? FileManager.default.contentsOfDirectory(at: sweepsDirectory, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.pathExtension == "json" && !$0.lastPathComponent.hasPrefix(".") }
        var manifests: [SweepManifest] = [], unreadable: [URL] = []
        for file in files {
            if let data = try? Data(contentsOf: file), let m = try? Self.decoder.decode(SweepManifest.self, from: data) {
                manifests.append(m)
            } else {
                unreadable.append(file)
            }
        }
        manifests.sort { ($0.created, $0.id) < ($1.created, $1.id) }
        var seen = Set<EpisodicSettings>(), runs: [EpisodicSettings] = []
        for run in manifests.flatMap(\.runs) where seen.insert(run).inserted { runs.append(run) }
        return (runs, unreadable.sorted { $0.path < $1.path })
    }

    /// Records that a run started or failed (atomically; a later call replaces it).
    public func setStatus(_ status: RunStatus) throws {
        try FileManager.default.createDirectory(at: statusDirectory, withIntermediateDirectories: true)
        try Self.writeAtomically(try Self.encoder.encode(status), to: statusDirectory.appendingPathComponent(status.runID + ".json"))
    }

    /// The recorded status of a run that has not finished, if any.
    public func status(of runID: String) -> RunStatus? {
        guard let data = try? Data(contentsOf: statusDirectory.appendingPathComponent(runID + ".json")) else { return nil }
        return try? Self.decoder.decode(RunStatus.self, from: data)
    }

    /// Forgets a run's status (when it finished).
    public func clearStatus(of runID: String) {
        try? FileManager.default.removeItem(at: statusDirectory.appendingPathComponent(runID + ".json"))
    }

    /// The Slurm array task and its log file for every run submitted from this directory whose
    /// task wrote a log (`slurm/<submission>/jobs` lists the job id of each `array-K.json` in order;
    /// the log of task i of job J is `slurm/logs/J_i.out`); the latest submission wins.
    public func slurmTaskLogs() -> [String: (job: String, log: String)] {
        let fm = FileManager.default
        let slurm = directory.appendingPathComponent("slurm", isDirectory: true)
        let logs = slurm.appendingPathComponent("logs", isDirectory: true)
        var found: [String: (job: String, log: String)] = [:]
        for submission in ((try? fm.contentsOfDirectory(atPath: slurm.path)) ?? []).sorted() where submission != "logs" {
            let dir = slurm.appendingPathComponent(submission, isDirectory: true)
            guard let text = try? String(contentsOf: dir.appendingPathComponent("jobs"), encoding: .utf8) else { continue }
            for (k, job) in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }).enumerated() where !job.isEmpty {
                guard let runs = try? SlurmSweepPlan.readTaskList(dir.appendingPathComponent("array-\(k).json")) else { continue }
                for (i, run) in runs.enumerated() {
                    let log = logs.appendingPathComponent("\(job)_\(i).out").path
                    if fm.fileExists(atPath: log) { found[run.runID] = ("\(job)_\(i)", log) }
                }
            }
        }
        return found
    }

    /// Writes `data` to a temporary file beside `url` and renames it over `url` (atomic on POSIX file
    /// systems, shared ones included), so a reader or a crash never sees half a file.
    static func writeAtomically(_ data: Data, to url: URL) throws {
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).\(UInt64.random(in: 0...UInt64.max)).tmp")
        try data.write(to: temporary)
        guard rename(temporary.path, url.path) == 0 else {
            let why = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "cannot move \(temporary.path) to \(url.path): \(why)"])
        }
    }

    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return e
    }

    static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}

/// What a results directory holds against what its sweeps asked for.
public struct SweepReport: Sendable {
    public struct Missing: Sendable, Equatable {
        public var settings: EpisodicSettings
        /// nil: never started (or started by a process that recorded nothing).
        public var status: RunStatus?
    }

    public var finished: [EpisodicResult]
    public var missing: [Missing]
    public var unreadable: [URL]
    public var expectedCount: Int

    /// Reads the directory: finished runs, and every expected run without a result, with its status.
    public init(_ results: ExperimentResults) throws {
        let (finished, unreadableRuns) = try results.load()
        let (expected, unreadableSweeps) = results.expectedRuns()
        let done = Set(finished.map(\.settings))
        self.finished = finished
        let slurmLogs = results.slurmTaskLogs()
        missing = expected.filter { !done.contains($0) }.map { settings in
            if let status = results.status(of: settings.runID) { return Missing(settings: settings, status: status) }
            // A Slurm task that wrote a log but no status ended before the run started: a failing
            // setup line, a missing library on the compute node, a wrong binary.
            if let task = slurmLogs[settings.runID] {
                return Missing(settings: settings, status: RunStatus(runID: settings.runID, state: .failed, host: "", pid: 0, slurmJob: task.job,
                                                                     log: task.log, error: "the Slurm task ended before the run started"))
            }
            return Missing(settings: settings, status: nil)
        }
        unreadable = unreadableRuns + unreadableSweeps
        expectedCount = expected.count
    }

    public var failed: [Missing] { missing.filter { $0.status?.state == .failed } }
    public var started: [Missing] { missing.filter { $0.status?.state == .started } }
    public var notStarted: [Missing] { missing.filter { $0.status == nil } }

    /// Finished and expected runs per success-table cell (the settings without the seed).
    public func cellCounts() -> [(cell: EpisodicSettings, finished: Int, expected: Int)] {
        func key(_ s: EpisodicSettings) -> EpisodicSettings { var k = s; k.seed = 0; return k }
        var counts: [EpisodicSettings: (Int, Int)] = [:], order: [EpisodicSettings] = []
        for s in finished.map(\.settings) + missing.map(\.settings) where counts[key(s)] == nil {
            counts[key(s)] = (0, 0)
            order.append(key(s))
        }
        for r in finished { counts[key(r.settings)]!.0 += 1; counts[key(r.settings)]!.1 += 1 }
        for m in missing { counts[key(m.settings)]!.1 += 1 }
        return order.map { ($0, counts[$0]!.0, counts[$0]!.1) }
    }

    /// A readable account of what is missing: counts, then one line per failed or started run with
    /// its log (at most `limit` lines of each kind).
    public func missingSummary(limit: Int = 50) -> String {
        var lines: [String] = []
        let total = max(expectedCount, finished.count)
        lines.append("\(finished.count) of \(total) runs finished; \(failed.count) failed, \(started.count) started but not finished (running, or killed), \(notStarted.count) not started")
        func describe(_ m: Missing) -> String {
            guard let s = m.status else { return "  \(m.settings.runID)" }
            var text = "  \(m.settings.runID)" + (s.host.isEmpty ? "" : " on \(s.host)")
            if let job = s.slurmJob { text += " (Slurm job \(job))" }
            if let e = s.error { text += ": \(e)" }
            text += " · log: \(s.log ?? "none (the sweep's own output)")"
            return text
        }
        for (title, group) in [("failed:", failed), ("started, not finished:", started), ("not started:", notStarted)] where !group.isEmpty {
            lines.append(title)
            lines += group.prefix(limit).map(describe)
            if group.count > limit { lines.append("  … and \(group.count - limit) more") }
        }
        return lines.joined(separator: "\n")
    }
}

/// A Slurm job array for the runs of a sweep that are missing: one array task per run, split into
/// several arrays when there are more runs than the cluster's `MaxArraySize` allows.
public struct SlurmSweepPlan: Sendable {
    public struct Options: Sendable, Equatable {
        /// The `pipps` binary the tasks run (on the cluster's shared file system).
        public var executable: String
        public var jobName = "pipps-learning"
        /// At most this many tasks of an array run at once (`--array=…%N`); nil: no limit.
        public var throttle: Int?
        public var cpusPerTask = 1
        /// `--time` (e.g. `2:00:00`).
        public var timeLimit = "4:00:00"
        public var partition: String?
        /// `--mem` (e.g. `4G`); nil: the cluster's default.
        public var memory: String?
        /// Further `#SBATCH` options, verbatim (e.g. `--account=robotics`).
        public var extraOptions: [String] = []
        /// Shell lines run before the task (e.g. `module load swift`).
        public var setup: [String] = []
        /// The cluster's `MaxArraySize` (array indices run from 0 to MaxArraySize − 1).
        public var maxArraySize = 1001

        public init(executable: String) { self.executable = executable }
    }

    /// One array: its task list file and its script.
    public struct Array: Sendable {
        public var runs: [EpisodicSettings]
        public var runsFile: URL
        public var script: URL
        public var scriptText: String
    }

    public let arrays: [Array]
    public let directory: URL

    /// Plans arrays for `runs` under `results/slurm/<submission>/`.
    ///
    /// - Throws: ``ExperimentError/invalid(_:)`` for options Slurm would refuse or a results path
    ///   that cannot appear in an `#SBATCH` line.
    public init(runs: [EpisodicSettings], results: ExperimentResults, submission: String, options: Options) throws {
        guard options.maxArraySize >= 1 else { throw ExperimentError.invalid("MaxArraySize must be at least 1") }
        guard options.cpusPerTask >= 1 else { throw ExperimentError.invalid("--cpus-per-task must be at least 1") }
        if let t = options.throttle, t < 1 { throw ExperimentError.invalid("--array-throttle must be at least 1") }
        let root = results.directory.standardizedFileURL.path
        guard root.hasPrefix("/"), !root.contains(where: { $0.isWhitespace || "%\"'\\$`".contains($0) }) else {
            throw ExperimentError.invalid("the results directory '\(root)' must be an absolute path without spaces, quotes, backslashes, '$', '`' or '%' to appear in #SBATCH lines")
        }
        guard options.timeLimit.range(of: #"^([0-9]+-)?[0-9]+(:[0-9]+){0,2}$"#, options: .regularExpression) != nil else {
            throw ExperimentError.invalid("--time-limit '\(options.timeLimit)' is not a Slurm time (minutes, HH:MM:SS or D-HH:MM:SS)")
        }
        for text in [options.jobName, options.partition ?? "", options.memory ?? ""] + options.extraOptions where text.contains("\n") {
            throw ExperimentError.invalid("a Slurm option contains a line break: '\(text)'")
        }
        directory = URL(fileURLWithPath: root).appendingPathComponent("slurm/\(submission)", isDirectory: true)
        let logs = URL(fileURLWithPath: root).appendingPathComponent("slurm/logs").path
        var arrays: [Array] = []
        var start = 0, index = 0
        while start < runs.count {
            let part = Swift.Array(runs[start..<min(start + options.maxArraySize, runs.count)])
            let runsFile = directory.appendingPathComponent("array-\(index).json")
            let script = directory.appendingPathComponent("array-\(index).sbatch")
            arrays.append(Array(runs: part, runsFile: runsFile, script: script,
                                scriptText: Self.script(count: part.count, runsFile: runsFile.path, results: root, logs: logs, options: options)))
            start += part.count
            index += 1
        }
        self.arrays = arrays
    }

    /// Writes every array's task list and script.
    public func write() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: directory.deletingLastPathComponent().appendingPathComponent("logs"), withIntermediateDirectories: true)
        for a in arrays {
            try ExperimentResults.writeAtomically(try ExperimentResults.encoder.encode(a.runs), to: a.runsFile)
            try ExperimentResults.writeAtomically(Data(a.scriptText.utf8), to: a.script)
            chmod(a.script.path, 0o755)
        }
    }

    /// The runs of a task list that ``write()`` wrote (`array-K.json`).
    public static func readTaskList(_ url: URL) throws -> [EpisodicSettings] {
        try ExperimentResults.decoder.decode([EpisodicSettings].self, from: Data(contentsOf: url))
    }

    static func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    static func script(count: Int, runsFile: String, results: String, logs: String, options: Options) -> String {
        var lines = ["#!/bin/bash",
                     "# One learning run per array task (pipps experiment learning --backend slurm). A task whose",
                     "# result is already in the results directory exits at once, so submitting this again only",
                     "# runs what is missing.",
                     "#SBATCH --job-name=\(options.jobName)",
                     "#SBATCH --array=0-\(count - 1)" + (options.throttle.map { "%\($0)" } ?? ""),
                     "#SBATCH --ntasks=1",
                     "#SBATCH --cpus-per-task=\(options.cpusPerTask)",
                     "#SBATCH --time=\(options.timeLimit)",
                     "#SBATCH --output=\(logs)/%A_%a.out",
                     "#SBATCH --chdir=\(results)"]
        if let p = options.partition { lines.append("#SBATCH --partition=\(p)") }
        if let m = options.memory { lines.append("#SBATCH --mem=\(m)") }
        lines += options.extraOptions.map { "#SBATCH \($0)" }
        lines.append("set -eo pipefail")
        if !options.setup.isEmpty { lines += ["# The set-up lines (module loads, environments) run without set -u: many such scripts use unset variables."] + options.setup }
        lines.append("set -u")
        lines += ["# One BLAS thread per core Slurm gives the task: repeatable numbers, no oversubscription.",
                  "export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1",
                  "export PIPPS_TASK_LOG=\"\(logs)/${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}.out\"",
                  "exec \(quote(options.executable)) experiment task --runs-file \(quote(runsFile)) --index \"$SLURM_ARRAY_TASK_ID\" -o \(quote(results))"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// The cluster's `MaxArraySize` from `scontrol show config` output; nil if it is not there.
    public static func maxArraySize(fromConfig text: String) -> Int? {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, parts[0] == "MaxArraySize", let n = Int(parts[1]) { return n }
        }
        return nil
    }
}
