import CBLAS

/// OpenBLAS's thread pool size.
///
/// Benchmarks and tests pin it (`OPENBLAS_NUM_THREADS`, or ``set(_:)``) so that results and timings
/// are repeatable: with several threads, the order of floating-point reductions in a product can
/// change the last bits of the result.
public enum BLASThreads {
    /// Sets the number of threads OpenBLAS uses for later calls.
    public static func set(_ count: Int) {
        precondition(count >= 1, "BLASThreads.set: \(count) threads")
        openblas_set_num_threads(Int32(count))
    }

    /// The number of threads OpenBLAS uses now.
    public static var current: Int { Int(openblas_get_num_threads()) }

    /// A short description of the BLAS build, e.g. for benchmark reports.
    public static var configuration: String {
        guard let c = openblas_get_config() else { return "OpenBLAS" }
        return String(cString: c)
    }
}
