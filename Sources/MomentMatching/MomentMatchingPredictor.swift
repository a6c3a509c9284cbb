import Foundation
import GaussianProcess
import LinearAlgebra
import Policies
import Robots

/// Errors of a moment-matching set-up.
public enum MomentMatchingError: Error, Equatable, CustomStringConvertible {
    case unsupportedCost(String)
    case dimensionMismatch(String)
    /// The predicted state distribution stopped being finite (a policy far out of range).
    case nonFinite

    public var description: String {
        switch self {
        case .unsupportedCost(let name):
            "moment matching: the cost '\(name)' has no closed-form expectation under a Gaussian state (it must conform to GaussianExpectableCost)"
        case .dimensionMismatch(let what):
            "moment matching: \(what)"
        case .nonFinite:
            "moment matching: the predicted state distribution is no longer finite"
        }
    }
}

/// PILCO's analytic trajectory prediction and policy evaluation (PIPPS Algorithm 1, §2.4.2).
///
/// Per step, a joint Gaussian is built over
/// `[x (D) | sin, cos of each angle | z (policy's raw output) | u = sat(z) | Δ (GP)]`,
/// each block moment-matched exactly from the blocks before it, with cross-covariances through
/// the expected Jacobians (``MomentOutput``); then `x' = x + Δ`, and the expected cost of x' is
/// summed. The gradient of `J = Σ_{t=1}^T E[c(x_t)]` with respect to the policy parameters is
/// reverse mode through the same pieces (hand-derived backward passes, checked against finite
/// differences in the tests).
public struct MomentMatchingPredictor: Sendable {
    public let model: DynamicsModel
    public let cost: GaussianCostForm
    public let initialState: Gaussian
    public let horizon: Int
    /// Run independent output pairs of the GP on several threads.
    public var parallel = true

    public init(model: DynamicsModel, cost: any CostFunction, initialState: DiagonalGaussian, horizon: Int) throws {
        guard let expectable = cost as? any GaussianExpectableCost else { throw MomentMatchingError.unsupportedCost(cost.name) }
        let d = model.features.stateDimension
        guard initialState.dimension == d, cost.stateDimension == d else {
            throw MomentMatchingError.dimensionMismatch("model state \(d), initial state \(initialState.dimension), cost \(cost.stateDimension)")
        }
        precondition(horizon >= 1, "MomentMatchingPredictor: horizon must be at least 1")
        self.model = model
        self.cost = expectable.gaussianForm
        self.initialState = Gaussian(mean: initialState.mean, covariance: .diagonal(initialState.variances))
        self.horizon = horizon
    }

    /// The result of one prediction.
    public struct Evaluation: Sendable {
        /// J = Σ_{t=1}^T E[c(x_t)].
        public var value: Double
        /// dJ/dθ in ``RBFPolicy/parameters`` order; nil when not requested.
        public var gradient: [Double]?
        /// The predicted state distributions x_0 … x_T.
        public var states: [Gaussian]
        /// E[c(x_t)] for t = 1 … T.
        public var costs: [Double]
    }

