import ArgumentParser
import Foundation
import GaussianProcess
import LinearAlgebra
import MomentMatching
import Policies
import PolicyGradient
import Robots

/// `pipps bench gradient`: seconds per policy-gradient evaluation on the cart-pole.
struct BenchGradient: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradient",
        abstract: "Time one policy-gradient evaluation (cart-pole, GP model, RBF policy) for one or all estimators."
    )

    @Option(help: "Estimator name (\(EstimatorSpec.names.joined(separator: ", ")), or pilco for moment matching) or 'all'.") var estimator = "all"
    @Option(help: "Particles P.") var particles = 300
    @Option(help: "Training points N of the GP model (from random trials).") var data = 480
    @Option(help: "Horizon T.") var horizon = 30
    @Option(help: "RBF basis functions B.") var basis = 50
    @Option(help: "Timed evaluations per estimator (after one warm-up), taken round-robin across estimators.") var repetitions = 5
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "A GP snapshot to use (written there first if missing), so that repeated runs skip training.") var model: String?

    func validate() throws {
        if estimator != "all" && estimator != "pilco" && EstimatorSpec(name: estimator) == nil {
            throw ValidationError("unknown estimator '\(estimator)'; choose one of \(EstimatorSpec.names.joined(separator: ", ")), pilco or all")
        }
        guard particles >= 2, data >= 2, horizon >= 1, basis >= 1, repetitions >= 1 else { throw ValidationError("sizes must be positive") }
    }

    func run() throws {
        BenchmarkSupport.warnIfDebug()
        BLASThreads.set(1)
        let task = Task.cartPoleSwingUp(noiseMultiplier: 1)
        let features = DynamicsFeatures(state: InputTransform(stateDimension: 4, angleIndices: [3]), controlDimension: 1)
        let trials = BenchGP.randomTrials(count: (data + 29) / 30, seed: seed)
        var (x, y) = features.dataset(trials)
        x = x.firstRows(data)
        y = y.firstRows(data)
        let gp: GaussianProcessModel
        if let path = model, FileManager.default.fileExists(atPath: path) {
            gp = try GaussianProcessModel.load(from: URL(fileURLWithPath: path))
        } else {
            gp = try GaussianProcessModel.train(inputs: x, targets: y).model
            if let path = model { try gp.save(to: URL(fileURLWithPath: path)) }
        }
        let dynamics = GPParticleDynamics(model: DynamicsModel(features: features, gp: gp))
        var rng = SeededGenerator(seed: seed &+ 11)
        let policy = RBFPolicy.random(transform: InputTransform(stateDimension: 4, angleIndices: [3]), controlLimits: [10],
                                      basisCount: basis, centreMean: [0, 0, 0, 0], centreStandardDeviations: [0.5, 0.5, 2, 1.5], using: &rng)
        let names = estimator == "all" ? ["rp", "rp-fs", "lr", "biw-lr", "rp-lr-avg", "tp", "gr", "partial:0.5", "mog:2:2", "pilco"] : [estimator]
        // Each method as one gradient evaluation; PILCO's is the analytic T-step moment-matching
        // gradient (it has no particles).
        let model = DynamicsModel(features: features, gp: gp)
        let evaluations: [() throws -> Void] = try names.map { name in
            if name == "pilco" {
                let predictor = try MomentMatchingPredictor(model: model, cost: task.cost, initialState: task.initialState, horizon: horizon)
                return { blackHole(try predictor.evaluate(policy: policy)) }
            }
            let est = ParticleGradientEstimator(spec: EstimatorSpec(name: name)!, dynamics: dynamics, cost: task.cost, initialState: task.initialState,
                                                particles: particles, horizon: horizon, seed: seed)
            return {
                var r = SeededGenerator(seed: seed &+ 12)
                blackHole(est.estimate(policy: policy, using: &r))
            }
        }
        for evaluate in evaluations { try evaluate() }
        // The BLAS level-3 calls of one evaluation of each method, by shape.
        let calls = try evaluations.map { evaluate in try BLASFlops.count { try evaluate() }.calls }
        // Round-robin over the estimators so that the machine's drift affects them all alike.
        var samples = [[Double]](repeating: [], count: names.count)
        for _ in 0..<repetitions {
            for (k, evaluate) in evaluations.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                try evaluate()
                samples[k].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
        }
        // Each shape timed alone, after the evaluations, in the same run: the floor of each method.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var floor = BLASFloor()
        var results: [[String: Any]] = []
        for (k, name) in names.enumerated() {
            let median = BenchmarkSupport.median(samples[k])
            let flops = BLASFlops.total(calls[k])
            let (oneCore, allCores) = floor.floor(calls[k], cores: cores)
            var row: [String: Any] = [
                "estimator": name, "median_seconds": median, "min_seconds": samples[k].min()!,
                "blas_gflop": flops / 1e9, "blas_gflops_achieved": flops / median / 1e9,
                "floor_seconds_one_core": oneCore, "floor_seconds": allCores, "time_over_floor": median / allCores,
            ]
            // The shapes that carry most of the flops, with the rate BLAS reached at each alone.
            let top = calls[k].sorted { $0.key.flops * Double($0.value) > $1.key.flops * Double($1.value) }.prefix(3)
            row["top_shapes"] = top.map { shape, count in
                ["shape": shape.description, "calls": count, "share": shape.flops * Double(count) / max(flops, 1),
                 "gflops_alone": floor.gflops(shape)] as [String: Any]
            }
            results.append(row)
        }
        var byName: [String: Double] = [:]
        for r in results { byName[r["estimator"] as! String] = r["median_seconds"] as? Double }
        var targets: [String: Any] = ["tp_under_s": 0.25, "rp_under_s": 0.2, "tp_over_rp_at_most": 1.5]
        if let tp = byName["tp"], let rp = byName["rp"] {
            targets["tp_over_rp"] = tp / rp
            targets["met"] = tp < 0.25 && rp < 0.2 && tp / rp <= 1.5
        }
        try BenchmarkSupport.printJSON([
            "benchmark": "gradient", "task": task.name, "particles": particles, "data": data, "horizon": horizon,
            "basis_functions": basis, "policy_parameters": policy.parameterCount, "model_support_points": gp.support.rows,
            "model_sparse": gp.isSparse, "results": results, "targets": targets, "cores": cores,
            "floor": "the evaluation's BLAS level-3 calls, each shape timed alone in this run with one BLAS thread, summed and divided by the cores",
            "peak_memory_mb": BenchmarkSupport.peakMemoryMB(), "environment": BenchmarkSupport.environment(),
        ])
    }
}
