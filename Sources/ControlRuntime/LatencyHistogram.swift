/// A histogram of durations in nanoseconds with log-linear buckets (exact below 64 ns, then 32
/// buckets per power of two: at most 1/32 ≈ 3% relative error), fixed size, so recording never
/// allocates. Percentiles are read off the buckets (a bucket's upper end, never above the exact
/// maximum, which is kept too).
public struct LatencyHistogram: Sendable, Equatable {
    static let bucketCount = 64 + 58 * 32
    private var counts: [UInt64]
    public private(set) var count: UInt64 = 0
    public private(set) var maximum: Int64 = 0

    public init() {
        counts = [UInt64](repeating: 0, count: Self.bucketCount)
    }

    static func index(_ value: UInt64) -> Int {
        if value < 64 { return Int(value) }
        let msb = 63 - value.leadingZeroBitCount
        let shift = msb - 5
        let top = Int(value >> UInt64(shift))
        return 64 + (shift - 1) * 32 + (top - 32)
    }

    static func upperBound(_ index: Int) -> UInt64 {
        if index < 64 { return UInt64(index) }
        let shift = (index - 64) / 32 + 1, top = UInt64((index - 64) % 32 + 32)
        return ((top + 1) << UInt64(shift)) - 1
    }

    /// Records one duration (negative ones count as 0).
    public mutating func record(_ nanoseconds: Int64) {
        let v = UInt64(max(nanoseconds, 0))
        counts[Self.index(v)] += 1
        count += 1
        if nanoseconds > maximum { maximum = nanoseconds }
    }

    /// The q-quantile (0 < q ≤ 1) in nanoseconds; 0 when empty.
    public func quantile(_ q: Double) -> Int64 {
        guard count > 0 else { return 0 }
        let rank = max(UInt64((q * Double(count)).rounded(.up)), 1)
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() where c > 0 {
            seen += c
            if seen >= rank { return min(Int64(Self.upperBound(i)), maximum) }
        }
        return maximum
    }
}
