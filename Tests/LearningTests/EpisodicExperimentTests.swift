import Foundation
import Learning
import Robots
import TestSupport
import Testing

@Suite("The episodic experiment")
struct EpisodicExperimentTests {
    /// A small balancing problem: cart-pole from near upright, 1 random and 6 learned trials, 50
    /// particles, 150 TP evaluations per trial at step size 0.005, a 10-basis RBF policy. Measured
    /// with these settings (`pipps experiment learning --tasks cartpole-balance --methods tp --particles
    /// 50 --evaluations 150 --basis 10 --learning-rate 0.005 --gp-iterations 50 --evaluation-rollouts 10
    /// --learned-trials 6`), with the AVX2 exponential: the final trial succeeds in 28 of 30 runs (seeds
    /// 100–129; the two failures never found a balancing policy) and in 18 of 20 (seeds 0–19; seeds 13
    /// and 19 fail, with final costs 0.315 and 0.217), the same 18 after the BLAS row sums of the GP
    /// variance. (The earlier budgets, 3 learned trials of 100 evaluations at 0.01, succeeded in only
    /// about two thirds of the seeds.)
    static func balancing(seed: UInt64) -> EpisodicSettings {
        var s = EpisodicSettings(task: "cartpole-balance", method: "tp", noiseMultiplier: 1, seed: seed)
        s.particles = 50
        s.evaluations = 150
        s.learnedTrials = 6
        s.basisCount = 10
        s.learningRate = 0.005
        s.gpIterations = 50
        s.evaluationRollouts = 10
        return s
    }

    /// Learning succeeds in about 93% of seeds, so one seed would make the test depend on the luck of
    /// that seed's random numbers (any change of the numerics at the ulp level redraws it). A second
    /// seed runs only when the first fails: the test fails when both do (about 0.5% of numerics).
    @Test("a short cart-pole balancing run learns to balance")
    func shortBalancingRunSucceeds() throws {
        var failures: [String] = []
        for seed: UInt64 in [0, 1] {
            let settings = Self.balancing(seed: seed)
            let finishedTrials = LockedCounter()
            let result = try EpisodicExperiment.run(settings) { p in if p.finished != nil { finishedTrials.increment() } }
            #expect(result.trials.count == 7 && finishedTrials.value == 7)
            #expect(result.trials.map(\.learned) == [false] + Array(repeating: true, count: 6))
            #expect(result.trials.first!.predictedReturn == nil && result.trials.last!.predictedReturn != nil)
            let random = result.trials[0], last = result.trials[6]
            // The random trial drops the pole (cost near 1 per step).
            #expect(random.finalCost > 0.8, "random trial final cost \(random.finalCost)")
            if result.success && last.success {
                // The learned policy holds it.
                #expect(last.evaluationCost < random.evaluationCost / 4, "return \(random.evaluationCost) → \(last.evaluationCost)")
                return
            }
            failures.append("seed \(seed): final cost \(last.finalCost), return \(last.evaluationCost)")
        }
        Issue.record("no balancing run succeeded: \(failures.joined(separator: "; "))")
    }

    @Test("the same settings give the same run; another seed a different one")
    func runsRepeat() throws {
        var s = Self.balancing(seed: 3)
        s.learnedTrials = 1
        s.evaluations = 4
        s.particles = 20
        let a = try EpisodicExperiment.run(s), b = try EpisodicExperiment.run(s)
        #expect(a.trials.map(\.evaluationCost) == b.trials.map(\.evaluationCost))
        #expect(a.finalParameters == b.finalParameters)
        s.seed = 4
        let c = try EpisodicExperiment.run(s)
        #expect(c.trials[0].observedCost != a.trials[0].observedCost)
    }

