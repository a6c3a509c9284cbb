import LinearAlgebra

/// Which derivatives a policy evaluation computes.
public struct PolicyDerivatives: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// ∂u/∂x, the Jacobian with respect to the (learning) state.
    public static let state = PolicyDerivatives(rawValue: 1)
    /// ∂u/∂θ, the Jacobian with respect to the parameters.
    public static let parameters = PolicyDerivatives(rawValue: 2)
    public static let all: PolicyDerivatives = [.state, .parameters]
}

/// A batch evaluation of a policy at P states.
public struct PolicyEvaluation: Sendable {
    /// Saturated controls u `[P × U]`.
    public var controls: Matrix
    /// Raw outputs z before the saturation `[P × U]`.
    public var rawOutputs: Matrix
    /// ∂u/∂x `[P × (U·D)]`: row p holds the U×D Jacobian at state p, row-major. Only on request.
    public var stateJacobian: Matrix?
    /// ∂u/∂θ `[P × (U·N)]`, N the parameter count: row p holds the U×N Jacobian, row-major.
    public var parameterJacobian: Matrix?

    public init(controls: Matrix, rawOutputs: Matrix, stateJacobian: Matrix? = nil, parameterJacobian: Matrix? = nil) {
        self.controls = controls
        self.rawOutputs = rawOutputs
        self.stateJacobian = stateJacobian
        self.parameterJacobian = parameterJacobian
    }
}

/// A deterministic policy `u = sat(z(x̃))` on the learning state, with a flat parameter vector θ.
///
/// Conformers implement the raw map `z(x̃)` on transformed inputs with its derivatives; the
/// transform, the saturation and the chain rules are shared here.
public protocol Policy: Sendable {
    /// How the learning state becomes the input x̃.
    var transform: InputTransform { get }
    /// u_max per control.
    var controlLimits: [Double] { get }
    /// Number of parameters N.
    var parameterCount: Int { get }
    /// θ, `[N]`; setting it replaces every parameter (same layout as ``parameterNames``).
    var parameters: [Double] { get set }

    /// z at each row of `inputs` `[P × E]`, and on request ∂z/∂x̃ `[P × (U·E)]` and ∂z/∂θ `[P × (U·N)]`.
    func rawEvaluate(inputs: Matrix, derivatives: PolicyDerivatives) -> (z: Matrix, inputJacobian: Matrix?, parameterJacobian: Matrix?)
}

extension Policy {
    /// D, the learning-state dimension.
    public var stateDimension: Int { transform.stateDimension }
    /// U.
    public var controlDimension: Int { controlLimits.count }

    /// Controls and, on request, their Jacobians at each row of `states` `[P × D]`.
    public func evaluate(states: Matrix, derivatives: PolicyDerivatives = []) -> PolicyEvaluation {
        precondition(states.columns == stateDimension, "Policy: states have \(states.columns) columns, expected \(stateDimension)")
        let inputs = transform.apply(states)
        let (z, dzdx, dzdtheta) = rawEvaluate(inputs: inputs, derivatives: derivatives)
        let p = states.rows, m = controlDimension
        var u = Matrix(rows: p, columns: m)
        var slope = [Double](repeating: 0, count: p * m)
        for j in 0..<m {
            let sat = Saturation(limit: controlLimits[j])
            for i in 0..<p {
                let zi = z.storage[i * m + j]
                u.storage[i * m + j] = sat.value(zi)
                slope[i * m + j] = sat.derivative(zi)
            }
        }
        var evaluation = PolicyEvaluation(controls: u, rawOutputs: z)
        if derivatives.contains(.state), var j = dzdx {
            scaleRows(&j, by: slope, outputs: m)
            evaluation.stateJacobian = transform.pullback(j, states: states, outputs: m)
        }
        if derivatives.contains(.parameters), var j = dzdtheta {
            scaleRows(&j, by: slope, outputs: m)
            evaluation.parameterJacobian = j
        }
        return evaluation
    }

    /// The control for one state.
    public func control(for state: [Double]) -> [Double] {
        evaluate(states: Matrix(rows: 1, columns: state.count, storage: state)).controls.storage
    }
}

/// Multiplies block (p, r) of a `[P × (m·K)]` Jacobian by `factors[p·m + r]` (the saturation slope).
private func scaleRows(_ j: inout Matrix, by factors: [Double], outputs m: Int) {
    let p = j.rows, k = j.columns / m
    j.storage.withUnsafeMutableBufferPointer { s in
        for i in 0..<p {
            for r in 0..<m {
                let f = factors[i * m + r], base = i * m * k + r * k
                for c in 0..<k { s[base + c] *= f }
            }
        }
    }
}
