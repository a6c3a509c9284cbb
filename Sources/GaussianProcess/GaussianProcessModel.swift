import Dispatch
import Foundation
import LinearAlgebra

/// Options of a multi-output GP model.
public struct GPModelOptions: Sendable, Equatable {
    public var training = GPTrainingOptions()
    /// Above this many training points the model switches to the sparse FITC approximation (PILCO:
    /// 300).
    public var sparseThreshold = 300
    /// Number of inducing inputs of the sparse model.
    public var inducingCount = 300
    /// Train and predict the outputs on several threads (results do not depend on it).
    public var parallel = true

    public init() {}
}

/// One GP per output dimension, all on the same inputs: `y_d = f_d(x) + ε_d`, f_d ~ GP(0, k_d),
/// ε_d ~ N(0, σn,d²).
///
/// Every output is reduced at construction to the same predictive form over a support set Z `[M × E]`:
/// mean `m(x) = k(x, Z) β` and model variance `σf²(x) = s² − k(x, Z) Q k(Z, x)`. For the exact GP,
/// Z = X, β = K⁻¹ y and Q = K⁻¹ (K with the noise). For the sparse FITC approximation (Snelson &
/// Ghahramani 2006), Z = the inducing inputs U, β = S⁻¹ K_UX Λ⁻¹ y and Q = K_UU⁻¹ − S⁻¹, with
/// Λ = diag(K_XX − K_XU K_UU⁻¹ K_UX) + σn² I and S = K_UU + K_UX Λ⁻¹ K_XU. Prediction is then one
/// `dgemm` of `[P × M]` by `[M × M]` per output (see ``predict(_:derivatives:)``).
public struct GaussianProcessModel: Sendable {
    /// Training inputs X `[N × E]` and targets Y `[N × D]`.
    public let inputs: Matrix
    public let targets: Matrix
    /// Hyperparameters per output.
    public let hyperparameters: [GPHyperparameters]
    /// The inducing inputs U `[M × E]` when the model is sparse.
    public let inducingInputs: Matrix?
    /// Jitter added per output when building the predictor (0 when none was needed).
    public let jitter: [Double]
    /// Whether prediction runs the outputs on several threads.
    public var parallel: Bool

    /// The support set Z of the predictive form (X, or U when sparse).
    public let support: Matrix
    let beta: [[Double]]
    let q: [Matrix]
    /// Per output, precomputed for prediction: the support divided by the length-scales, its rows'
    /// squared norms, and β ∘ Z (row m of Z times β_m).
    let scaledSupport: [Matrix]
    let scaledSupportNorms: [[Double]]
    let betaSupport: [Matrix]
    /// `[Z | 1]` `[M × (E + 1)]` and a vector of M ones: products with them give `C Z` and the row
    /// sums of C (``predict(_:derivatives:)``).
    let supportWithOnes: Matrix
    let supportOnes: [Double]

    /// β per output `[M]`: the predictive mean is `k(x, Z) β`.
    public var predictiveWeights: [[Double]] { beta }
    /// Q per output `[M × M]`: the model variance is `s² − k(x, Z) Q k(Z, x)`.
    public var predictiveVarianceMatrices: [Matrix] { q }

    public var inputDimension: Int { inputs.columns }
    public var outputDimension: Int { targets.columns }
    public var isSparse: Bool { inducingInputs != nil }

