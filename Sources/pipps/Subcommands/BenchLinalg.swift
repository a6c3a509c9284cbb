import ArgumentParser
import Foundation
import LinearAlgebra

/// `pipps bench linalg`: GFLOP/s of a dgemm and of a Cholesky factorisation.
struct BenchLinalg: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linalg",
        abstract: "GFLOP/s of an N×N dgemm and an M×M Cholesky (OpenBLAS / LAPACK)."
    )

    @Option(help: "Order of the dgemm matrices.") var gemmSize = 1024
    @Option(help: "Order of the Cholesky matrix.") var choleskySize = 512
    @Option(help: "Timed repetitions of each (after one warm-up).") var repetitions = 10
    @Option(help: "OpenBLAS threads (pinned for repeatable numbers).") var threads = 1
    @Option(help: "Random seed for the matrices.") var seed: UInt64 = 1

    func validate() throws {
        guard gemmSize >= 1, choleskySize >= 1 else { throw ValidationError("sizes must be at least 1") }
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        BenchmarkSupport.warnIfDebug()
        BLASThreads.set(threads)
        var rng = SeededGenerator(seed: seed)

        let n = gemmSize
        let a = Matrix.gaussian(rows: n, columns: n, using: &rng)
        let b = Matrix.gaussian(rows: n, columns: n, using: &rng)
        var c = Matrix(rows: n, columns: n)
        let gemmSeconds = BenchmarkSupport.seconds(repetitions: repetitions) { Matrix.gemm(a, .none, b, .none, into: &c) }
        blackHole(c)

        let m = choleskySize
        let spd = Matrix.randomSPD(order: m, using: &rng)
        var failure: (any Error)?
        let cholSeconds = BenchmarkSupport.seconds(repetitions: repetitions) {
            do { blackHole(try Cholesky(spd)) } catch { failure = error }
        }
        if let failure { throw failure }

        func report(_ seconds: [Double], flops: Double) -> [String: Any] {
            let med = BenchmarkSupport.median(seconds)
            return [
                "median_seconds": med,
                "min_seconds": seconds.min()!,
                "gflops": flops / med / 1e9,
                "best_gflops": flops / seconds.min()! / 1e9,
                "repetitions": seconds.count,
            ]
        }
        var gemm = report(gemmSeconds, flops: 2 * pow(Double(n), 3))
        gemm["n"] = n
        var chol = report(cholSeconds, flops: pow(Double(m), 3) / 3)
        chol["n"] = m
        try BenchmarkSupport.printJSON([
            "benchmark": "linalg",
            "dgemm": gemm,
            "cholesky": chol,
            "environment": BenchmarkSupport.environment(),
        ])
    }
}