    @Test func badSettingsAreRefused() {
        #expect(throws: ExperimentError.unknownTask("pogo")) { try EpisodicSettings(task: "pogo", method: "tp").validate() }
        #expect(throws: LearningError.unknownMethod("sgd")) { try EpisodicSettings(task: "cartpole-angle", method: "sgd").validate() }
        var s = EpisodicSettings(task: "unicycle", method: "mog:4:2")
        s.particles = 30
        #expect(throws: ExperimentError.self) { try s.validate() }
        s = EpisodicSettings(task: "cartpole-tip", method: "tp", noiseMultiplier: -1)
        #expect(throws: ExperimentError.self) { try s.validate() }
    }

    @Test("run identifiers differ whenever a setting does")
    func runIDs() {
        let base = EpisodicSettings(task: "cartpole-angle", method: "tp+sn", noiseMultiplier: 0.01, seed: 2)
        #expect(base.runID == "cartpole-angle_tp~sn_k0.01_s2_P300_E600")
        var other = base
        other.learnedTrials = 3
        var third = base
        third.learningRate = 1e-3
        #expect(Set([base.runID, other.runID, third.runID]).count == 3)
    }
}

@Suite("Experiment results")
struct ExperimentResultsTests {
    @Test("Wilson intervals match published values")
    func wilson() {
        // Newcombe (1998), Table I: 0/10 → [0, 0.2775]; 10/10 → [0.7225, 1]; 5/10 by the formula.
        let none = wilsonInterval(successes: 0, trials: 10)
        #expect(none.low < 1e-12 && abs(none.high - 0.2775) < 5e-5)
        let all = wilsonInterval(successes: 10, trials: 10)
        #expect(abs(all.low - 0.7225) < 5e-5 && all.high > 1 - 1e-12)
        let half = wilsonInterval(successes: 5, trials: 10)
        #expect(abs(half.low - 0.2366) < 5e-5 && abs(half.high - 0.7634) < 5e-5)
        // Newcombe (1998), Table I: 81/263 → [0.2553, 0.3662].
        let example = wilsonInterval(successes: 81, trials: 263)
        #expect(abs(example.low - 0.2553) < 5e-5 && abs(example.high - 0.3662) < 5e-5)
    }

    static func fakeResult(method: String, seed: UInt64, success: Bool) -> EpisodicResult {
        let s = EpisodicSettings(task: "cartpole-angle", method: method, noiseMultiplier: 1, seed: seed)
        let t = TrialOutcome(trial: 1, learned: true, observedCost: 3, evaluationCost: 2.5, evaluationCostStandardError: 0.1, finalCost: success ? 0.1 : 0.9,
                             success: success, predictedReturn: 2, modelSeconds: 1, optimisationSeconds: 2)
        return EpisodicResult(settings: s, trials: [t], success: success, wallSeconds: 3, finalParameters: [1, 2])
    }

