import Synchronization

/// Counts the floating-point operations of the BLAS level-3 calls made through ``Matrix``
/// (`gemm`, `symm`, `trmm`, `trsm`) while ``count(_:)`` runs, by call shape, so that a benchmark
/// can read its time against the rate BLAS reaches at the same shapes in the same run (its floor).
///
/// Counting is process-wide (the calls of every thread) and off by default; then each call pays
/// one relaxed atomic load. Flops per call: `gemm` 2·m·n·k; `symm` 2·m·n·(m or n, the order of the
/// symmetric matrix); `trmm` and `trsm` m·n·(m or n, the triangle's order).
public enum BLASFlops {
    /// A BLAS level-3 routine.
    public enum Routine: String, Sendable, Hashable, CaseIterable, Codable {
        case gemm, symm, trmm, trsm
    }

    /// The shape of one call: `[m × n]` result, inner dimension `k` (for `symm`, `trmm` and `trsm`
    /// the order of the square operand).
    public struct Shape: Hashable, Sendable, Codable, CustomStringConvertible {
        public var routine: Routine
        public var m: Int, n: Int, k: Int

        public init(_ routine: Routine, m: Int, n: Int, k: Int) {
            self.routine = routine
            self.m = m
            self.n = n
            self.k = k
        }

        /// Floating-point operations of one call of this shape.
        public var flops: Double {
            let (m, n, k) = (Double(m), Double(n), Double(k))
            switch routine {
            case .gemm, .symm: return 2 * m * n * k
            case .trmm, .trsm: return m * n * k
            }
        }

        public var description: String { "\(routine.rawValue) \(m)×\(n)×\(k)" }
    }

    private static let counting = Atomic<Bool>(false)
    private static let calls = Mutex<[Shape: Int]>([:])

    /// Runs `body` and returns what it returned and the number of BLAS level-3 calls it made, by
    /// shape. Not reentrant: one count at a time.
    public static func count<T>(_ body: () throws -> T) rethrows -> (result: T, calls: [Shape: Int]) {
        precondition(!counting.load(ordering: .acquiring), "BLASFlops.count: already counting")
        calls.withLock { $0 = [:] }
        counting.store(true, ordering: .releasing)
        defer { counting.store(false, ordering: .releasing) }
        let result = try body()
        counting.store(false, ordering: .releasing)
        return (result, calls.withLock { $0 })
    }

    /// The calls counted so far by the ``count(_:)`` running now (empty when none runs), for a
    /// caller that splits a long count into parts (per trial of a learning run, say).
    public static func snapshot() -> [Shape: Int] {
        calls.withLock { $0 }
    }

    /// The calls of `later` that `earlier` (a snapshot of the same count) had not yet made.
    public static func difference(_ later: [Shape: Int], _ earlier: [Shape: Int]) -> [Shape: Int] {
        var made: [Shape: Int] = [:]
        for (shape, n) in later where n > earlier[shape] ?? 0 { made[shape] = n - (earlier[shape] ?? 0) }
        return made
    }

    /// The total flops of counted calls.
    public static func total(_ calls: [Shape: Int]) -> Double {
        calls.reduce(0) { $0 + $1.key.flops * Double($1.value) }
    }

    @inline(__always)
    static func note(_ routine: Routine, m: Int, n: Int, k: Int) {
        guard counting.load(ordering: .relaxed) else { return }
        calls.withLock { $0[Shape(routine, m: m, n: n, k: k), default: 0] += 1 }
    }
}
