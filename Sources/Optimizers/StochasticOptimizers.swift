/// An optimiser that takes noisy gradient estimates one at a time (policy search with particle
/// gradients).
public protocol StochasticOptimizer: Sendable {
    /// Updates `parameters` with one gradient estimate `g` of the objective to minimise and, when
    /// the estimator provides it, the variance of each coordinate of `g` (V[g], the variance of the
    /// estimate, not of single particles).
    mutating func step(_ parameters: inout [Double], gradient g: [Double], gradientVariance: [Double]?)
}

/// PIPPS's RMSprop-like SGD with momentum (§3.3). The batch is large, so E[g²] is estimated from it
/// directly, z = E[g]² + V[g], instead of by a running average:
/// `m ← γ m + g/√z`, `θ ← θ − α m`. Defaults α = 5e-4, γ = 0.9 (§4.2).
public struct MomentumRMSprop: StochasticOptimizer, Equatable {
    public var learningRate: Double
    public var momentum: Double
    /// Guards z = 0 (a coordinate with no gradient and no variance is left alone).
    public var epsilon: Double
    public private(set) var velocity: [Double] = []

    public init(learningRate: Double = 5e-4, momentum: Double = 0.9, epsilon: Double = 1e-300) {
        precondition(learningRate > 0 && (0..<1).contains(momentum), "MomentumRMSprop: α > 0 and γ in [0, 1)")
        self.learningRate = learningRate
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public mutating func step(_ parameters: inout [Double], gradient g: [Double], gradientVariance: [Double]?) {
        precondition(g.count == parameters.count, "MomentumRMSprop: \(g.count) gradients for \(parameters.count) parameters")
        if velocity.count != g.count { velocity = Array(repeating: 0, count: g.count) }
        for k in g.indices {
            let z = g[k] * g[k] + (gradientVariance?[k] ?? 0)
            let normalised = z > epsilon ? g[k] / z.squareRoot() : 0
            velocity[k] = momentum * velocity[k] + normalised
            parameters[k] -= learningRate * velocity[k]
        }
    }
}

/// Adam (Kingma & Ba 2015) with bias correction.
public struct Adam: StochasticOptimizer, Equatable {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public private(set) var firstMoment: [Double] = []
    public private(set) var secondMoment: [Double] = []
    public private(set) var steps = 0

    public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) {
        precondition(learningRate > 0 && (0..<1).contains(beta1) && (0..<1).contains(beta2) && epsilon > 0, "Adam: invalid settings")
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    public mutating func step(_ parameters: inout [Double], gradient g: [Double], gradientVariance: [Double]?) {
        precondition(g.count == parameters.count, "Adam: \(g.count) gradients for \(parameters.count) parameters")
        if firstMoment.count != g.count {
            firstMoment = Array(repeating: 0, count: g.count)
            secondMoment = firstMoment
            steps = 0
        }
        steps += 1
        let c1 = 1 - pow(beta1, Double(steps)), c2 = 1 - pow(beta2, Double(steps))
        for k in g.indices {
            firstMoment[k] = beta1 * firstMoment[k] + (1 - beta1) * g[k]
            secondMoment[k] = beta2 * secondMoment[k] + (1 - beta2) * g[k] * g[k]
            parameters[k] -= learningRate * (firstMoment[k] / c1) / ((secondMoment[k] / c2).squareRoot() + epsilon)
        }
    }
}

import Foundation
