import Foundation
import Messages
import Policies
import Robots

/// Why a policy was refused for a robot.
public struct PolicyRefusal: Error, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// A deployed policy, ready for the control path: robot state in, saturated control out, with every
/// buffer allocated up front (nothing is allocated per step).
///
/// It computes the same control as `Policy.control(for:)` on the learning state (tested), but
/// directly on one state: the robot state becomes the learning state (``StateRepresentation``), then
/// the policy's input transform, the raw output z (RBF network or linear) and the saturation
/// `u_max (9 sin z + sin 3z) / 8`, clamped to ±u_max.
///
/// Not thread-safe: one instance belongs to the runtime's control thread.
public final class CompiledPolicy {
    public let version: UInt64
    public let kind: RobotKind
    /// The wire form it was built from.
    public let wire: Pipps_V1_Policy
    public let controlLimits: [Double]
    private let saturations: [Saturation]

    private enum Body {
        case rbf(basisCount: Int, centres: [Double], inverseWidthsSquared: [Double], weights: [Double])
        case linear(weights: [Double], bias: [Double])
    }

    private let representation: StateRepresentation
    private let plainIndices: [Int]
    private let angleIndices: [Int]
    private let inputDimension: Int
    private let body: Body
    private let learning: UnsafeMutableBufferPointer<Double>
    private let input: UnsafeMutableBufferPointer<Double>
    private let raw: UnsafeMutableBufferPointer<Double>

    /// Checks `wire` against a robot of `kind` whose controls may not exceed `robotLimits`.
    ///
    /// - Throws: ``PolicyRefusal`` naming what does not fit.
    public init(_ wire: Pipps_V1_Policy, kind: RobotKind, robotLimits: [Double]) throws {
        let policy: any Policy
        do { policy = try wire.makePolicy() } catch { throw PolicyRefusal("\(error)") }
        guard let policyKind = wire.robotKind.robotKind else { throw PolicyRefusal("the policy names no robot kind") }
        guard policyKind == kind else { throw PolicyRefusal("a \(policyKind.rawValue) policy cannot drive a \(kind.rawValue)") }
        let representation = StateRepresentation(kind)
        guard policy.stateDimension == representation.dimension else {
            throw PolicyRefusal("the policy takes \(policy.stateDimension) state values, a \(kind.rawValue) gives \(representation.dimension)")
        }
        guard policy.controlDimension == robotLimits.count else {
            throw PolicyRefusal("the policy gives \(policy.controlDimension) controls, the robot takes \(robotLimits.count)")
        }
        for (j, (limit, robotLimit)) in zip(policy.controlLimits, robotLimits).enumerated() where limit > robotLimit {
            throw PolicyRefusal("control \(j): the policy's limit \(limit) exceeds the robot's \(robotLimit)")
        }
        version = wire.version
        self.kind = kind
        self.wire = wire
        controlLimits = policy.controlLimits
        saturations = policy.controlLimits.map { Saturation(limit: $0) }
        self.representation = representation
        plainIndices = policy.transform.plainIndices
        angleIndices = policy.transform.angleIndices
        inputDimension = policy.transform.inputDimension
        switch policy {
        case let rbf as RBFPolicy:
            body = .rbf(basisCount: rbf.basisCount, centres: rbf.centres.storage,
                        inverseWidthsSquared: rbf.widths.map { 1 / ($0 * $0) }, weights: rbf.weights.storage)
        case let linear as LinearPolicy:
            body = .linear(weights: linear.weights.storage, bias: linear.bias)
        default:
            throw PolicyRefusal("no control path for \(type(of: policy))")
        }
        learning = .allocate(capacity: representation.dimension)
        learning.initialize(repeating: 0)
        input = .allocate(capacity: inputDimension)
        input.initialize(repeating: 0)
        raw = .allocate(capacity: controlLimits.count)
        raw.initialize(repeating: 0)
    }

    deinit {
        learning.deallocate()
        input.deallocate()
        raw.deallocate()
    }

    public var controlDimension: Int { controlLimits.count }

    /// Writes the saturated control for the robot state `state` (`kind.stateDimension` values) into
    /// `control` (`controlDimension` values). Returns `false` when the result is not finite (the
    /// caller then applies the safe control).
    public func control(state: UnsafeBufferPointer<Double>, into control: UnsafeMutableBufferPointer<Double>) -> Bool {
        precondition(state.count == kind.stateDimension && control.count == controlDimension, "CompiledPolicy: wrong buffer sizes")
        representation.learningState(from: state, into: learning)
        let plain = plainIndices.count
        // Index loops: `enumerated()` is not specialised in debug builds and then allocates.
        for k in 0..<plain { input[k] = learning[plainIndices[k]] }
        for k in 0..<angleIndices.count {
            let a = angleIndices[k]
            input[plain + 2 * k] = sin(learning[a])
            input[plain + 2 * k + 1] = cos(learning[a])
        }
        let e = inputDimension, m = controlDimension
        switch body {
        case let .rbf(b, centres, inverseWidthsSquared, weights):
            for u in 0..<m { raw[u] = 0 }
            for j in 0..<b {
                var q = 0.0
                for c in 0..<e {
                    let d = input[c] - centres[j * e + c]
                    q += d * d * inverseWidthsSquared[c]
                }
                let k = exp(-0.5 * q)
                for u in 0..<m { raw[u] += weights[j * m + u] * k }
            }
        case let .linear(weights, bias):
            for u in 0..<m {
                var z = bias[u]
                for c in 0..<e { z += weights[u * e + c] * input[c] }
                raw[u] = z
            }
        }
        var finite = true
        for u in 0..<m {
            let v = saturations[u].value(raw[u])
            control[u] = v
            finite = finite && v.isFinite
        }
        return finite
    }
}
