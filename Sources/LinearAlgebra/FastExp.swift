import CFastMath
/// `exp(x)` for the kernel hot paths, about twice as fast as the C library's on this toolchain and
/// accurate to a few ulp (relative error below 1e-15, tested against `Foundation.exp`).
///
/// Range reduction x = k ln 2 + r with |r| ≤ ln 2 / 2 (ln 2 split in two so that k·ln2_hi is exact),
/// a degree-13 Taylor polynomial for e^r (truncation below 5e-18), and 2^k built from its exponent
/// bits. Inputs below −708 give e^−708 ≈ 3e−308 instead of a subnormal or zero, above 709 give
/// e^709; NaN gives NaN. For the squared-exponential kernel, whose arguments are ≤ 0, the floor is
/// far below anything that matters.
@inlinable
public func fastExp(_ x: Double) -> Double {
    if x.isNaN { return x }
    let y = min(max(x, -708.0), 709.0)
    // Round to nearest by adding and subtracting 1.5·2^52 (|y·log2 e| < 2^51): no call to rint.
    let k = (y * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0
    let r = (y - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
    var p = 1.0 / 6227020800
    p = p * r + 1.0 / 479001600
    p = p * r + 1.0 / 39916800
    p = p * r + 1.0 / 3628800
    p = p * r + 1.0 / 362880
    p = p * r + 1.0 / 40320
    p = p * r + 1.0 / 5040
    p = p * r + 1.0 / 720
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    // 2^k for k in [−1022, 1023].
    let ki = Int64(k)
    if ki < -1022 { return p * Double(bitPattern: UInt64(ki + 1022 + 1023) << 52) * 0x1p-1022 }
    return p * Double(bitPattern: UInt64(ki + 1023) << 52)
}

/// Replaces every element of `values` by e^x: ``fastExp(_:)``'s algorithm in C
/// (`Sources/CFastMath`), four lanes at a time with fused multiply-adds on CPUs with AVX2 and FMA
/// (within 4e-16 of the exact value), otherwise a portable loop equal to ``fastExp(_:)`` bit for
/// bit. ``fastExpKernel`` says which; `PIPPS_EXP_KERNEL=portable` forces the portable loop.
@inlinable
public func fastExpInPlace(_ values: UnsafeMutableBufferPointer<Double>) {
    guard let base = values.baseAddress else { return }
    pipps_exp_inplace(base, values.count)
}

/// The loop ``fastExpInPlace(_:)`` uses on this CPU: `avx2-fma` or `portable`.
public var fastExpKernel: String { String(cString: pipps_exp_kernel()) }

/// The portable loop whatever the CPU (for tests).
public func fastExpInPlacePortable(_ values: UnsafeMutableBufferPointer<Double>) {
    guard let base = values.baseAddress else { return }
    pipps_exp_inplace_portable(base, values.count)
}
