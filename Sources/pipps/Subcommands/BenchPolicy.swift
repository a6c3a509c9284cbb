import ArgumentParser
import Foundation
import LinearAlgebra
import Policies

/// `pipps bench policy`: time to evaluate an RBF policy and its parameter Jacobian on a batch.
struct BenchPolicy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Time an RBF policy (value; value + state Jacobian; value + parameter Jacobian) on a batch of states."
    )

    @Option(help: "Basis functions B.") var basis = 50
    @Option(help: "Batch size P (particles).") var batch = 300
    @Option(help: "Timed repetitions (after warm-up).") var repetitions = 200
    @Option(help: "OpenBLAS threads.") var threads = 1
    @Option(help: "Random seed.") var seed: UInt64 = 1

    func validate() throws {
        guard basis >= 1, batch >= 1, repetitions >= 1, threads >= 1 else { throw ValidationError("all sizes must be at least 1") }
    }

    func run() throws {
        BenchmarkSupport.warnIfDebug()
        BLASThreads.set(threads)
        var rng = SeededGenerator(seed: seed)
        // The cart-pole policy of PIPPS: 4 states, the angle as (sin, cos), one force.
        let transform = InputTransform(stateDimension: 4, angleIndices: [3])
        let policy = RBFPolicy.random(transform: transform, controlLimits: [10], basisCount: basis,
                                      centreMean: [0, 0, 0, 0], centreStandardDeviations: [1, 1, 1, 2], using: &rng)
        let states = Matrix.gaussian(rows: batch, columns: 4, using: &rng)

        func time(_ derivatives: PolicyDerivatives) -> [String: Any] {
            let sorted = BenchmarkSupport.seconds(warmup: 10, repetitions: repetitions) {
                blackHole(policy.evaluate(states: states, derivatives: derivatives))
            }.map { $0 * 1e6 }.sorted()
            return ["median_us": BenchmarkSupport.quantile(sorted, 0.5), "p90_us": BenchmarkSupport.quantile(sorted, 0.9), "min_us": sorted[0]]
        }
        try BenchmarkSupport.printJSON([
            "benchmark": "policy",
            "policy": "rbf", "basis_functions": basis, "batch": batch, "state_dimension": 4, "input_dimension": 5,
            "parameters": policy.parameterCount, "repetitions": repetitions,
            "value": time([]),
            "value_and_state_jacobian": time(.state),
            "value_and_parameter_jacobian": time(.parameters),
            "environment": BenchmarkSupport.environment(),
        ])
    }
}
