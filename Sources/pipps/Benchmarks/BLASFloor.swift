import Foundation
import LinearAlgebra

/// The floor of a piece of work: the time its BLAS level-3 calls (counted by ``BLASFlops``) take
/// when each shape is timed alone, in this run, on this machine, with one BLAS thread; spread over
/// `cores` cores, as the work's own parallel parts spread them.
struct BLASFloor {
    /// Seconds per call, by shape, measured once per run.
    private(set) var secondsPerCall: [BLASFlops.Shape: Double] = [:]

    /// The floor of `calls` on one core and on `cores` cores (seconds).
    mutating func floor(_ calls: [BLASFlops.Shape: Int], cores: Int) -> (oneCore: Double, cores: Double) {
        var total = 0.0
        for (shape, count) in calls { total += Double(count) * time(shape) }
        return (total, total / Double(max(cores, 1)))
    }

    /// The rate (GFLOP/s) BLAS reached at `shape` in this run.
    mutating func gflops(_ shape: BLASFlops.Shape) -> Double { shape.flops / time(shape) / 1e9 }

    /// Median seconds per call of `shape` on random operands (each sample at least 5 ms of calls).
    mutating func time(_ shape: BLASFlops.Shape) -> Double {
        if let known = secondsPerCall[shape] { return known }
        var rng = SeededGenerator(seed: 7)
        let (m, n, k) = (shape.m, shape.n, shape.k)
        var c = Matrix.gaussian(rows: m, columns: n, using: &rng)
        let call: () -> Void
        switch shape.routine {
        case .gemm:
            let a = Matrix.gaussian(rows: m, columns: k, using: &rng), b = Matrix.gaussian(rows: k, columns: n, using: &rng)
            call = { Matrix.gemm(a, .none, b, into: &c) }
        case .symm:
            let a = Matrix.gaussian(rows: k, columns: k, using: &rng), b = Matrix.gaussian(rows: m, columns: n, using: &rng)
            call = { Matrix.symm(k == m ? .left : .right, a, b, into: &c) }
        case .trmm, .trsm:
            // Unit lower triangle with small entries: well conditioned, so solves stay finite.
            let t = Matrix(rows: k, columns: k) { i, j in i == j ? 1 : (i > j ? 0.01 * Double((i * 7 + j) % 5) : 0) }
            let side: Side = k == m ? .left : .right, trsm = shape.routine == .trsm
            call = { trsm ? Matrix.trsm(side, t, triangle: .lower, .none, &c) : Matrix.trmm(side, t, triangle: .lower, .none, &c) }
        }
        call()
        var perSample = 1
        while true {
            let s = BenchmarkSupport.seconds(warmup: 0, repetitions: 1) { for _ in 0..<perSample { call() } }[0]
            if s >= 0.005 || perSample >= 1 << 20 { break }
            perSample *= 2
        }
        let samples = BenchmarkSupport.seconds(warmup: 0, repetitions: 7) { for _ in 0..<perSample { call() } }
        blackHole(c)
        let seconds = BenchmarkSupport.median(samples) / Double(perSample)
        secondsPerCall[shape] = seconds
        return seconds
    }
}
