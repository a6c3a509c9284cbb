import Foundation

/// PILCO's smooth saturation `u = u_max · (9 sin z + sin 3z) / 8` (PIPPS §4.2).
///
/// It maps any raw policy output `z` into `[−u_max, u_max]`, reaching the limits at `z = ±π/2`, and is
/// differentiable everywhere, so gradients flow through saturated controls.
public struct Saturation: Sendable, Equatable {
    /// The limit `u_max > 0`, in the control's units.
    public let limit: Double

    public init(limit: Double) {
        precondition(limit > 0 && limit.isFinite, "Saturation: limit must be positive, got \(limit)")
        self.limit = limit
    }

    /// `u(z)`. The expression is bounded by 1 in exact arithmetic but can exceed it by an ulp or two
    /// near its peaks (and for huge z, where sin loses precision), so the result is clamped: the
    /// limit is a hard guarantee to the robot. The derivative is 0 at the peaks, so the clamp does not
    /// disturb gradients.
    @inlinable public func value(_ z: Double) -> Double {
        min(max(limit * (9 * sin(z) + sin(3 * z)) / 8, -limit), limit)
    }

    /// `du/dz = u_max · (9 cos z + 3 cos 3z) / 8`.
    @inlinable public func derivative(_ z: Double) -> Double {
        limit * (9 * cos(z) + 3 * cos(3 * z)) / 8
    }
}
