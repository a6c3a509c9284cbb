import Foundation
import LinearAlgebra

/// A radial-basis-function network policy (PIPPS §4.2.1, PILCO's `conGauss`):
/// `z_u(x̃) = Σ_b W_bu exp(−½ Σ_e (x̃_e − c_be)² / λ_e²)`, then `u = sat(z)`.
///
/// Parameters θ, flattened in this order: centres C `[B × E]` row-major, log length-scales
/// log λ (`E` values, or 1 when ``WidthMode/shared``), weights W `[B × U]` row-major.
public struct RBFPolicy: Policy, Equatable {
    /// One length-scale per input dimension (PILCO), or one shared by all.
    public enum WidthMode: String, Sendable, Codable {
        case perDimension, shared
    }

    public let transform: InputTransform
    public let controlLimits: [Double]
    public let widthMode: WidthMode
    /// B.
    public let basisCount: Int
    /// C `[B × E]`.
    public var centres: Matrix
    /// log λ, `[E]` or `[1]`.
    public var logWidths: [Double]
    /// W `[B × U]`.
    public var weights: Matrix

    public init(transform: InputTransform, controlLimits: [Double], centres: Matrix, logWidths: [Double], weights: Matrix, widthMode: WidthMode = .perDimension) {
        let e = transform.inputDimension
        precondition(centres.columns == e, "RBFPolicy: centres have \(centres.columns) columns, input dimension is \(e)")
        precondition(weights.rows == centres.rows && weights.columns == controlLimits.count, "RBFPolicy: weights must be \(centres.rows)×\(controlLimits.count)")
        precondition(logWidths.count == (widthMode == .shared ? 1 : e), "RBFPolicy: \(logWidths.count) widths for mode \(widthMode) and \(e) inputs")
        precondition(controlLimits.allSatisfy { $0 > 0 }, "RBFPolicy: control limits must be positive")
        self.transform = transform
        self.controlLimits = controlLimits
        self.widthMode = widthMode
        self.basisCount = centres.rows
        self.centres = centres
        self.logWidths = logWidths
        self.weights = weights
    }

    /// A policy with centres drawn from `centreDistribution` (a distribution over learning states,
    /// pushed through the transform), unit length-scales and small random weights (0.1 N(0, 1)), as
    /// PILCO initialises its RBF controller.
    public static func random(
        transform: InputTransform, controlLimits: [Double], basisCount: Int = 50,
        centreMean: [Double], centreStandardDeviations: [Double], widthMode: WidthMode = .perDimension,
        using rng: inout some RandomNumberGenerator
    ) -> RBFPolicy {
        precondition(centreMean.count == transform.stateDimension && centreStandardDeviations.count == transform.stateDimension, "RBFPolicy.random: distribution dimension")
        var states = Matrix(rows: basisCount, columns: transform.stateDimension)
        for b in 0..<basisCount {
            for d in 0..<transform.stateDimension {
                states[b, d] = centreMean[d] + centreStandardDeviations[d] * rng.nextGaussian()
            }
        }
        let centres = transform.apply(states)
        var weights = Matrix(rows: basisCount, columns: controlLimits.count)
        for i in weights.storage.indices { weights.storage[i] = 0.1 * rng.nextGaussian() }
        let widths = [Double](repeating: 0, count: widthMode == .shared ? 1 : transform.inputDimension)
        return RBFPolicy(transform: transform, controlLimits: controlLimits, centres: centres, logWidths: widths, weights: weights, widthMode: widthMode)
    }

    private var inputDimension: Int { transform.inputDimension }
    private var widthOffset: Int { basisCount * inputDimension }
    private var weightOffset: Int { widthOffset + logWidths.count }

    public var parameterCount: Int { weightOffset + basisCount * controlLimits.count }

    public var parameters: [Double] {
        get { centres.storage + logWidths + weights.storage }
        set {
            precondition(newValue.count == parameterCount, "RBFPolicy: \(newValue.count) parameters, expected \(parameterCount)")
            centres.storage = Array(newValue[0..<widthOffset])
            logWidths = Array(newValue[widthOffset..<weightOffset])
            weights.storage = Array(newValue[weightOffset...])
        }
    }

