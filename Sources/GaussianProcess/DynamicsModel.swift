import Foundation
import LinearAlgebra

/// One observed trial as the learner sees it: learning states y₀ … y_n and the controls u₀ … u_{n−1}
/// applied between them.
public struct ObservedTrial: Sendable, Codable, Equatable {
    public var states: [[Double]]
    public var controls: [[Double]]

    public init(states: [[Double]], controls: [[Double]]) {
        precondition(states.count == controls.count + 1 || (states.isEmpty && controls.isEmpty), "ObservedTrial: \(states.count) states for \(controls.count) controls")
        self.states = states
        self.controls = controls
    }
}

/// How a (state, control) pair becomes a GP input: the state's features (angles as sin/cos, some
/// coordinates left out) followed by the controls.
public struct DynamicsFeatures: Sendable, Equatable, Codable {
    public let state: InputTransform
    public let controlDimension: Int

    public init(state: InputTransform, controlDimension: Int) {
        self.state = state
        self.controlDimension = controlDimension
    }

    public var stateDimension: Int { state.stateDimension }
    /// GP input dimension E.
    public var inputDimension: Int { state.inputDimension + controlDimension }

    /// GP inputs `[P × E]` for states `[P × D]` and controls `[P × U]`.
    public func inputs(states: Matrix, controls: Matrix) -> Matrix {
        precondition(states.rows == controls.rows && controls.columns == controlDimension, "DynamicsFeatures: states \(states.rows)×\(states.columns), controls \(controls.rows)×\(controls.columns)")
        let f = state.apply(states)
        let p = states.rows, k = f.columns, e = inputDimension
        var out = Matrix(rows: p, columns: e)
        for i in 0..<p {
            for c in 0..<k { out.storage[i * e + c] = f.storage[i * k + c] }
            for u in 0..<controlDimension { out.storage[i * e + k + u] = controls.storage[i * controlDimension + u] }
        }
        return out
    }

    /// Splits Jacobians with respect to the GP inputs `[P × (m·E)]` into Jacobians with respect to the
    /// state `[P × (m·D)]` and to the control `[P × (m·U)]`.
    public func pullback(_ jacobian: Matrix, states: Matrix, outputs m: Int) -> (state: Matrix, control: Matrix) {
        let p = states.rows, e = inputDimension, k = state.inputDimension, u = controlDimension
        precondition(jacobian.rows == p && jacobian.columns == m * e, "DynamicsFeatures.pullback: Jacobian \(jacobian.rows)×\(jacobian.columns)")
        var featureJ = Matrix(rows: p, columns: m * k)
        var controlJ = Matrix(rows: p, columns: m * u)
        for i in 0..<p {
            for r in 0..<m {
                for c in 0..<k { featureJ.storage[i * m * k + r * k + c] = jacobian.storage[i * m * e + r * e + c] }
                for c in 0..<u { controlJ.storage[i * m * u + r * u + c] = jacobian.storage[i * m * e + r * e + k + c] }
            }
        }
        return (state.pullback(featureJ, states: states, outputs: m), controlJ)
    }

    /// The training set of a collection of trials: inputs from (y_t, u_t), targets y_{t+1} − y_t.
    public func dataset(_ trials: [ObservedTrial]) -> (inputs: Matrix, targets: Matrix) {
        var states: [Double] = [], controls: [Double] = [], deltas: [Double] = []
        var n = 0
        for trial in trials {
            for t in 0..<trial.controls.count {
                precondition(trial.states[t].count == stateDimension && trial.controls[t].count == controlDimension, "DynamicsFeatures.dataset: step \(t) has the wrong dimensions")
                states += trial.states[t]
                controls += trial.controls[t]
                deltas += zip(trial.states[t + 1], trial.states[t]).map { $0 - $1 }
                n += 1
            }
        }
        let x = inputs(states: Matrix(rows: n, columns: stateDimension, storage: states),
                       controls: Matrix(rows: n, columns: controlDimension, storage: controls))
        return (x, Matrix(rows: n, columns: stateDimension, storage: deltas))
    }
}

/// A learned one-step model `y_{t+1} = y_t + Δ`, Δ ~ GP(features(y_t, u_t)) per state dimension
/// (PIPPS §2.4.1).
public struct DynamicsModel: Sendable {
    public let features: DynamicsFeatures
    public let gp: GaussianProcessModel

    public init(features: DynamicsFeatures, gp: GaussianProcessModel) {
        precondition(gp.inputDimension == features.inputDimension && gp.outputDimension == features.stateDimension, "DynamicsModel: GP \(gp.inputDimension)→\(gp.outputDimension), features \(features.inputDimension)→\(features.stateDimension)")
        self.features = features
        self.gp = gp
    }

    /// Trains the model on `trials`.
    public static func train(
        trials: [ObservedTrial], features: DynamicsFeatures, options: GPModelOptions = GPModelOptions(), start: [GPHyperparameters]? = nil
    ) throws -> (model: DynamicsModel, reports: [GPTrainingReport]) {
        let (x, y) = features.dataset(trials)
        guard x.rows > 0 else { throw LinearAlgebraError.nonFinite(routine: "DynamicsModel.train: no transitions") }
        let (gp, reports) = try GaussianProcessModel.train(inputs: x, targets: y, options: options, start: start)
        return (DynamicsModel(features: features, gp: gp), reports)
    }

    /// A prediction of the change Δ of the state at P (state, control) pairs.
    public struct Prediction: Sendable {
        /// The GP's prediction of Δ (means, variances, Jacobians with respect to the GP inputs).
        public var gp: GPPrediction
        /// ∂mean/∂state `[P × (D·D)]` and ∂mean/∂control `[P × (D·U)]`, on request.
        public var meanStateJacobian: Matrix?
        public var meanControlJacobian: Matrix?
        /// ∂σf²/∂state `[P × (D·D)]` and ∂σf²/∂control `[P × (D·U)]`, on request.
        public var varianceStateJacobian: Matrix?
        public var varianceControlJacobian: Matrix?
    }

    public func predict(states: Matrix, controls: Matrix, derivatives: Bool = false) -> Prediction {
        let x = features.inputs(states: states, controls: controls)
        let g = gp.predict(x, derivatives: derivatives)
        var prediction = Prediction(gp: g)
        if derivatives, let mj = g.meanJacobian, let vj = g.modelVarianceJacobian {
            let d = features.stateDimension
            (prediction.meanStateJacobian, prediction.meanControlJacobian) = features.pullback(mj, states: states, outputs: d)
            (prediction.varianceStateJacobian, prediction.varianceControlJacobian) = features.pullback(vj, states: states, outputs: d)
        }
        return prediction
    }
}