    /// Predicts T steps under `policy` and, with `gradient`, differentiates J.
    public func evaluate(policy: RBFPolicy, gradient wantGradient: Bool = true) throws -> Evaluation {
        let d = model.features.stateDimension
        let u = model.features.controlDimension
        guard policy.transform.stateDimension == d, policy.controlLimits.count == u else {
            throw MomentMatchingError.dimensionMismatch("policy takes \(policy.transform.stateDimension) states and gives \(policy.controlLimits.count) controls; the model has \(d) and \(u)")
        }
        let layout = StepLayout(policy: policy.transform, model: model.features)
        let policyPiece = KernelExpansionPiece.policy(policy, parallel: false)
        let dynamics = KernelExpansionPiece.dynamics(model.gp, parallel: parallel)
        let costMap = LinearMap(matrix: cost.linearMap, offset: cost.offset)
        let expectation = SaturatingCostExpectation(weights: cost.weights)

        // Each step gets its own pieces: a piece keeps the caches of its forward pass for the
        // backward one (making them is cheap; the arrays they hold are shared, not copied).
        struct StepTape {
            var records: [AppendRecord]
            var policy: KernelExpansionPiece
            var costRecord: AppendRecord?
            var costMeanAdjoint: [Double]
            var costCovarianceAdjoint: Matrix
        }
        var tapes: [StepTape] = []
        var states = [initialState]
        var costs: [Double] = []
        var x = initialState
        for _ in 0..<horizon {
            var records: [AppendRecord] = []
            var v = x
            var r: AppendRecord
            if !layout.angles.isEmpty {
                (v, r) = try AppendRecord.append(v, TrigonometricPiece.angles(layout.angles.count), indices: layout.angles)
                records.append(r)
            }
            let stepPolicy = policyPiece.copy()
            (v, r) = try AppendRecord.append(v, stepPolicy, indices: layout.policyInputs)
            records.append(r)
            (v, r) = try AppendRecord.append(v, TrigonometricPiece.saturation(limits: policy.controlLimits), indices: layout.rawControls)
            records.append(r)
            (v, r) = try AppendRecord.append(v, dynamics.copy(), indices: layout.modelInputs)
            records.append(r)
            x = layout.nextState.apply(v)
            states.append(x)
            // Cost of x_{t+1}.
            var cv = x
            var costRecord: AppendRecord?
            if !cost.features.isEmpty {
                (cv, r) = try AppendRecord.append(cv, TrigonometricPiece(features: cost.features), indices: Array(0..<d))
                costRecord = r
            }
            let y = costMap.apply(cv)
            if wantGradient {
                let (c, yMeanBar, yCovBar) = try expectation.evaluate(y)
                costs.append(c)
                tapes.append(StepTape(records: records, policy: stepPolicy, costRecord: costRecord,
                                      costMeanAdjoint: yMeanBar, costCovarianceAdjoint: yCovBar))
            } else {
                costs.append(try expectation.value(y))
            }
        }
        let value = costs.reduce(0, +)
        guard wantGradient else { return Evaluation(value: value, gradient: nil, states: states, costs: costs) }

        // Reverse sweep: x̄_{t+1} = (from the cost of x_{t+1}) + (from step t+1's use of x_{t+1}).
        var xMeanBar = [Double](repeating: 0, count: d)
        var xCovBar = Matrix(rows: d, columns: d)
        var gradient = [Double](repeating: 0, count: policy.parameterCount)
        for t in stride(from: horizon - 1, through: 0, by: -1) {
            let tape = tapes[t]
            var (cMeanBar, cCovBar) = costMap.backward(meanAdjoint: tape.costMeanAdjoint, covarianceAdjoint: tape.costCovarianceAdjoint)
            if let cr = tape.costRecord {
                (cMeanBar, cCovBar) = cr.backward(meanAdjoint: cMeanBar, covarianceAdjoint: cCovBar)
            }
            for i in 0..<d { xMeanBar[i] += cMeanBar[i] }
            xCovBar.add(cCovBar)
            // x_{t+1} = L v.
            var (vMeanBar, vCovBar) = layout.nextState.backward(meanAdjoint: xMeanBar, covarianceAdjoint: xCovBar)
            for record in tape.records.reversed() {
                (vMeanBar, vCovBar) = record.backward(meanAdjoint: vMeanBar, covarianceAdjoint: vCovBar)
            }
            xMeanBar = vMeanBar
            xCovBar = vCovBar
            let piece = tape.policy
            let g = piece.policyParameterAdjoint(shared: policy.widthMode == .shared)
            for i in gradient.indices { gradient[i] += g[i] }
        }
        return Evaluation(value: value, gradient: gradient, states: states, costs: costs)
    }
}

/// Where each block sits in the joint vector of one step.
struct StepLayout {
    /// State indices that are angles (union of the policy's and the model's), in order; the
    /// sin/cos of angle k sit at D + 2k and D + 2k + 1.
    let angles: [Int]
    let policyInputs: [Int]
    let rawControls: [Int]
    let modelInputs: [Int]
    /// x' = x + Δ as a linear map of the whole joint.
    let nextState: LinearMap