    /// The length-scales λ_e, one per input dimension.
    public var widths: [Double] {
        let w = logWidths.map { exp($0) }
        return widthMode == .shared ? Array(repeating: w[0], count: inputDimension) : w
    }

    public func rawEvaluate(inputs: Matrix, derivatives: PolicyDerivatives) -> (z: Matrix, inputJacobian: Matrix?, parameterJacobian: Matrix?) {
        let p = inputs.rows, e = inputDimension, b = basisCount, m = controlLimits.count, n = parameterCount
        precondition(inputs.columns == e, "RBFPolicy: inputs have \(inputs.columns) columns, expected \(e)")
        let inverseWidths = widths.map { 1 / $0 }
        let inverseSquared = inverseWidths.map { $0 * $0 }

        // Scaled inputs and centres, then squared distances as |x|² + |c|² − 2 x·c (one dgemm).
        var xs = inputs, cs = centres
        for i in 0..<p { for k in 0..<e { xs.storage[i * e + k] *= inverseWidths[k] } }
        for j in 0..<b { for k in 0..<e { cs.storage[j * e + k] *= inverseWidths[k] } }
        let xNorm = (0..<p).map { i in (0..<e).reduce(0.0) { $0 + xs.storage[i * e + $1] * xs.storage[i * e + $1] } }
        let cNorm = (0..<b).map { j in (0..<e).reduce(0.0) { $0 + cs.storage[j * e + $1] * cs.storage[j * e + $1] } }
        var k = Matrix(rows: p, columns: b)
        Matrix.gemm(xs, .none, cs, .transposed, alpha: -2, into: &k)
        k.storage.withUnsafeMutableBufferPointer { kk in
            for i in 0..<p { for j in 0..<b { kk[i * b + j] = -0.5 * max(0, kk[i * b + j] + xNorm[i] + cNorm[j]) } }
            fastExpInPlace(kk)
        }
        let z = k * weights

        var inputJacobian: Matrix?
        if derivatives.contains(.state) {
            // ∂z_u/∂x̃_e = −(x̃_e z_u − Σ_b K_b W_bu c_be) / λ_e²: one dgemm per output.
            var jac = Matrix(rows: p, columns: m * e)
            for u in 0..<m {
                var weighted = centres
                for j in 0..<b { for c in 0..<e { weighted.storage[j * e + c] *= weights.storage[j * m + u] } }
                let kc = k * weighted
                for i in 0..<p {
                    let zi = z.storage[i * m + u]
                    for c in 0..<e {
                        jac.storage[i * m * e + u * e + c] = -(inputs.storage[i * e + c] * zi - kc.storage[i * e + c]) * inverseSquared[c]
                    }
                }
            }
            inputJacobian = jac
        }

        var parameterJacobian: Matrix?
        if derivatives.contains(.parameters) {
            var jac = Matrix(rows: p, columns: m * n)
            let shared = widthMode == .shared
            let wOff = widthOffset, vOff = weightOffset
            jac.storage.withUnsafeMutableBufferPointer { jj in
                inputs.storage.withUnsafeBufferPointer { x in
                    centres.storage.withUnsafeBufferPointer { c in
                        k.storage.withUnsafeBufferPointer { kk in
                            weights.storage.withUnsafeBufferPointer { w in
                                for i in 0..<p {
                                    for u in 0..<m {
                                        let row = i * m * n + u * n
                                        for j in 0..<b {
                                            let kij = kk[i * b + j]
                                            jj[row + vOff + j * m + u] = kij
                                            let wk = w[j * m + u] * kij
                                            for q in 0..<e {
                                                let diff = x[i * e + q] - c[j * e + q]
                                                let g = wk * diff * inverseSquared[q]
                                                jj[row + j * e + q] = g
                                                jj[row + wOff + (shared ? 0 : q)] += g * diff
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            parameterJacobian = jac
        }
        return (z, inputJacobian, parameterJacobian)
    }
}
