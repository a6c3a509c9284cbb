import ArgumentParser
import Foundation
import Learning
import LinearAlgebra

/// `pipps bench learning`: the wall time of one whole learning run.
struct BenchLearning: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learning",
        abstract: "Time one full episodic learning run (default: cart-pole, 1 random + 15 learned trials, P = 300, 600 TP evaluations per trial).",
        discussion: "Prints JSON: the run's wall time, per-trial model and optimisation seconds, costs and success."
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
        let result = try EpisodicExperiment.run(s) { progress.update(job: 0, settings: s, $0) }
        progress.done()
        var report = BenchmarkSupport.environment()
        report["benchmark"] = "learning"
        report["settings"] = ["task": s.task, "method": s.method, "noise": s.noiseMultiplier, "seed": s.seed, "particles": s.particles,
                              "evaluations": s.evaluations, "random_trials": task.randomTrials, "learned_trials": task.learnedTrials] as [String: Any]
        report["wall_seconds"] = result.wallSeconds
        report["model_seconds"] = result.trials.map(\.modelSeconds).reduce(0, +)
        report["optimisation_seconds"] = result.trials.map(\.optimisationSeconds).reduce(0, +)
        report["success"] = result.success
        report["peak_memory_mb"] = BenchmarkSupport.peakMemoryMB()
        report["trials"] = result.trials.map { t in
            ["trial": t.trial, "learned": t.learned, "evaluation_cost": t.evaluationCost, "final_cost": t.finalCost, "success": t.success,
             "model_seconds": t.modelSeconds, "optimisation_seconds": t.optimisationSeconds] as [String: Any]
        }
        try BenchmarkSupport.printJSON(report)
    }
}
