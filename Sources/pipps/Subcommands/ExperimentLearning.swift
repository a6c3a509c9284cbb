import ArgumentParser
import Foundation
import Learning
import LinearAlgebra
import Robots

/// `pipps experiment learning`: PIPPS Tables 1 and 2 and Figure 4.
struct ExperimentLearning: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learning",
        abstract: "Episodic learning runs: success rates (95% Wilson intervals) and cost per trial (PIPPS Tables 1-2, Figure 4).",
        discussion: """
            Every combination of --tasks, --methods and --noise is run --runs times with seeds --seed, \
            --seed+1, …. Each finished run is saved as DIR/runs/<run>.json; a sweep started again skips \
            every run already saved, so an interrupted sweep resumes where it stopped. Tables: \
            learning_trials.csv (one row per run and trial), learning_runs.csv, learning_success.csv.

            --backend slurm submits the runs that are missing as Slurm job arrays instead (one array \
            task per run; see deploy/slurm/README.md); `pipps experiment collect DIR` makes the tables \
            of whatever has finished.
            """
    )

    @Option(help: "Comma-separated tasks: \(Task.names.joined(separator: ", ")).")
    var tasks = "cartpole-angle"

    @Option(help: "Comma-separated methods: \(LearningSettings.methodNames.joined(separator: ", ")), biw-lr, rp-lr-avg, partial:R, mog:K:M.")
    var methods = "tp"

    @Option(help: "Comma-separated observation noise multipliers k (σ² = k σ²_base; PIPPS: 0.01, 1, 4, 9, 16).")
    var noise = "1"

    @Option(help: "Runs per setting.")
    var runs = 1

    @Option(help: "Seed of the first run; run r uses seed + r.")
    var seed: UInt64 = 0

    @Option(help: "Runs at the same time (each uses the machine's cores too; 1 is best on 2 cores).")
    var jobs = 1

    @Option(help: "Particles per evaluation (PIPPS: 300).")
    var particles = 300

    @Option(help: "Policy evaluations per learned trial (PIPPS: 600).")
    var evaluations = 600

    @Option(help: "Random trials (default: the task's, 1 for the cart-pole, 5 for the unicycle).")
    var randomTrials: Int?

    @Option(help: "Learned trials (default: the task's, 15 for the cart-pole, 30 for the unicycle).")
    var learnedTrials: Int?

    @Option(help: "Evaluation rollouts per trial (PIPPS: 30).")
    var evaluationRollouts = 30

    @Option(help: "RBF basis functions of the cart-pole policy (PIPPS: 50).")
    var basis = 50

    @Option(help: "Step size α of the optimiser (PIPPS: 5e-4).")
    var learningRate = 5e-4

    @Option(help: "L-BFGS iterations of GP hyperparameter training per trial.")
    var gpIterations = 150

    @Option(name: .shortAndLong, help: "Results directory.")
    var output = "results/learning"

    @Flag(help: "Do not draw figures.")
    var noFigures = false

    @Option(help: "Where the runs execute: local (this machine, --jobs at once) or slurm (job arrays; see the Slurm options).")
    var backend = "local"

    @OptionGroup(title: "Slurm backend")
    var slurm: SlurmOptions

    func sweep() throws -> [EpisodicSettings] {
        let taskList = list(tasks), methodList = list(methods)
        let noiseList = try list(noise).map { text in
            guard let k = Double(text), k >= 0, k.isFinite else { throw ValidationError("--noise: '\(text)' is not a non-negative number") }
            return k
        }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        guard jobs >= 1 && jobs <= 64 else { throw ValidationError("--jobs must be between 1 and 64") }
        var all: [EpisodicSettings] = []
        for task in taskList {
            for k in noiseList {
                for method in methodList {
                    for r in 0..<runs {
                        var s = EpisodicSettings(task: task, method: method, noiseMultiplier: k, seed: seed &+ UInt64(r))
                        s.particles = particles
                        s.evaluations = evaluations
                        s.randomTrials = randomTrials
                        s.learnedTrials = learnedTrials
                        s.evaluationRollouts = evaluationRollouts
                        s.basisCount = basis
                        s.learningRate = learningRate
                        s.gpIterations = gpIterations
                        do { try s.validate() } catch { throw ValidationError("\(error)") }
                        all.append(s)
                    }
                }
            }
        }
        return all
    }

    func validate() throws {
        _ = try sweep()
        guard ["local", "slurm"].contains(backend) else { throw ValidationError("--backend must be local or slurm, got '\(backend)'") }
        if backend == "local" && (slurm.dryRun || slurm.wait) { throw ValidationError("--dry-run and --wait are for --backend slurm") }
    }

    func run() throws {
        let all = try sweep()
        let results = ExperimentResults(directory: URL(fileURLWithPath: output).standardizedFileURL)
        try results.prepare()
        if backend == "slurm" {
            try SlurmSubmitter(results: results, options: slurm).submit(all)
            guard slurm.wait else { return }
        } else {
            BLASThreads.set(1)  // our own threads run in parallel; BLAS threads would fight them (and change results)
            try results.saveManifest(SweepManifest(runs: all, backend: "local"))
            try SweepRunner(results: results, jobs: jobs).run(all)
        }
        try ExperimentCollect.report(results, figures: !noFigures)
    }

    func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// Success rates as a readable table.
