import LinearAlgebra

/// A Gaussian with diagonal covariance, e.g. an initial-state distribution.
public struct DiagonalGaussian: Sendable, Equatable, Codable {
    /// Mean, one value per dimension.
    public var mean: [Double]
    /// Standard deviations, one per dimension (≥ 0).
    public var standardDeviations: [Double]

    public init(mean: [Double], standardDeviations: [Double]) {
        precondition(mean.count == standardDeviations.count, "DiagonalGaussian: \(mean.count) means, \(standardDeviations.count) deviations")
        precondition(standardDeviations.allSatisfy { $0 >= 0 }, "DiagonalGaussian: negative standard deviation")
        self.mean = mean
        self.standardDeviations = standardDeviations
    }

    public var dimension: Int { mean.count }

    /// Variances, the diagonal of the covariance.
    public var variances: [Double] { standardDeviations.map { $0 * $0 } }

    /// One draw.
    public func sample(using rng: inout some RandomNumberGenerator) -> [Double] {
        zip(mean, standardDeviations).map { m, s in m + s * rng.nextGaussian() }
    }

    /// `count` draws as the rows of a `[count × dimension]` matrix.
    public func sample(_ count: Int, using rng: inout some RandomNumberGenerator) -> Matrix {
        var m = Matrix(rows: count, columns: dimension)
        for p in 0..<count {
            for d in 0..<dimension { m.storage[p * dimension + d] = mean[d] + standardDeviations[d] * rng.nextGaussian() }
        }
        return m
    }
}
