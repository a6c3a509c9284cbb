import Foundation
import GaussianProcess
import LinearAlgebra
import Robots
import TestSupport
import Testing

@Suite("GP training")
struct TrainingTests {
    @Test func recoversKnownLengthScalesFromGPSamples() throws {
        var rng = SeededGenerator(seed: 11)
        let n = 400
        let truth = GPHyperparameters(logLengthScales: [log(0.6), log(2.0)], logSignal: 0, logNoise: log(0.1))
        let x = Matrix(rows: n, columns: 2) { _, _ in Double.random(in: -3...3, using: &rng) }
        var k = Matrix(rows: n, columns: n)
        for i in 0..<n { for j in 0..<n { k[i, j] = exp(-0.5 * (pow((x[i, 0] - x[j, 0]) / 0.6, 2) + pow((x[i, 1] - x[j, 1]) / 2.0, 2))) } }
        k.addToDiagonal(1e-8)
        let l = try Cholesky(k).lower
        let f = l.multiplied(by: (0..<n).map { _ in rng.nextGaussian() })
        let y = f.map { $0 + 0.1 * rng.nextGaussian() }
        let (h, report) = HyperparameterTrainer().train(inputs: x, targets: y)
        let ls = h.lengthScales
        #expect(abs(ls[0] - 0.6) / 0.6 < 0.2, "ℓ₁ = \(ls[0]) (truth 0.6); report \(report)")
        #expect(abs(ls[1] - 2.0) / 2.0 < 0.2, "ℓ₂ = \(ls[1]) (truth 2.0)")
        #expect(abs(exp(h.logNoise) - 0.1) / 0.1 < 0.2, "σn = \(exp(h.logNoise))")
        _ = truth
    }

    /// Observed cart-pole trials with uniform random forces, as the learner would see them.
    static func cartPoleTrials(_ count: Int, seed: UInt64) -> [ObservedTrial] {
        let task = Task.cartPoleSwingUp(noiseMultiplier: 1)
        return task.randomRollouts(count: count, seed: seed).map {
            ObservedTrial(states: $0.observations.map { task.representation.learningState(from: $0) }, controls: $0.controls)
        }
    }

    static let cartPoleFeatures = DynamicsFeatures(state: InputTransform(stateDimension: 4, angleIndices: [3]), controlDimension: 1)

    /// Standardised mean squared error per output and the share of targets inside the 95% intervals.
    static func heldOutQuality(_ model: DynamicsModel, _ trials: [ObservedTrial]) -> (smse: [Double], coverage: Double) {
        let (x, y) = model.features.dataset(trials)
        let p = model.gp.predict(x)
        let (sd, _) = p.standardDeviation()
        var smse: [Double] = []
        var inside = 0
        for a in 0..<y.columns {
            let target = y.column(a)
            let mean = target.reduce(0, +) / Double(target.count)
            let variance = target.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(target.count)
            var se = 0.0
            for i in 0..<y.rows {
                let err = target[i] - p.mean[i, a]
                se += err * err
                if abs(err) <= 1.96 * sd[i, a] { inside += 1 }
            }
            smse.append(se / Double(y.rows) / variance)
        }
        return (smse, Double(inside) / Double(y.rows * y.columns))
    }

    @Test func cartPoleOneStepPredictionsAreAccurateAndCalibrated() throws {
        let training = Self.cartPoleTrials(10, seed: 21)   // 300 transitions: the exact GP
        let heldOut = Self.cartPoleTrials(5, seed: 99)
        let (model, reports) = try DynamicsModel.train(trials: training, features: Self.cartPoleFeatures)
        #expect(!model.gp.isSparse)
        #expect(reports.allSatisfy { $0.objective.isFinite })
        let (smse, coverage) = Self.heldOutQuality(model, heldOut)
        #expect(smse.allSatisfy { $0 < 0.05 }, "SMSE per output \(smse)")
        #expect(coverage >= 0.90 && coverage <= 0.99, "95% interval coverage \(coverage)")
    }