func successSummary(_ results: [EpisodicResult]) -> String {
    func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count) }
    var lines = [pad("task", 18) + pad("k", 7) + pad("method", 14) + "runs  success  95% interval"]
    for c in ExperimentResults.cells(results) {
        let (lo, hi) = c.interval
        lines.append(pad(c.settings.task, 18) + pad(EpisodicSettings.format(c.settings.noiseMultiplier), 7) + pad(c.settings.method, 14)
                     + String(format: "%4d  %7.2f  [%.2f, %.2f]", c.runs, c.rate, lo, hi))
    }
    return lines.joined(separator: "\n")
}

/// Runs a list of learning runs on `jobs` workers, skipping those already saved.
struct SweepRunner: Sendable {
    let results: ExperimentResults
    let jobs: Int

    func run(_ all: [EpisodicSettings]) throws {
        let progress = SweepProgress(total: all.count, jobs: jobs)
        let queue = WorkQueue(all)
        let group = DispatchGroup()
        for job in 0..<jobs {
            let thread = Thread {
                while let settings = queue.next() {
                    if let r = results.result(for: settings) {
                        progress.runFinished(job: job, r, skipped: true)
                        continue
                    }
                    let started = RunStatus(runID: settings.runID, state: .started)
                    try? results.setStatus(started)
                    _ = runRecorded(settings, started: started, results: results, progress: progress, job: job)
                }
                group.leave()
            }
            thread.stackSize = 16 << 20
            group.enter()
            thread.start()
        }
        group.wait()
        progress.done()
    }
}

/// Runs one learning run whose `started` status is recorded: stores its result and clears the
/// status, or records the failure with its error. Returns whether the run finished.
func runRecorded(_ settings: EpisodicSettings, started: RunStatus, results: ExperimentResults, progress: SweepProgress, job: Int) -> Bool {
    do {
        let r = try EpisodicExperiment.run(settings) { p in progress.update(job: job, settings: settings, p) }
        try results.store(r)
        results.clearStatus(of: settings.runID)
        progress.runFinished(job: job, r)
        return true
    } catch {
        try? results.setStatus(started.failed("\(error)"))
        progress.runFailed(job: job, settings, error)
        return false
    }
}

/// A thread-safe queue of work items.
final class WorkQueue<Item: Sendable>: @unchecked Sendable {
    private var items: [Item]
    private var index = 0
    private let lock = NSLock()

    init(_ items: [Item]) { self.items = items }

    func next() -> Item? {
        lock.lock()
        defer { lock.unlock() }
        guard index < items.count else { return nil }
        defer { index += 1 }
        return items[index]
    }
}
