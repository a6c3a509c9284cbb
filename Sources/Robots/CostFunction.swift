import Foundation
import LinearAlgebra

/// An immediate cost `c(s) ∈ [0, 1]` on the learning state (``StateRepresentation``), with its
/// gradient with respect to the state.
public protocol CostFunction: Sendable {
    /// Short name, e.g. `"angle"`.
    var name: String { get }
    /// Length of the learning state it takes.
    var stateDimension: Int { get }
    /// `c(s)`.
    func cost(_ s: [Double]) -> Double
    /// `c(s)` and `∂c/∂s` (`[stateDimension]`).
    func costAndGradient(_ s: [Double]) -> (cost: Double, gradient: [Double])
}

/// A saturating cost `c = 1 − exp(−q(s))` with `q ≥ 0`, the form of every cost in PIPPS and PILCO.
public protocol SaturatingCost: CostFunction {
    /// `q(s)`.
    func exponent(_ s: [Double]) -> Double
    /// `q(s)` and `∂q/∂s`.
    func exponentAndGradient(_ s: [Double]) -> (value: Double, gradient: [Double])
}

extension SaturatingCost {
    public func cost(_ s: [Double]) -> Double { 1 - exp(-exponent(s)) }

    public func costAndGradient(_ s: [Double]) -> (cost: Double, gradient: [Double]) {
        let (q, dq) = exponentAndGradient(s)
        let e = exp(-q)
        return (1 - e, dq.map { $0 * e })
    }
}

extension CostFunction {
    /// Costs of a batch of states, the rows of `states` `[P × D]`.
    public func costs(_ states: Matrix) -> [Double] {
        precondition(states.columns == stateDimension, "\(name) cost: states have \(states.columns) columns, expected \(stateDimension)")
        return (0..<states.rows).map { cost(states.row($0)) }
    }

    /// Costs `[P]` and gradients `[P × D]` of a batch of states.
    public func costsAndGradients(_ states: Matrix) -> (costs: [Double], gradients: Matrix) {
        precondition(states.columns == stateDimension, "\(name) cost: states have \(states.columns) columns, expected \(stateDimension)")
        var costs = [Double](repeating: 0, count: states.rows)
        var gradients = Matrix(rows: states.rows, columns: stateDimension)
        for p in 0..<states.rows {
            let (c, g) = costAndGradient(states.row(p))
            costs[p] = c
            for d in 0..<stateDimension { gradients.storage[p * stateDimension + d] = g[d] }
        }
        return (costs, gradients)
    }
}

/// PIPPS's cart-pole angle cost `c = 1 − exp(−(z − t)ᵀ Q (z − t))` on `z = [x, θ]`, target
/// `t = [0, π]`, `Q = diag(q_x, q_θ)` (default diag(1, 1)). The raw angle is used, so only the swing-up
/// to θ = +π is rewarded: there is one correct direction.
public struct CartPoleAngleCost: SaturatingCost, Equatable {
    public var positionWeight: Double
    public var angleWeight: Double

    public init(positionWeight: Double = 1, angleWeight: Double = 1) {
        self.positionWeight = positionWeight
        self.angleWeight = angleWeight
    }

    public var name: String { "angle" }
    public var stateDimension: Int { 4 }

    public func exponent(_ s: [Double]) -> Double {
        let x = s[0], e = s[3] - .pi
        return positionWeight * x * x + angleWeight * e * e
    }

    public func exponentAndGradient(_ s: [Double]) -> (value: Double, gradient: [Double]) {
        let x = s[0], e = s[3] - .pi
        return (positionWeight * x * x + angleWeight * e * e, [2 * positionWeight * x, 0, 0, 2 * angleWeight * e])
    }
}

/// PILCO's cart-pole tip cost `c = 1 − exp(−d²/(2w²))`, w = 0.25 m, with d the distance of the pole's
/// tip from its upright position over the centre: `d² = (x + l sin θ)² + l² (cos θ + 1)²`.
/// Either swing-up direction is rewarded.
public struct CartPoleTipCost: SaturatingCost, Equatable {
    /// Pole length l (m).
    public var poleLength: Double
    /// Width w (m).
    public var width: Double

    public init(poleLength: Double = 0.5, width: Double = 0.25) {
        self.poleLength = poleLength
        self.width = width
    }

    public var name: String { "tip" }
    public var stateDimension: Int { 4 }

    public func exponent(_ s: [Double]) -> Double { exponentAndGradient(s).value }

    public func exponentAndGradient(_ s: [Double]) -> (value: Double, gradient: [Double]) {
        let l = poleLength, w2 = width * width
        let sn = sin(s[3]), cs = cos(s[3])
        let dx = s[0] + l * sn, dy = l * (cs + 1)
        let q = (dx * dx + dy * dy) / (2 * w2)
        let dqdx = dx / w2
        let dqdth = (dx * l * cs - dy * l * sn) / w2
        return (q, [dqdx, 0, 0, dqdth])
    }
}

/// PILCO's unicycle cost (`scenarios/unicycle/loss_unicycle.m`), `c = 1 − exp(−½ d²/w²)` with w = 1 and
/// `d² = 8 Δz² + ½ (xc − r sin ψf)² + ½ (yc − (r + rw) sin θ)² + (φ / 4π)²`, where
/// `Δz = rw (cos θ − 1) + r (cos θ cos ψf − 1)` is how far the top of the unicycle has dropped from
/// upright, (xc, yc) the origin in the unicycle's frame, and rw = 0.22 m, r = 0.81 m the cost's wheel
/// radius and rod length. On the 10-value learning state.
public struct UnicycleCost: SaturatingCost, Equatable {
    public var wheelRadius: Double
    public var rodLength: Double
    public var width: Double

    public init(wheelRadius: Double = 0.22, rodLength: Double = 0.81, width: Double = 1) {
        self.wheelRadius = wheelRadius
        self.rodLength = rodLength
        self.width = width
    }

    public var name: String { "unicycle" }
    public var stateDimension: Int { 10 }

    public func exponent(_ s: [Double]) -> Double { exponentAndGradient(s).value }

    public func exponentAndGradient(_ s: [Double]) -> (value: Double, gradient: [Double]) {
        let rw = wheelRadius, r = rodLength, w2 = width * width
        let xc = s[5], yc = s[6], th = s[7], ph = s[8], pf = s[9]
        let st = sin(th), ct = cos(th), sf = sin(pf), cf = cos(pf)
        let dz = rw * (ct - 1) + r * (ct * cf - 1)
        let ex = xc - r * sf
        let ey = yc - (r + rw) * st
        let yawScale = 1 / (4 * Double.pi)
        let q = 0.5 * (8 * dz * dz + 0.5 * ex * ex + 0.5 * ey * ey + (ph * yawScale) * (ph * yawScale)) / w2
        let ddzdth = -rw * st - r * st * cf
        let ddzdpf = -r * ct * sf
        var g = [Double](repeating: 0, count: 10)
        g[5] = 0.5 * ex / w2
        g[6] = 0.5 * ey / w2
        g[7] = (8 * dz * ddzdth - 0.5 * ey * (r + rw) * ct) / w2
        g[8] = ph * yawScale * yawScale / w2
        g[9] = (8 * dz * ddzdpf - 0.5 * ex * r * cf) / w2
        return (q, g)
    }
}
