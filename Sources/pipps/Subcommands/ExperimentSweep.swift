import ArgumentParser
import Foundation
import Learning
import LinearAlgebra

/// Options of the Slurm backend of `pipps experiment learning`.
struct SlurmOptions: ParsableArguments {
    @Flag(help: "Slurm: write the job scripts and print the sbatch commands, but submit nothing.")
    var dryRun = false

    @Flag(help: "Slurm: wait until the submitted jobs end, then collect the results.")
    var wait = false

    @Option(help: "Slurm: at most this many tasks of each job array at once (--array=…%N; a sweep split into several arrays runs up to N per array).")
    var arrayThrottle: Int?

    @Option(help: "Slurm: CPUs per array task (each run uses one thread).")
    var cpusPerTask = 1

    @Option(help: "Slurm: time limit per run (minutes, HH:MM:SS or D-HH:MM:SS); a full paper-size run takes about an hour on one core.")
    var timeLimit = "4:00:00"

    @Option(help: "Slurm: partition.")
    var partition: String?

    @Option(help: "Slurm: memory per task (e.g. 4G).")
    var mem: String?

    @Option(help: "Slurm: a further #SBATCH option, verbatim (repeatable), e.g. --sbatch-option=--account=robotics.")
    var sbatchOption: [String] = []

    @Option(help: "Slurm: a shell line run before each task (repeatable), e.g. --setup 'module load swift'.")
    var setup: [String] = []

    @Option(help: "Slurm: the cluster's MaxArraySize (default: from `scontrol show config`); larger sweeps are split into several arrays.")
    var maxArraySize: Int?

    @Option(help: "Slurm: with --wait, give up waiting after this many seconds (the jobs go on; exit status 1).")
    var waitTimeout: Double?

    @Option(help: "Slurm: the pipps binary the tasks run (default: this one; it must be on the shared file system).")
    var pippsBinary: String?
}

/// Submits the missing runs of a sweep as Slurm job arrays.
struct SlurmSubmitter {
    let results: ExperimentResults
    let options: SlurmOptions

