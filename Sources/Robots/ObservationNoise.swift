import Foundation

/// Additive Gaussian observation noise on the ODE state (PIPPS §4.2.1): the learner and the runtime
/// see `x + ε`, ε ~ N(0, k·diag(σ_base²)), never the true state.
public struct ObservationNoise: Sendable, Equatable, Codable {
    /// Base standard deviations σ_base, one per ODE state, in the state's units.
    public var baseStandardDeviations: [Double]
    /// The variance multiplier k (PIPPS uses k ∈ {1e-2, 1, 4, 9, 16}).
    public var multiplier: Double

    public init(baseStandardDeviations: [Double], multiplier: Double) {
        precondition(multiplier >= 0 && multiplier.isFinite, "ObservationNoise: multiplier must be ≥ 0, got \(multiplier)")
        self.baseStandardDeviations = baseStandardDeviations
        self.multiplier = multiplier
    }

    /// The effective standard deviations √k · σ_base.
    public var standardDeviations: [Double] { baseStandardDeviations.map { $0 * multiplier.squareRoot() } }

    /// A noisy observation of `state`.
    public func observe(_ state: [Double], using rng: inout some RandomNumberGenerator) -> [Double] {
        precondition(state.count == baseStandardDeviations.count, "ObservationNoise: state has \(state.count) values, expected \(baseStandardDeviations.count)")
        let scale = multiplier.squareRoot()
        return zip(state, baseStandardDeviations).map { x, s in x + scale * s * rng.nextGaussian() }
    }

    /// PIPPS's cart-pole base noise on `[x, ẋ, θ̇, θ]`: 0.01 m, 0.1 m/s, 10°/s, 1°.
    public static func cartPole(multiplier k: Double) -> ObservationNoise {
        ObservationNoise(baseStandardDeviations: [0.01, 0.1, 10 * .pi / 180, 1 * .pi / 180], multiplier: k)
    }

    /// The unicycle's low noise (PILCO's unicycle scenario): 0.01 on the five angular rates, 0.003 on
    /// positions and angles.
    public static func unicycle(multiplier k: Double) -> ObservationNoise {
        ObservationNoise(baseStandardDeviations: Array(repeating: 0.01, count: 5) + Array(repeating: 0.003, count: 7), multiplier: k)
    }
}
