#if canImport(Glibc)
import CMalloc
#endif

/// Makes the C allocator keep freed memory for reuse instead of handing it back to the kernel.
///
/// A gradient evaluation allocates and frees matrices of a few hundred kilobytes to a megabyte
/// thousands of times (P×N parameter gradients, P×P importance weights, P×M kernels). With glibc's
/// defaults those blocks go back to the kernel (`munmap`, heap trimming) and every new one is
/// faulted in and zeroed again: measured with `pipps bench gradient --estimator tp --data 40
/// --horizon 40`, 191 ms per evaluation with the defaults against 93 ms with freed memory kept, and
/// 346k page faults per benchmark run against 11k. The
/// setting is process-wide, so executables call it once at start (`pipps` does); a library never
/// does on its own. It raises glibc's mmap threshold to its maximum (32 MiB; larger blocks are still
/// mapped and unmapped) and stops heap trimming; the process keeps the peak of its working set.
/// Returns false where it could not be set (not glibc).
@discardableResult
public func retainFreedMemory() -> Bool {
    #if canImport(Glibc)
    let mmap = mallopt(M_MMAP_THRESHOLD, 32 << 20)
    let trim = mallopt(M_TRIM_THRESHOLD, Int32.max)
    return mmap == 1 && trim == 1
    #else
    return false
    #endif
}
