import Foundation
import LinearAlgebra

extension GaussianProcessModel {
    /// Trains one GP per column of `targets` on `inputs` and builds the model; sparse (FITC) when
    /// there are more than `options.sparseThreshold` points.
    ///
    /// Hyperparameters are always trained on the full data, as PILCO does; the sparse model then uses
    /// them with `options.inducingCount` inducing inputs chosen from the training inputs by
    /// farthest-point sampling in standardised coordinates (deterministic, spread over the data; they
    /// are not optimised further).
    ///
    /// - Parameter start: hyperparameters to start from (e.g. the previous round's), one per output.
    public static func train(
        inputs: Matrix, targets: Matrix, options: GPModelOptions = GPModelOptions(), start: [GPHyperparameters]? = nil
    ) throws -> (model: GaussianProcessModel, reports: [GPTrainingReport]) {
        precondition(inputs.rows == targets.rows && inputs.rows > 0, "GaussianProcessModel.train: \(inputs.rows) inputs, \(targets.rows) targets")
        guard inputs.isFinite, targets.isFinite else { throw LinearAlgebraError.nonFinite(routine: "GaussianProcessModel.train") }
        if let start { precondition(start.count == targets.columns, "GaussianProcessModel.train: \(start.count) starts for \(targets.columns) outputs") }
        let trainingOptions = options.training
        let trained = parallelMap(targets.columns, parallel: options.parallel) { a in
            var o = trainingOptions
            o.seed = trainingOptions.seed &+ UInt64(a)
            return HyperparameterTrainer(options: o).train(inputs: inputs, targets: targets.column(a), start: start?[a])
        }
        let inducing = inputs.rows > options.sparseThreshold
            ? farthestPointSubset(inputs, count: min(options.inducingCount, inputs.rows)) : nil
        let model = try GaussianProcessModel(
            inputs: inputs, targets: targets, hyperparameters: trained.map(\.0), inducingInputs: inducing, parallel: options.parallel)
        var reports = trained.map(\.1)
        for a in reports.indices where model.jitter[a] > 0 {
            reports[a].warnings.append(String(format: "predictor of output %d needed jitter %.3g", a, model.jitter[a]))
        }
        return (model, reports)
    }
}

/// `count` rows of `x` chosen greedily, each the farthest (in coordinates divided by the columns'
/// standard deviations) from those already chosen, starting from the row nearest the mean.
public func farthestPointSubset(_ x: Matrix, count: Int) -> Matrix {
    let n = x.rows, e = x.columns
    precondition(count >= 1 && count <= n, "farthestPointSubset: \(count) of \(n) rows")
    let sd = columnStandardDeviations(x).map { $0 > 0 ? $0 : 1 }
    let means = (0..<e).map { c in x.column(c).reduce(0, +) / Double(n) }
    let z = Matrix(rows: n, columns: e) { i, c in (x[i, c] - means[c]) / sd[c] }
    func distance(_ i: Int, _ j: Int) -> Double {
        var s = 0.0
        for c in 0..<e { let d = z.storage[i * e + c] - z.storage[j * e + c]; s += d * d }
        return s
    }
    var nearest = [Double](repeating: .infinity, count: n)
    var first = 0
    var best = Double.infinity
    for i in 0..<n {
        var s = 0.0
        for c in 0..<e { s += z.storage[i * e + c] * z.storage[i * e + c] }
        if s < best { best = s; first = i }
    }
    var chosen = [first]
    for i in 0..<n { nearest[i] = distance(i, first) }
    while chosen.count < count {
        var next = 0
        var far = -1.0
        for i in 0..<n where nearest[i] > far { far = nearest[i]; next = i }
        chosen.append(next)
        for i in 0..<n { nearest[i] = min(nearest[i], distance(i, next)) }
    }
    return Matrix(rows: count, columns: e) { i, c in x[chosen[i], c] }
}