    init(policy: InputTransform, model: DynamicsFeatures) {
        let d = model.stateDimension, u = model.controlDimension
        var angles = policy.angleIndices
        for a in model.state.angleIndices where !angles.contains(a) { angles.append(a) }
        self.angles = angles
        func trig(_ a: Int) -> [Int] {
            let k = angles.firstIndex(of: a)!
            return [d + 2 * k, d + 2 * k + 1]
        }
        policyInputs = policy.plainIndices + policy.angleIndices.flatMap(trig)
        let zStart = d + 2 * angles.count
        rawControls = Array(zStart..<(zStart + u))
        let uStart = zStart + u
        modelInputs = model.state.plainIndices + model.state.angleIndices.flatMap(trig) + Array(uStart..<(uStart + u))
        let deltaStart = uStart + u, n = deltaStart + d
        var l = Matrix(rows: d, columns: n)
        for i in 0..<d {
            l[i, i] = 1
            l[i, deltaStart + i] = 1
        }
        nextState = LinearMap(matrix: l, offset: [Double](repeating: 0, count: d))
    }
}

extension TrigonometricPiece {
    /// sin and cos of each of `count` angles; the piece's input is the marginal over the angles.
    static func angles(_ count: Int) -> TrigonometricPiece {
        var features: [TrigonometricFeature] = []
        for k in 0..<count {
            var c = [Double](repeating: 0, count: count)
            c[k] = 1
            features.append(TrigonometricFeature(.sin, c))
            features.append(TrigonometricFeature(.cos, c))
        }
        return TrigonometricPiece(features: features)
    }

    /// `u_k = u_max,k (9 sin z_k + sin 3z_k) / 8` for each control.
    static func saturation(limits: [Double]) -> TrigonometricPiece {
        let u = limits.count
        var features: [TrigonometricFeature] = []
        var map = Matrix(rows: u, columns: 2 * u)
        for k in 0..<u {
            var c = [Double](repeating: 0, count: u)
            c[k] = 1
            features.append(TrigonometricFeature(.sin, c))
            c[k] = 3
            features.append(TrigonometricFeature(.sin, c))
            map[k, 2 * k] = 9 * limits[k] / 8
            map[k, 2 * k + 1] = limits[k] / 8
        }
        return TrigonometricPiece(features: features, outputMap: map)
    }
}

extension KernelExpansionPiece {
    /// The RBF policy's raw output z as a kernel expansion (s² = 1, β = weights, shared Λ).
    static func policy(_ policy: RBFPolicy, parallel: Bool) -> KernelExpansionPiece {
        let logWidths = policy.widthMode == .shared
            ? [Double](repeating: policy.logWidths[0], count: policy.transform.inputDimension) : policy.logWidths
        let u = policy.controlLimits.count
        let outputs = (0..<u).map { k in
            Output(logLengthScales: logWidths, signalVariance: 1, weights: policy.weights.column(k), varianceMatrix: nil, noiseVariance: 0)
        }
        return KernelExpansionPiece(support: policy.centres, outputs: outputs, parallel: parallel)
    }

    /// The GP dynamics model's Δ with model variance and noise.
    static func dynamics(_ gp: GaussianProcessModel, parallel: Bool) -> KernelExpansionPiece {
        let outputs = (0..<gp.outputDimension).map { a in
            let h = gp.hyperparameters[a]
            return Output(logLengthScales: h.logLengthScales, signalVariance: h.signalVariance, weights: gp.predictiveWeights[a],
                          varianceMatrix: gp.predictiveVarianceMatrices[a], noiseVariance: h.noiseVariance)
        }
        return KernelExpansionPiece(support: gp.support, outputs: outputs, parallel: parallel)
    }

    /// A fresh piece with the same parameters and no accumulated adjoints.
    func copy() -> KernelExpansionPiece {
        KernelExpansionPiece(support: support, outputs: outputs, parallel: parallel)
    }

    /// The accumulated adjoints in ``RBFPolicy/parameters`` order: centres, log widths, weights.
    func policyParameterAdjoint(shared: Bool) -> [Double] {
        let u = outputs.count, b = support.rows, e = support.columns
        var logWidths = [Double](repeating: 0, count: e)
        for a in 0..<u { for c in 0..<e { logWidths[c] += logLengthScaleAdjoints[a][c] } }
        if shared { logWidths = [logWidths.reduce(0, +)] }
        var weights = [Double](repeating: 0, count: b * u)
        for j in 0..<b { for a in 0..<u { weights[j * u + a] = weightAdjoints[a][j] } }
        return supportAdjoint.storage + logWidths + weights
    }
}