    @Test func sparseModelIsCloseToTheExactOne() throws {
        let training = Self.cartPoleTrials(14, seed: 31)   // 420 transitions: above the threshold
        let heldOut = Self.cartPoleTrials(5, seed: 98)
        let (sparse, _) = try DynamicsModel.train(trials: training, features: Self.cartPoleFeatures)
        #expect(sparse.gp.isSparse && sparse.gp.support.rows == 300)
        // The same hyperparameters without the approximation.
        let exact = DynamicsModel(features: Self.cartPoleFeatures, gp: try GaussianProcessModel(
            inputs: sparse.gp.inputs, targets: sparse.gp.targets, hyperparameters: sparse.gp.hyperparameters))
        let (smseSparse, coverage) = Self.heldOutQuality(sparse, heldOut)
        let (smseExact, _) = Self.heldOutQuality(exact, heldOut)
        for a in 0..<4 {
            #expect(smseSparse[a] <= smseExact[a] + 0.01, "output \(a): sparse SMSE \(smseSparse[a]), exact \(smseExact[a])")
        }
        #expect(coverage >= 0.90 && coverage <= 0.99, "sparse coverage \(coverage)")
    }

    @Test func duplicatedInputsTrainWithoutNaN() throws {
        var rng = SeededGenerator(seed: 41)
        let base = Matrix.gaussian(rows: 40, columns: 3, using: &rng)
        // Every input three times, one input column constant, targets exactly repeated.
        var rows: [Double] = []
        var targets: [Double] = []
        for _ in 0..<3 {
            for i in 0..<40 {
                rows += [base[i, 0], base[i, 1], 1.0]
                targets += [sin(base[i, 0]) + 0.5 * base[i, 1], cos(base[i, 1])]
            }
        }
        let x = Matrix(rows: 120, columns: 3, storage: rows)
        let y = Matrix(rows: 120, columns: 2, storage: targets)
        let (model, reports) = try GaussianProcessModel.train(inputs: x, targets: y)
        #expect(model.hyperparameters.allSatisfy { $0.vector.allSatisfy(\.isFinite) })
        let p = model.predict(Matrix.gaussian(rows: 10, columns: 3, using: &rng), derivatives: true)
        #expect(p.mean.isFinite && p.modelVariance.isFinite && p.meanJacobian!.isFinite && p.modelVarianceJacobian!.isFinite)
        #expect(reports.count == 2)
    }

    @Test func savedModelsPredictTheSame() throws {
        let (model, _) = try DynamicsModel.train(trials: Self.cartPoleTrials(3, seed: 51), features: Self.cartPoleFeatures)
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("gp.json")
        try model.gp.save(to: url)
        let loaded = try GaussianProcessModel.load(from: url)
        var rng = SeededGenerator(seed: 52)
        let q = Matrix.gaussian(rows: 8, columns: 6, using: &rng)
        let a = model.gp.predict(q), b = loaded.predict(q)
        #expect(a.mean == b.mean && a.modelVariance == b.modelVariance)
        #expect(loaded.hyperparameters == model.gp.hyperparameters)
    }

    @Test func parallelAndSerialGiveTheSameNumbers() throws {
        var rng = SeededGenerator(seed: 61)
        let x = Matrix.gaussian(rows: 60, columns: 3, using: &rng)
        let y = Matrix.gaussian(rows: 60, columns: 3, using: &rng)
        var options = GPModelOptions()
        options.training.maxIterations = 20
        options.parallel = true
        let parallel = try GaussianProcessModel.train(inputs: x, targets: y, options: options).model
        options.parallel = false
        let serial = try GaussianProcessModel.train(inputs: x, targets: y, options: options).model
        #expect(parallel.hyperparameters == serial.hyperparameters)
        let q = Matrix.gaussian(rows: 5, columns: 3, using: &rng)
        #expect(parallel.predict(q, derivatives: true).meanJacobian == serial.predict(q, derivatives: true).meanJacobian)
    }
}
