import LinearAlgebra

/// A linear policy `z = W x̃ + b`, `u = sat(z)` (PIPPS's unicycle controller, PILCO's `conlin`).
///
/// Parameters θ: W `[U × E]` row-major, then b `[U]`.
public struct LinearPolicy: Policy, Equatable {
    public let transform: InputTransform
    public let controlLimits: [Double]
    /// W `[U × E]`.
    public var weights: Matrix
    /// b `[U]`.
    public var bias: [Double]

    public init(transform: InputTransform, controlLimits: [Double], weights: Matrix, bias: [Double]) {
        precondition(weights.rows == controlLimits.count && weights.columns == transform.inputDimension, "LinearPolicy: weights must be \(controlLimits.count)×\(transform.inputDimension)")
        precondition(bias.count == controlLimits.count, "LinearPolicy: \(bias.count) biases for \(controlLimits.count) controls")
        precondition(controlLimits.allSatisfy { $0 > 0 }, "LinearPolicy: control limits must be positive")
        self.transform = transform
        self.controlLimits = controlLimits
        self.weights = weights
        self.bias = bias
    }

    /// Small random weights (0.01 N(0, 1), as PILCO's unicycle scenario) and zero bias.
    public static func random(transform: InputTransform, controlLimits: [Double], using rng: inout some RandomNumberGenerator) -> LinearPolicy {
        var w = Matrix(rows: controlLimits.count, columns: transform.inputDimension)
        for i in w.storage.indices { w.storage[i] = 0.01 * rng.nextGaussian() }
        return LinearPolicy(transform: transform, controlLimits: controlLimits, weights: w, bias: Array(repeating: 0, count: controlLimits.count))
    }

    public var parameterCount: Int { weights.storage.count + bias.count }

    public var parameters: [Double] {
        get { weights.storage + bias }
        set {
            precondition(newValue.count == parameterCount, "LinearPolicy: \(newValue.count) parameters, expected \(parameterCount)")
            weights.storage = Array(newValue[0..<weights.storage.count])
            bias = Array(newValue[weights.storage.count...])
        }
    }

    public func rawEvaluate(inputs: Matrix, derivatives: PolicyDerivatives) -> (z: Matrix, inputJacobian: Matrix?, parameterJacobian: Matrix?) {
        let p = inputs.rows, e = transform.inputDimension, m = controlLimits.count, n = parameterCount
        precondition(inputs.columns == e, "LinearPolicy: inputs have \(inputs.columns) columns, expected \(e)")
        var z = Matrix(rows: p, columns: m)
        for i in 0..<p { for u in 0..<m { z.storage[i * m + u] = bias[u] } }
        Matrix.gemm(inputs, .none, weights, .transposed, beta: 1, into: &z)
        var inputJacobian: Matrix?
        if derivatives.contains(.state) {
            var jac = Matrix(rows: p, columns: m * e)
            for i in 0..<p { for c in 0..<(m * e) { jac.storage[i * m * e + c] = weights.storage[c] } }
            inputJacobian = jac
        }
        var parameterJacobian: Matrix?
        if derivatives.contains(.parameters) {
            var jac = Matrix(rows: p, columns: m * n)
            for i in 0..<p {
                for u in 0..<m {
                    let row = i * m * n + u * n
                    for c in 0..<e { jac.storage[row + u * e + c] = inputs.storage[i * e + c] }
                    jac.storage[row + m * e + u] = 1
                }
            }
            parameterJacobian = jac
        }
        return (z, inputJacobian, parameterJacobian)
    }
}
