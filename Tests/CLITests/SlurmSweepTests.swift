import Foundation
import Learning
import TestSupport
import Testing

/// `pipps experiment learning --backend slurm`, `pipps experiment task` and `pipps experiment collect`.
/// The first test runs a real single-node Slurm (scripts/slurm-local: munged, slurmctld and slurmd
/// on this machine, from Debian's slurm-wlm).
@Suite("Slurm sweeps", .serialized)
struct SlurmSweepTests {
    /// 2 methods × 2 seeds of tiny cart-pole balancing runs.
    static let sweep = ["experiment", "learning", "--tasks", "cartpole-balance", "--methods", "tp,rp", "--runs", "2", "--seed", "3",
                        "--particles", "10", "--evaluations", "3", "--learned-trials", "1", "--basis", "3", "--gp-iterations", "5",
                        "--evaluation-rollouts", "2", "--no-figures"]

    static func modificationDates(_ dir: URL) throws -> [String: Date] {
        let runs = dir.appendingPathComponent("runs")
        var dates: [String: Date] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: runs.path) where name.hasSuffix(".json") {
            dates[name] = try FileManager.default.attributesOfItem(atPath: runs.appendingPathComponent(name).path)[.modificationDate] as? Date
        }
        return dates
    }

    /// A CSV table without the columns that hold wall times (they differ between any two executions).
    static func withoutTimes(_ url: URL) throws -> [[Substring]] {
        let rows = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let timeColumns = Set(rows[0].indices.filter { rows[0][$0].hasSuffix("_seconds") })
        return rows.map { row in row.indices.filter { !timeColumns.contains($0) }.map { row[$0] } }
    }

    @Test("a sweep through a single-node Slurm: split arrays, resubmission runs nothing, the same tables as the local backend")
    func slurmSweepMatchesLocal() throws {
        let script = RepositoryPaths.root.appendingPathComponent("scripts/slurm-local").path
        // MaxArraySize 3: the 4-run sweep must be split into two arrays.
        let started = try runDaemonStarter(script, ["start", "--max-array-size", "3"])
        try #require(started.status == 0, "single-node Slurm did not start: \(started.output)")
        defer { _ = try? runProcess(script, ["stop"]) }

        let slurmDir = try RepositoryPaths.temporaryDirectory(prefix: "pipps-slurm")
        let localDir = try RepositoryPaths.temporaryDirectory(prefix: "pipps-local")
        defer {
            try? FileManager.default.removeItem(at: slurmDir)
            try? FileManager.default.removeItem(at: localDir)
        }
        let submitted = try pipps(Self.sweep + ["--backend", "slurm", "--array-throttle", "2", "--wait", "--wait-timeout", "600", "-o", slurmDir.path])
        try #require(submitted.status == 0, "\(submitted.output)")
        #expect(submitted.output.contains("4 of 4 runs to do: 2 job arrays (MaxArraySize 3)"), "\(submitted.output)")
        #expect(submitted.output.components(separatedBy: "submitted job ").count - 1 == 2)
        #expect(submitted.output.contains("4 of 4 runs finished; 0 failed"), "\(submitted.output)")
        let before = try Self.modificationDates(slurmDir)
        #expect(before.count == 4)
        // Every array task wrote its log where the task's status would point.
        let logs = try FileManager.default.contentsOfDirectory(atPath: slurmDir.appendingPathComponent("slurm/logs").path)
        #expect(logs.filter { $0.hasSuffix(".out") }.count == 4, "\(logs)")

        // Submitted again: nothing is missing, so nothing is submitted and no result is rewritten.
        let again = try pipps(Self.sweep + ["--backend", "slurm", "--wait", "--wait-timeout", "600", "-o", slurmDir.path])
        #expect(again.status == 0, "\(again.output)")
        #expect(again.output.contains("all 4 runs of this sweep have finished; nothing to submit"), "\(again.output)")
        #expect(!again.output.contains("submitted job"))
        #expect(try Self.modificationDates(slurmDir) == before)

        // The same sweep on this machine gives the same tables, value for value.
        let local = try pipps(Self.sweep + ["-o", localDir.path])
        try #require(local.status == 0, "\(local.output)")
        let collected = try pipps(["experiment", "collect", slurmDir.path, "--no-figures"])
        #expect(collected.status == 0 && collected.output.contains("4 of 4 runs finished"), "\(collected.output)")
        for table in ["learning_trials.csv", "learning_runs.csv", "learning_success.csv"] {
            let a = try Self.withoutTimes(slurmDir.appendingPathComponent(table))
            let b = try Self.withoutTimes(localDir.appendingPathComponent(table))
            #expect(a.count > 1 && a == b, "\(table) differs between the Slurm and the local backend")
        }
    }

    @Test("dry run: scripts split by MaxArraySize; a task skips a finished run; collect names missing, failed and killed runs with their logs")
    func dryRunTasksAndCollect() throws {
        let dir = try RepositoryPaths.temporaryDirectory(prefix: "pipps-dry")
        defer { try? FileManager.default.removeItem(at: dir) }
        let dry = try pipps(Self.sweep + ["--backend", "slurm", "--dry-run", "--max-array-size", "3", "--array-throttle", "1",
                                          "--time-limit", "0:30:00", "--setup", "module load swift", "--sbatch-option=--account=robotics", "-o", dir.path])
        try #require(dry.status == 0, "\(dry.output)")
        #expect(dry.output.contains("dry run: nothing submitted"))
        let submissions = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("slurm").path).filter { $0 != "logs" }
        try #require(submissions.count == 1)
        let submission = dir.appendingPathComponent("slurm").appendingPathComponent(submissions[0])
        let first = try String(contentsOf: submission.appendingPathComponent("array-0.sbatch"), encoding: .utf8)
        let second = try String(contentsOf: submission.appendingPathComponent("array-1.sbatch"), encoding: .utf8)
        for line in ["#SBATCH --array=0-2%1", "#SBATCH --time=0:30:00", "#SBATCH --account=robotics", "module load swift", "experiment task --runs-file"] {
            #expect(first.contains(line), "array-0.sbatch lacks '\(line)'")
        }
        #expect(second.contains("#SBATCH --array=0-0%1"))
        let firstRuns = try JSONDecoder().decode([EpisodicSettings].self, from: Data(contentsOf: submission.appendingPathComponent("array-0.json")))
        let secondRuns = try JSONDecoder().decode([EpisodicSettings].self, from: Data(contentsOf: submission.appendingPathComponent("array-1.json")))
        #expect(firstRuns.count == 3 && secondRuns.count == 1 && Set(firstRuns + secondRuns).count == 4)

        let none = try pipps(["experiment", "collect", dir.path, "--no-figures"])
        #expect(none.status == 0 && none.output.contains("0 of 4 runs finished; 0 failed, 0 started but not finished (running, or killed), 4 not started"), "\(none.output)")

        // A task runs its run; run again it exits at once without touching the result.
        let task = ["experiment", "task", "--runs-file", submission.appendingPathComponent("array-0.json").path, "--index", "1", "-o", dir.path]
        let ran = try pipps(task)
        try #require(ran.status == 0, "\(ran.output)")
        let before = try Self.modificationDates(dir)
        #expect(before.count == 1)
        let skipped = try pipps(task)
        #expect(skipped.status == 0 && skipped.output.contains("finished already"), "\(skipped.output)")
        #expect(try Self.modificationDates(dir) == before)
        let bad = try pipps(["experiment", "task", "--runs-file", submission.appendingPathComponent("array-0.json").path, "--index", "7", "-o", dir.path])
        #expect(bad.status != 0 && bad.output.contains("outside the task list"))

        // A task killed by SIGTERM (Slurm's time limit, scancel) is recorded as failed, with its log.
        var long = try JSONDecoder().decode([EpisodicSettings].self, from: Data(contentsOf: submission.appendingPathComponent("array-1.json")))
        long[0].evaluations = 100_000
        let longFile = dir.appendingPathComponent("long.json")
        try JSONEncoder().encode(long).write(to: longFile)
        let log = dir.appendingPathComponent("task.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = RepositoryPaths.root.appendingPathComponent(".build/debug/pipps")
        process.arguments = ["experiment", "task", "--runs-file", longFile.path, "--index", "0", "-o", dir.path]
        var environment = ProcessInfo.processInfo.environment
        environment["PIPPS_TASK_LOG"] = log.path
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = process.standardOutput
        try process.run()
        let results = ExperimentResults(directory: dir)
        let deadline = Date().addingTimeInterval(60)
        while results.status(of: long[0].runID)?.state != .started && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(results.status(of: long[0].runID)?.state == .started)
        Thread.sleep(forTimeInterval: 0.5)
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationStatus == 128 + SIGTERM)
        let killed = results.status(of: long[0].runID)
        #expect(killed?.state == .failed && killed?.error == "killed by SIGTERM (time limit or scancel)" && killed?.log == log.path)

        // The long run belongs to no sweep; a manifest that asks for it makes collect list it as failed.
        try results.saveManifest(SweepManifest(runs: long, backend: "slurm"))
        let report = try pipps(["experiment", "collect", dir.path, "--no-figures"])
        #expect(report.status == 0, "\(report.output)")
        #expect(report.output.contains("1 of 5 runs finished; 1 failed, 0 started but not finished (running, or killed), 3 not started"), "\(report.output)")
        #expect(report.output.contains("\(long[0].runID) on ") && report.output.contains("killed by SIGTERM") && report.output.contains("log: \(log.path)"))
        // Run 1 of array-0 is tp with the second seed: the tp cell has 1 of its 2 runs, rp none.
        #expect(report.output.contains("cartpole-balance tp k=1: 1 of 2 runs") && report.output.contains("cartpole-balance rp k=1: 0 of 2 runs"), "\(report.output)")

        // A Slurm task that left a log but never started its run (a failing set-up line, say) is
        // found through the submission's job ids and task lists and reported as failed with its log.
        try "99\n".write(to: submission.appendingPathComponent("jobs"), atomically: true, encoding: .utf8)
        let taskLog = dir.appendingPathComponent("slurm/logs/99_2.out")
        try FileManager.default.createDirectory(at: taskLog.deletingLastPathComponent(), withIntermediateDirectories: true)
        try "module: command not found\n".write(to: taskLog, atomically: true, encoding: .utf8)
        let withLog = try pipps(["experiment", "collect", dir.path, "--no-figures"])
        #expect(withLog.output.contains("1 of 5 runs finished; 2 failed, 0 started but not finished (running, or killed), 2 not started"), "\(withLog.output)")
        #expect(withLog.output.contains("\(firstRuns[2].runID) (Slurm job 99_2): the Slurm task ended before the run started · log: \(taskLog.path)"), "\(withLog.output)")
    }

    @Test func badSlurmArgumentsAreRefused() throws {
        let dir = try RepositoryPaths.temporaryDirectory(prefix: "pipps-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let backend = try pipps(Self.sweep + ["--backend", "pbs", "-o", dir.path])
        #expect(backend.status != 0 && backend.output.contains("--backend must be local or slurm"))
        let time = try pipps(Self.sweep + ["--backend", "slurm", "--dry-run", "--max-array-size", "3", "--time-limit", "soon", "-o", dir.path])
        #expect(time.status != 0 && time.output.contains("is not a Slurm time"), "\(time.output)")
        let spaced = try pipps(Self.sweep + ["--backend", "slurm", "--dry-run", "--max-array-size", "3", "-o", dir.appendingPathComponent("a b").path])
        #expect(spaced.status != 0 && spaced.output.contains("without spaces"), "\(spaced.output)")
        let nothing = try pipps(["experiment", "collect", dir.appendingPathComponent("absent").path])
        #expect(nothing.status != 0 && nothing.output.contains("holds no learning sweep"))
    }
}
