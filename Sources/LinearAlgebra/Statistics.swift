/// The mean and the sample variance (divided by n − 1) of `values`; the variance is 0 for fewer than
/// two values.
public func meanAndSampleVariance(_ values: [Double]) -> (mean: Double, variance: Double) {
    precondition(!values.isEmpty, "meanAndSampleVariance: no values")
    let mean = values.reduce(0, +) / Double(values.count)
    guard values.count > 1 else { return (mean, 0) }
    return (mean, values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1))
}
