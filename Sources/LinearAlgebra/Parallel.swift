import Dispatch
import Foundation

/// `body(0) … body(count − 1)`, on several threads when `parallel` (each index runs on exactly one
/// thread and writes only its own slot, so the result never depends on how many threads ran).
///
/// For independent work items of similar size (one GP output each, say). Keep OpenBLAS at one thread
/// when using it (`BLASThreads.set(1)`), or the two thread pools fight over the cores.
public func parallelMap<T>(_ count: Int, parallel: Bool = true, _ body: @Sendable (Int) -> T) -> [T] {
    var slots = [T?](repeating: nil, count: count)
    slots.withUnsafeMutableBufferPointer { buffer in
        let out = SlotPointer(base: buffer.baseAddress!)
        if parallel && count > 1 && ProcessInfo.processInfo.activeProcessorCount > 1 {
            DispatchQueue.concurrentPerform(iterations: count) { out.base[$0] = body($0) }
        } else {
            for i in 0..<count { out.base[i] = body(i) }
        }
    }
    return slots.map { $0! }
}

/// The base of a buffer that several threads write disjoint slots of.
private struct SlotPointer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T?>
}