    func submit(_ all: [EpisodicSettings]) throws {
        try results.saveManifest(SweepManifest(runs: all, backend: "slurm"))
        let missing = all.filter { !results.hasResult($0) }
        guard !missing.isEmpty else {
            print("all \(all.count) runs of this sweep have finished; nothing to submit (pipps experiment collect \(results.directory.path) for the tables)")
            return
        }
        var plan = SlurmSweepPlan.Options(executable: try executable())
        plan.throttle = options.arrayThrottle
        plan.cpusPerTask = options.cpusPerTask
        plan.timeLimit = options.timeLimit
        plan.partition = options.partition
        plan.memory = options.mem
        plan.extraOptions = options.sbatchOption
        plan.setup = options.setup
        plan.maxArraySize = try options.maxArraySize ?? clusterMaxArraySize()
        let submission = Self.submissionName()
        let sweep = try SlurmSweepPlan(runs: missing, results: results, submission: submission, options: plan)
        try sweep.write()
        let skipped = all.count - missing.count
        print("\(missing.count) of \(all.count) runs to do\(skipped > 0 ? " (\(skipped) finished already)" : ""): \(sweep.arrays.count) job array\(sweep.arrays.count == 1 ? "" : "s") (MaxArraySize \(plan.maxArraySize)) in \(sweep.directory.path)")
        if options.dryRun {
            for a in sweep.arrays { print("sbatch \(a.script.path)    # \(a.runs.count) tasks") }
            print("dry run: nothing submitted")
            return
        }
        let sbatch = try Self.tool("sbatch")
        var jobs: [String] = []
        for a in sweep.arrays {
            let (status, output) = try runTool(sbatch, ["--parsable", a.script.path])
            guard status == 0, let id = output.split(separator: "\n").last.map({ String($0.split(separator: ";")[0]).trimmingCharacters(in: .whitespaces) }),
                  !id.isEmpty, id.allSatisfy(\.isNumber) else {
                let done = jobs.isEmpty ? "" : " (submitted before it: jobs \(jobs.joined(separator: ", ")))"
                throw ValidationError("sbatch \(a.script.path) failed with status \(status)\(done): \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            jobs.append(id)
            // Written after every submission, so that a later failure keeps the ids of those before it.
            try "\(jobs.joined(separator: "\n"))\n".write(to: sweep.directory.appendingPathComponent("jobs"), atomically: true, encoding: .utf8)
            print("submitted job \(id): \(a.runs.count) tasks (\(a.script.lastPathComponent))")
        }
        print("job ids: \(jobs.joined(separator: ","))")
        if options.wait {
            try waitFor(jobs, runs: missing)
        } else {
            print("follow with `squeue -j \(jobs.joined(separator: ","))`; when they end: pipps experiment collect \(results.directory.path)")
        }
    }

    /// Polls `squeue` until none of `jobs` is queued or running, showing how many runs have finished.
    func waitFor(_ jobs: [String], runs: [EpisodicSettings]) throws {
        let squeue = try Self.tool("squeue")
        let start = Date()
        var last = ""
        while true {
            let (status, output) = try runTool(squeue, ["-h", "-r", "-j", jobs.joined(separator: ","), "-o", "%i %T"])
            // squeue refuses job ids it has forgotten (all ended long ago): nothing left to wait for.
            // Any other failure (a busy controller timing out) is reported and retried.
            let forgotten = status != 0 && output.contains("Invalid job id")
            if status == 0 || forgotten {
                let active = forgotten ? 0 : output.split(separator: "\n").filter { !$0.isEmpty }.count
                let done = runs.filter { FileManager.default.fileExists(atPath: results.resultURL($0).path) }.count
                let line = "[\(SweepProgress.duration(Date().timeIntervalSince(start)))] \(done)/\(runs.count) runs finished, \(active) array task\(active == 1 ? "" : "s") queued or running"
                if line != last { FileHandle.standardError.write(Data((line + "\n").utf8)); last = line }
                if active == 0 { return }
            } else {
                FileHandle.standardError.write(Data("squeue failed (status \(status)): \(output.trimmingCharacters(in: .whitespacesAndNewlines)); trying again\n".utf8))
            }
            if let limit = options.waitTimeout, Date().timeIntervalSince(start) > limit {
                FileHandle.standardError.write(Data("gave up waiting after \(SweepProgress.duration(limit)); jobs \(jobs.joined(separator: ",")) go on (squeue -j \(jobs.joined(separator: ",")))\n".utf8))
                throw ExitCode.failure
            }
            Thread.sleep(forTimeInterval: status == 0 ? 3 : 10)
        }
    }

    func executable() throws -> String {
        if let path = options.pippsBinary {
            guard FileManager.default.isExecutableFile(atPath: path) else { throw ValidationError("--pipps-binary: \(path) is not an executable file") }
            return URL(fileURLWithPath: path).standardizedFileURL.path
        }
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }

    func clusterMaxArraySize() throws -> Int {
        guard let scontrol = try? Self.tool("scontrol") else {
            if options.dryRun { return 1001 }
            throw ValidationError("scontrol not found: is this a Slurm login node? (--max-array-size sets the limit; --dry-run writes the scripts only)")
        }
        let (status, output) = try runTool(scontrol, ["show", "config"])
        if status == 0, let n = SlurmSweepPlan.maxArraySize(fromConfig: output) { return n }
        if options.dryRun { return 1001 }
        throw ValidationError("cannot read MaxArraySize from `scontrol show config` (status \(status)): \(output.prefix(300)); pass --max-array-size")
    }

    /// A sortable name for one submission: UTC time and a random suffix.
    static func submissionName() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        return "\(f.string(from: Date()))-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    /// A program on PATH.
    static func tool(_ name: String) throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw ValidationError("\(name) not found on PATH: is this a Slurm login node? (--dry-run writes the job scripts without submitting)")
    }
}

/// Runs a program and returns its exit status and its output (stdout and stderr together).
func runTool(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// `pipps experiment task`: one run of a sweep, as a Slurm array task runs it.
struct ExperimentTask: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task",
        abstract: "Run one learning run of a sweep's task list (what each Slurm array task does).",
        discussion: """
            Reads run INDEX of --runs-file (written by `pipps experiment learning --backend slurm`) and \
            runs it into the results directory. Exits at once if its result is already there. While it \
            runs, DIR/status/<run>.json says where (host, Slurm job, log); a failure is recorded there \
            with its error, for `pipps experiment collect`.
            """
    )

    @Option(help: "The task list (JSON array of run settings).")
    var runsFile: String

    @Option(help: "Which run of the list (Slurm: $SLURM_ARRAY_TASK_ID).")
    var index: Int

    @Option(name: .shortAndLong, help: "Results directory.")
    var output: String