    @Test("finished runs are stored atomically, found again, and tabulated")
    func storeLoadAndTables() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let results = ExperimentResults(directory: dir)
        try results.prepare()
        let runs = [Self.fakeResult(method: "tp", seed: 0, success: true), Self.fakeResult(method: "tp", seed: 1, success: false),
                    Self.fakeResult(method: "lr", seed: 0, success: true)]
        for r in runs { try results.store(r) }
        #expect(runs.allSatisfy { results.hasResult($0.settings) })
        var missing = runs[0].settings
        missing.seed = 9
        #expect(!results.hasResult(missing))
        // A broken file is reported, not fatal; temporary files are ignored.
        try Data("{".utf8).write(to: results.runsDirectory.appendingPathComponent("broken.json"))
        try Data("{".utf8).write(to: results.runsDirectory.appendingPathComponent(".x.tmp"))
        let (loaded, unreadable) = try results.load()
        #expect(loaded.count == 3 && unreadable.map(\.lastPathComponent) == ["broken.json"])
        let cells = ExperimentResults.cells(loaded)
        #expect(cells.map { "\($0.settings.method) \($0.successes)/\($0.runs)" } == ["lr 1/1", "tp 1/2"])
        let success = ExperimentResults.successTable(loaded).split(separator: "\n")
        #expect(success[0].hasPrefix("task,method,noise,particles,"))
        #expect(success[2].hasPrefix("cartpole-angle,tp,1.0,300,600,1,15,30,50,0.0005,150,2,1,0.5,"))
        let trials = ExperimentResults.trialTable(loaded).split(separator: "\n")
        #expect(trials.count == 4 && trials[0].contains("seed") && trials[0].hasSuffix("optimisation_seconds"))
    }

    @Test("a sweep report counts finished, failed, started and never-started runs per manifest")
    func sweepReport() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let results = ExperimentResults(directory: dir)
        try results.prepare()
        let done = Self.fakeResult(method: "tp", seed: 0, success: true)
        try results.store(done)
        var failed = done.settings, running = done.settings, waiting = done.settings
        failed.seed = 1
        running.seed = 2
        waiting.seed = 3
        let manifest = SweepManifest(runs: [done.settings, failed, running, waiting], backend: "slurm")
        // The same sweep saved twice has one manifest; its identifier depends only on its runs.
        let url = try results.saveManifest(manifest)
        #expect(try results.saveManifest(SweepManifest(runs: manifest.runs, created: Date(timeIntervalSince1970: 0), backend: "local")) == url)
        try results.saveManifest(SweepManifest(runs: [done.settings], backend: "local"))
        try results.setStatus(RunStatus(runID: failed.runID, state: .failed, slurmJob: "7_1", log: "/logs/7_1.out", error: "boom"))
        try results.setStatus(RunStatus(runID: running.runID, state: .started))
        let report = try SweepReport(results)
        #expect(report.expectedCount == 4 && report.finished.count == 1)
        #expect(report.failed.map(\.settings) == [failed] && report.started.map(\.settings) == [running] && report.notStarted.map(\.settings) == [waiting])
        #expect(report.cellCounts().map { "\($0.finished)/\($0.expected)" } == ["1/4"])
        let text = report.missingSummary()
        #expect(text.hasPrefix("1 of 4 runs finished; 1 failed, 1 started but not finished (running, or killed), 1 not started"))
        #expect(text.contains("(Slurm job 7_1): boom · log: /logs/7_1.out"))
        results.clearStatus(of: failed.runID)
        #expect(results.status(of: failed.runID) == nil)
    }

    @Test("Slurm plans: arrays no larger than MaxArraySize, scripts that name their task lists")
    func slurmPlan() throws {
        let results = ExperimentResults(directory: URL(fileURLWithPath: "/shared/results"))
        let runs = (0..<7).map { Self.fakeResult(method: "tp", seed: UInt64($0), success: true).settings }
        var options = SlurmSweepPlan.Options(executable: "/opt/pipps/bin/pipps")
        options.maxArraySize = 3
        options.throttle = 2
        let plan = try SlurmSweepPlan(runs: runs, results: results, submission: "s1", options: options)
        #expect(plan.arrays.map(\.runs.count) == [3, 3, 1])
        #expect(plan.arrays.flatMap(\.runs) == runs)
        #expect(plan.arrays[2].scriptText.contains("#SBATCH --array=0-0%2\n"))
        #expect(plan.arrays[1].scriptText.contains("--runs-file '/shared/results/slurm/s1/array-1.json' --index \"$SLURM_ARRAY_TASK_ID\""))
        #expect(SlurmSweepPlan.maxArraySize(fromConfig: "MaxArrayJobs = 4\nMaxArraySize            = 40001\nMaxJobCount = 10000\n") == 40001)
        #expect(SlurmSweepPlan.maxArraySize(fromConfig: "nothing") == nil)
        options.maxArraySize = 0
        #expect(throws: ExperimentError.self) { try SlurmSweepPlan(runs: runs, results: results, submission: "s1", options: options) }
    }
}

/// A counter that a @Sendable progress callback can bump.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func increment() { lock.withLock { count += 1 } }
}
