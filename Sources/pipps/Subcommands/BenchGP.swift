import ArgumentParser
import Foundation
import GaussianProcess
import Learning
import LinearAlgebra
import Robots

/// `pipps bench gp`: GP training and batched prediction with derivatives on cart-pole data.
struct BenchGP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gp",
        abstract: "Time GP training (N = 300, 500) and prediction with derivatives (P = 300, N = 480) on cart-pole data."
    )

    @Option(help: "Query points P.") var particles = 300
    @Option(help: "Training points for the prediction benchmark.") var points = 480
    @Option(help: "Timed prediction repetitions.") var repetitions = 50
    @Option(help: "Train and predict the outputs on several threads (OpenBLAS stays at 1 thread).") var parallel = true
    @Option(help: "Random seed for the trials.") var seed: UInt64 = 1
    @Option(help: "Also time training at N = 300 and 500.") var training = true

    func validate() throws {
        guard particles >= 1, points >= 2, repetitions >= 1 else { throw ValidationError("sizes must be positive") }
    }

    func run() throws {
        BenchmarkSupport.warnIfDebug()
        BLASThreads.set(1)
        let features = DynamicsFeatures(state: InputTransform(stateDimension: 4, angleIndices: [3]), controlDimension: 1)
        let needed = max(points, 500)
        let trials = Self.randomTrials(count: (needed + 29) / 30, seed: seed)
        let (allX, allY) = features.dataset(trials)
        var options = GPModelOptions()
        options.parallel = parallel

        var trainingResults: [[String: Any]] = []
        for n in training ? [300, 500] : [] {
            let start = DispatchTime.now().uptimeNanoseconds
            let (model, reports) = try GaussianProcessModel.train(inputs: allX.firstRows(n), targets: allY.firstRows(n), options: options)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            trainingResults.append([
                "n": n, "outputs": 4, "inputs": 6, "seconds": seconds, "sparse": model.isSparse,
                "evaluations": reports.map(\.evaluations).reduce(0, +), "restarts_per_output": options.training.restarts,
            ])
        }

        // Prediction: the trained model on `points` transitions, queried at states near the data.
        let x = allX.firstRows(points), y = allY.firstRows(points)
        let (sparseModel, _) = try GaussianProcessModel.train(inputs: x, targets: y, options: options)
        let exactModel = try GaussianProcessModel(inputs: x, targets: y, hyperparameters: sparseModel.hyperparameters, parallel: parallel)
        var rng = SeededGenerator(seed: seed &+ 7)
        var queries = allX.firstRows(particles)
        for i in queries.storage.indices { queries.storage[i] += 0.05 * rng.nextGaussian() }

        let gemmRate = Self.dgemmRate()
        func timePrediction(_ model: GaussianProcessModel) -> [String: Any] {
            let samples = BenchmarkSupport.seconds(warmup: 3, repetitions: repetitions) {
                blackHole(model.predict(queries, derivatives: true))
            }.map { $0 * 1e3 }
            let m = Double(model.support.rows), p = Double(particles), e = 6.0, d = 4.0
            let flops = d * (2 * p * m * m + 6 * p * m * e + 2 * p * m)
            let median = BenchmarkSupport.median(samples)
            return [
                "support_points": model.support.rows, "sparse": model.isSparse,
                "median_ms": median, "min_ms": samples.min()!,
                "gflops": flops / (median / 1e3) / 1e9,
                "share_of_dgemm_rate": flops / (median / 1e3) / 1e9 / gemmRate,
                "target_ms": 6.0, "meets_target": median < 6.0,
            ]
        }
        try BenchmarkSupport.printJSON([
            "benchmark": "gp",
            "training": trainingResults,
            "prediction_with_derivatives": [
                "p": particles, "n": points, "outputs": 4, "inputs": 6, "parallel_outputs": parallel,
                "default_model": timePrediction(sparseModel),
                "exact_model": timePrediction(exactModel),
            ],
            "dgemm_1024_gflops_same_run": gemmRate,
            "environment": BenchmarkSupport.environment(),
        ])
    }

    /// Cart-pole trials with uniform random forces, as the learner's first data.
    static func randomTrials(count: Int, seed: UInt64) -> [ObservedTrial] {
        let task = Task.cartPoleSwingUp(noiseMultiplier: 1)
        return task.randomRollouts(count: count, seed: seed).map { ObservedTrial($0, task: task) }
    }

    /// GFLOP/s of a 1024×1024 dgemm on one thread, median of 5 (the reference rate).
    static func dgemmRate() -> Double {
        var rng = SeededGenerator(seed: 3)
        let a = Matrix.gaussian(rows: 1024, columns: 1024, using: &rng), b = Matrix.gaussian(rows: 1024, columns: 1024, using: &rng)
        var c = Matrix(rows: 1024, columns: 1024)
        let samples = BenchmarkSupport.seconds(repetitions: 5) { Matrix.gemm(a, .none, b, .none, into: &c) }
        blackHole(c)
        return 2 * pow(1024, 3) / BenchmarkSupport.median(samples) / 1e9
    }
}