    func run() throws {
        guard FileManager.default.isReadableFile(atPath: runsFile) else { throw ValidationError("cannot read --runs-file \(runsFile)") }
        guard let runs = try? SlurmSweepPlan.readTaskList(URL(fileURLWithPath: runsFile)) else { throw ValidationError("--runs-file \(runsFile) is not a task list of run settings") }
        guard runs.indices.contains(index) else { throw ValidationError("--index \(index) is outside the task list (\(runs.count) runs)") }
        let settings = runs[index]
        do { try settings.validate() } catch { throw ValidationError("run \(index) of \(runsFile): \(error)") }
        let results = ExperimentResults(directory: URL(fileURLWithPath: output))
        try results.prepare()
        if results.hasResult(settings) {
            print("\(settings.runID): finished already (\(results.resultURL(settings).path)); nothing to do")
            return
        }
        let env = ProcessInfo.processInfo.environment
        let job = env["SLURM_ARRAY_JOB_ID"].flatMap { a in env["SLURM_ARRAY_TASK_ID"].map { "\(a)_\($0)" } } ?? env["SLURM_JOB_ID"]
        let started = RunStatus(runID: settings.runID, state: .started, slurmJob: job, log: env["PIPPS_TASK_LOG"])
        try results.setStatus(started)
        TaskTermination.watch(results: results, status: started)
        BLASThreads.set(1)
        let progress = SweepProgress(total: 1, jobs: 1, interactive: false)
        FileHandle.standardError.write(Data("\(settings.runID): started on \(started.host)\(job.map { " (Slurm job \($0))" } ?? "")\n".utf8))
        guard runRecorded(settings, started: started, results: results, progress: progress, job: 0) else { throw ExitCode.failure }
    }
}

/// Records a run killed by SIGTERM or SIGINT (Slurm's time limit, scancel, Ctrl-C) as failed before
/// the process ends.
enum TaskTermination {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    static func watch(results: ExperimentResults, status: RunStatus) {
        for (signo, name) in [(SIGTERM, "SIGTERM (time limit or scancel)"), (SIGINT, "SIGINT")] {
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
            source.setEventHandler {
                try? results.setStatus(status.failed("killed by \(name)"))
                FileHandle.standardError.write(Data("\(status.runID): killed by \(name)\n".utf8))
                _exit(128 + signo)
            }
            source.resume()
            sources.append(source)
        }
    }
}

/// `pipps experiment collect`: the tables and figures of whatever runs have finished.
struct ExperimentCollect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Tables and figures of a learning sweep's finished runs; says which runs are missing or failed, with their logs.",
        discussion: """
            Works on any results directory of `pipps experiment learning` (local or Slurm), at any time: \
            while runs go on, after some failed, or when all are done. Writes learning_trials.csv, \
            learning_runs.csv and learning_success.csv beside runs/.
            """
    )

    @Argument(help: "The results directory (-o of pipps experiment learning).")
    var directory: String

    @Flag(help: "Do not draw figures.")
    var noFigures = false

    func run() throws {
        let results = ExperimentResults(directory: URL(fileURLWithPath: directory))
        guard FileManager.default.fileExists(atPath: results.runsDirectory.path) || FileManager.default.fileExists(atPath: results.sweepsDirectory.path) else {
            throw ValidationError("\(directory) holds no learning sweep (no runs/ or sweeps/ in it)")
        }
        try Self.report(results, figures: !noFigures)
    }

    /// Writes the tables of `results`, prints the success table and what is missing, and draws the
    /// figures (`figures`) if any run finished.
    static func report(_ results: ExperimentResults, figures: Bool) throws {
        let report = try SweepReport(results)
        let urls = try results.writeTables(report.finished)
        for u in report.unreadable { FileHandle.standardError.write(Data("warning: cannot read \(u.path); it is ignored\n".utf8)) }
        print(successSummary(report.finished))
        let partial = report.cellCounts().filter { $0.finished < $0.expected }
        if !partial.isEmpty {
            print("cells still missing runs:")
            for c in partial { print("  \(c.cell.task) \(c.cell.method) k=\(EpisodicSettings.format(c.cell.noiseMultiplier)): \(c.finished) of \(c.expected) runs") }
        }
        print(report.missingSummary())
        print("tables: \(urls.map(\.path).joined(separator: ", "))")
        if figures && !report.finished.isEmpty { Figures.draw("learning", directory: results.directory) }
    }
}
