import ArgumentParser
import Foundation
import Learning
import LinearAlgebra
import Synchronization

/// `pipps bench learning`: the wall time of one whole learning run.
struct BenchLearning: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learning",
        abstract: "Time one full episodic learning run (default: cart-pole, 1 random + 15 learned trials, P = 300, 600 TP evaluations per trial).",
        discussion: """
            Prints JSON: the run's wall time and its floor (the BLAS level-3 calls of every learned trial, \
            each shape timed alone in the same run with one BLAS thread, divided by the cores) with the \
            ratio; per trial the model and optimisation seconds, seconds per policy evaluation, its span \
            (learning, the trial, its evaluation rollouts), its floor and ratio, costs and success.
            """
    )

    @Option(help: "Task.") var task = "cartpole-angle"
    @Option(help: "Method.") var method = "tp"
    @Option(help: "Particles.") var particles = 300
    @Option(help: "Policy evaluations per learned trial.") var evaluations = 600
    @Option(help: "Learned trials (default: the task's).") var learnedTrials: Int?
    @Option(help: "Observation noise multiplier k.") var noise = 1.0
    @Option(help: "Seed.") var seed: UInt64 = 0

    func settings() throws -> EpisodicSettings {
        var s = EpisodicSettings(task: task, method: method, noiseMultiplier: noise, seed: seed)
        s.particles = particles
        s.evaluations = evaluations
        s.learnedTrials = learnedTrials
        do { try s.validate() } catch { throw ValidationError("\(error)") }
        return s
    }

    func validate() throws { _ = try settings() }

    func run() throws {
        BenchmarkSupport.warnIfDebug()
        BLASThreads.set(1)
        let s = try settings()
        let progress = SweepProgress(total: 1, jobs: 1)
        let task = try s.makeTask()
        // Each trial's span (its learning round, then the trial and its evaluation rollouts), cut at
        // the trials' ends: its wall seconds and its BLAS calls.
        struct Split { var calls: [Int: [BLASFlops.Shape: Int]] = [:], seconds: [Int: Double] = [:]
                       var last: [BLASFlops.Shape: Int] = [:], lastTime = DispatchTime.now().uptimeNanoseconds }
        let splits = Mutex(Split())
        let result = try BLASFlops.count {
            try EpisodicExperiment.run(s) { p in
                progress.update(job: 0, settings: s, p)
                guard let finished = p.finished else { return }
                let now = BLASFlops.snapshot(), time = DispatchTime.now().uptimeNanoseconds
                splits.withLock {
                    $0.calls[finished.trial] = BLASFlops.difference(now, $0.last)
                    $0.seconds[finished.trial] = Double(time - $0.lastTime) / 1e9
                    $0.last = now
                    $0.lastTime = time
                }
            }
        }.result
        let (perTrial, spans) = splits.withLock { ($0.calls, $0.seconds) }
        progress.done()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var floor = BLASFloor()
        var report = BenchmarkSupport.environment()
        report["benchmark"] = "learning"
        report["settings"] = ["task": s.task, "method": s.method, "noise": s.noiseMultiplier, "seed": s.seed, "particles": s.particles,
                              "evaluations": s.evaluations, "random_trials": task.randomTrials, "learned_trials": task.learnedTrials] as [String: Any]
        report["wall_seconds"] = result.wallSeconds
        report["model_seconds"] = result.trials.map(\.modelSeconds).reduce(0, +)
        report["optimisation_seconds"] = result.trials.map(\.optimisationSeconds).reduce(0, +)
        report["success"] = result.success
        report["peak_memory_mb"] = BenchmarkSupport.peakMemoryMB()
        var floorTotal = 0.0
        report["trials"] = result.trials.map { t in
            var row: [String: Any] = [
                "trial": t.trial, "learned": t.learned, "evaluation_cost": t.evaluationCost, "final_cost": t.finalCost, "success": t.success,
                "model_seconds": t.modelSeconds, "optimisation_seconds": t.optimisationSeconds,
            ]
            if t.learned {
                let calls = perTrial[t.trial] ?? [:]
                let trialFloor = floor.floor(calls, cores: cores).cores
                floorTotal += trialFloor
                row["seconds_per_evaluation"] = t.optimisationSeconds / Double(s.evaluations)
                row["blas_gflop"] = BLASFlops.total(calls) / 1e9
                row["floor_seconds"] = trialFloor
                row["span_seconds"] = spans[t.trial] ?? 0
                row["time_over_floor"] = (spans[t.trial] ?? 0) / trialFloor
            }
            return row
        }
        // The floor of the run: each learned trial's BLAS calls (model training, policy evaluations,
        // the trial and its evaluation rollouts), each shape timed alone in this run with one BLAS
        // thread, divided by the cores.
        report["floor_seconds"] = floorTotal
        report["cores"] = cores
        report["time_over_floor"] = result.wallSeconds / floorTotal
        try BenchmarkSupport.printJSON(report)
    }
}