    /// Builds the predictor from trained hyperparameters.
    ///
    /// - Throws: ``LinearAlgebraError`` when a kernel matrix is not positive definite even with the
    ///   largest jitter (it does not happen with hyperparameters from ``train(inputs:targets:options:start:)``).
    public init(inputs: Matrix, targets: Matrix, hyperparameters: [GPHyperparameters], inducingInputs: Matrix? = nil, parallel: Bool = true) throws {
        precondition(inputs.rows == targets.rows, "GaussianProcessModel: \(inputs.rows) inputs, \(targets.rows) targets")
        precondition(hyperparameters.count == targets.columns, "GaussianProcessModel: \(hyperparameters.count) hyperparameter sets for \(targets.columns) outputs")
        precondition(hyperparameters.allSatisfy { $0.logLengthScales.count == inputs.columns }, "GaussianProcessModel: length-scales do not match \(inputs.columns) inputs")
        if let u = inducingInputs { precondition(u.columns == inputs.columns, "GaussianProcessModel: inducing inputs have \(u.columns) columns") }
        guard inputs.isFinite, targets.isFinite else { throw LinearAlgebraError.nonFinite(routine: "GaussianProcessModel") }
        self.inputs = inputs
        self.targets = targets
        self.hyperparameters = hyperparameters
        self.inducingInputs = inducingInputs
        self.parallel = parallel
        self.support = inducingInputs ?? inputs
        let results = parallelMap(targets.columns, parallel: parallel) { a in
            let y = targets.column(a)
            return Result {
                if let u = inducingInputs {
                    return try Self.fitc(x: inputs, y: y, u: u, h: hyperparameters[a])
                }
                return try Self.exact(x: inputs, y: y, h: hyperparameters[a])
            }
        }
        var beta: [[Double]] = [], q: [Matrix] = [], jitter: [Double] = []
        for r in results {
            let v = try r.get()
            beta.append(v.beta); q.append(v.q); jitter.append(v.jitter)
        }
        self.beta = beta
        self.q = q
        self.jitter = jitter
        let support = self.support
        scaledSupport = hyperparameters.map { scaledColumns(support, $0.logLengthScales.map { exp(-$0) }) }
        scaledSupportNorms = scaledSupport.map(rowSquaredNorms)
        let e = support.columns
        supportWithOnes = Matrix(rows: support.rows, columns: e + 1) { j, k in k < e ? support.storage[j * e + k] : 1 }
        supportOnes = [Double](repeating: 1, count: support.rows)
        betaSupport = beta.map { b in
            var z = support
            for j in 0..<z.rows { for k in 0..<z.columns { z.storage[j * z.columns + k] *= b[j] } }
            return z
        }
    }

    static func exact(x: Matrix, y: [Double], h: GPHyperparameters) throws -> (beta: [Double], q: Matrix, jitter: Double) {
        var k = seKernel(x, x, h)
        k.addToDiagonal(h.noiseVariance)
        let chol = try Cholesky(k, jitter: .standard)
        return (chol.solve(y), try chol.inverse(), chol.jitter)
    }

    static func fitc(x: Matrix, y: [Double], u: Matrix, h: GPHyperparameters) throws -> (beta: [Double], q: Matrix, jitter: Double) {
        let n = x.rows, m = u.rows
        var kuu = seKernel(u, u, h)
        kuu.addToDiagonal(1e-8 * h.signalVariance)  // the inducing kernel matrix has no noise of its own
        let cholU = try Cholesky(kuu, jitter: .standard)
        let kux = seKernel(u, x, h)                                   // [M × N]
        let v = cholU.solveLower(kux)                                 // L⁻¹ K_UX
        var lambda = [Double](repeating: 0, count: n)
        for j in 0..<n {
            var qnn = 0.0
            for i in 0..<m { qnn += v.storage[i * n + j] * v.storage[i * n + j] }
            lambda[j] = max(h.signalVariance - qnn, 0) + h.noiseVariance
        }
        var a = kux                                                   // K_UX Λ^{-1/2}
        for i in 0..<m { for j in 0..<n { a.storage[i * n + j] /= lambda[j].squareRoot() } }
        var s = kuu
        Matrix.gemm(a, .none, a, .transposed, beta: 1, into: &s)      // K_UU + K_UX Λ⁻¹ K_XU
        s.symmetrize()
        let cholS = try Cholesky(s, jitter: .standard)
        let weighted = Matrix(rows: n, columns: 1, storage: (0..<n).map { y[$0] / lambda[$0] })
        let beta = cholS.solve(kux * weighted).storage
        let q = try cholU.inverse() - cholS.inverse()
        return (beta, q, max(cholU.jitter, cholS.jitter))
    }
}
