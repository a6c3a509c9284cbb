import Foundation
import GaussianProcess
import LinearAlgebra
@testable import MomentMatching
import Policies
import Robots
import TestSupport
import Testing

/// Sample moments of vectors, with standard errors: of each mean (sd/√n) and of each covariance
/// entry (the sample sd of the centred products, /√n).
struct SampleMoments {
    var mean: [Double]
    var meanError: [Double]
    var covariance: Matrix
    var covarianceError: Matrix

    /// `samples` holds n rows of k values, row-major.
    init(flat samples: [Double], columns k: Int) {
        let count = samples.count / k, n = Double(count)
        var mean = [Double](repeating: 0, count: k)
        var covariance = Matrix(rows: k, columns: k), covarianceError = Matrix(rows: k, columns: k)
        samples.withUnsafeBufferPointer { w in
            for r in 0..<count { for j in 0..<k { mean[j] += w[r * k + j] } }
            for j in 0..<k { mean[j] /= n }
            for i in 0..<k {
                for j in i..<k {
                    var s = 0.0, s2 = 0.0
                    let mi = mean[i], mj = mean[j]
                    for r in 0..<count {
                        let v = (w[r * k + i] - mi) * (w[r * k + j] - mj)
                        s += v
                        s2 += v * v
                    }
                    let c = s / n
                    let se = (max(s2 / n - c * c, 0) / n).squareRoot()
                    covariance[i, j] = c; covariance[j, i] = c
                    covarianceError[i, j] = se; covarianceError[j, i] = se
                }
            }
        }
        self.mean = mean
        self.covariance = covariance
        self.covarianceError = covarianceError
        meanError = (0..<k).map { (covariance[$0, $0] / n).squareRoot() }
    }

    init(_ samples: [[Double]]) {
        self.init(flat: samples.flatMap { $0 }, columns: samples[0].count)
    }

    /// Entries where the matched value is more than 3 standard errors from the sample value.
    func mismatches(mean m: [Double], covariance s: Matrix, floor: Double = 1e-12) -> [String] {
        var out: [String] = []
        for i in m.indices where abs(m[i] - mean[i]) > 3 * meanError[i] + floor {
            out.append("mean[\(i)] \(m[i]) vs \(mean[i]) ± \(meanError[i])")
        }
        for i in 0..<s.rows {
            for j in i..<s.columns where abs(s[i, j] - covariance[i, j]) > 3 * covarianceError[i, j] + floor {
                out.append("cov[\(i),\(j)] \(s[i, j]) vs \(covariance[i, j]) ± \(covarianceError[i, j])")
            }
        }
        return out
    }
}

/// x ~ N(μ, Σ) samples through the Cholesky factor, as the rows of a matrix.
func gaussianSamples(_ g: Gaussian, count: Int, seed: UInt64) throws -> Matrix {
    var rng = SeededGenerator(seed: seed)
    let l = try Cholesky(g.covariance, jitter: .standard).lower
    let z = Matrix.gaussian(rows: count, columns: g.dimension, using: &rng)
    var x = z.multiplied(by: l, .none, .transposed)
    let n = g.dimension
    x.storage.withUnsafeMutableBufferPointer { p in
        for r in 0..<count { for i in 0..<n { p[r * n + i] += g.mean[i] } }
    }
    return x
}

/// The rows of `a` and `b` side by side.
func sideBySide(_ a: Matrix, _ b: Matrix) -> Matrix {
    var out = Matrix(rows: a.rows, columns: a.columns + b.columns)
    let k = out.columns
    out.storage.withUnsafeMutableBufferPointer { o in
        for r in 0..<a.rows {
            for j in 0..<a.columns { o[r * k + j] = a.storage[r * a.columns + j] }
            for j in 0..<b.columns { o[r * k + a.columns + j] = b.storage[r * b.columns + j] }
        }
    }
    return out
}

/// f applied to each row.
func mapRows(_ x: Matrix, columns: Int, _ f: (UnsafeBufferPointer<Double>, Int) -> [Double]) -> Matrix {
    var out = Matrix(rows: x.rows, columns: columns)
    x.storage.withUnsafeBufferPointer { p in
        for r in 0..<x.rows {
            let y = f(p, r * x.columns)
            for j in 0..<columns { out.storage[r * columns + j] = y[j] }
        }
    }
    return out
}

extension SampleMoments {
    init(_ m: Matrix) { self.init(flat: m.storage, columns: m.columns) }
}

/// The joint [x; f(x)] of a piece's output appended to its input, as the chain uses it.
func jointMoments(_ piece: any MomentPiece, _ x: Gaussian) throws -> Gaussian {
    try AppendRecord.append(x, piece, indices: Array(0..<x.dimension)).0
}

func randomCovariance(_ n: Int, scale: Double, seed: UInt64) -> Matrix {
    var rng = SeededGenerator(seed: seed)
    var a = Matrix(rows: n, columns: n)
    for i in a.storage.indices { a.storage[i] = rng.nextGaussian() * scale }
    var s = a.multiplied(by: a, .none, .transposed)
    s.addToDiagonal(0.1 * scale * scale)
    s.symmetrize()
    return s
}

func observed(_ t: Trajectory, _ task: Task) -> ObservedTrial {
    ObservedTrial(states: t.observations.map { task.representation.learningState(from: $0) }, controls: t.controls)
}

/// A small cart-pole GP dynamics model with fixed, PILCO-like hyperparameters (no training, so the
/// tests are fast), exact or FITC.
func cartPoleModel(points: Int = 40, inducing: Int? = nil, seed: UInt64 = 3) throws -> DynamicsModel {
    let task = Task.cartPoleSwingUp()
    let trials = task.randomRollouts(count: (points + 29) / 30, seed: seed).map { observed($0, task) }
    let features = DynamicsFeatures(state: InputTransform(stateDimension: 4, angleIndices: [3]), controlDimension: 1)
    var (x, y) = features.dataset(trials)
    x = x.firstRows(points)
    y = y.firstRows(points)
    let hypers = (0..<4).map { a in
        GPHyperparameters(logLengthScales: [0.7, 1.2, 1.5, 0.3, 0.4, 1.8].map { log($0 * (1 + 0.1 * Double(a))) },
                          logSignal: log(0.5 + 0.2 * Double(a)), logNoise: log(0.03))
    }
    var inducingInputs: Matrix?
    if let m = inducing {
        inducingInputs = x.firstRows(m)
    }
    let gp = try GaussianProcessModel(inputs: x, targets: y, hyperparameters: hypers, inducingInputs: inducingInputs, parallel: false)
    return DynamicsModel(features: features, gp: gp)
}

func cartPolePolicy(basis: Int, widthMode: RBFPolicy.WidthMode = .perDimension, seed: UInt64) -> RBFPolicy {
    var rng = SeededGenerator(seed: seed)
    var p = RBFPolicy.random(transform: InputTransform(stateDimension: 4, angleIndices: [3]), controlLimits: [10], basisCount: basis,
                             centreMean: [0, 0, 0, 0], centreStandardDeviations: [0.5, 0.5, 1, 1], widthMode: widthMode, using: &rng)
    // Larger weights and varied widths than the initial policy, so that every term matters.
    var theta = p.parameters
    for i in theta.indices { theta[i] += 0.3 * rng.nextGaussian() }
    p.parameters = theta
    return p
}

@Suite("Moment matching pieces against 10⁶ Monte Carlo samples")
struct MomentMatchingPieceTests {
    static let samples = 1_000_000

    @Test func sinesAndCosinesOfCorrelatedAngles() throws {
        let x = Gaussian(mean: [0.3, -1.2], covariance: Matrix([[0.4, 0.15], [0.15, 0.9]]))
        let joint = try jointMoments(TrigonometricPiece.angles(2), x)
        let draws = try gaussianSamples(x, count: Self.samples, seed: 11)
        let mc = SampleMoments(sideBySide(draws, mapRows(draws, columns: 4) { s, o in [sin(s[o]), cos(s[o]), sin(s[o + 1]), cos(s[o + 1])] }))
        let bad = mc.mismatches(mean: joint.mean, covariance: joint.covariance)
        #expect(bad.isEmpty, "\(bad)")
    }

    @Test func saturationOfTwoControls() throws {
        let z = Gaussian(mean: [0.4, -1.1], covariance: Matrix([[1.3, -0.4], [-0.4, 0.5]]))
        let limits = [10.0, 2.5]
        let joint = try jointMoments(TrigonometricPiece.saturation(limits: limits), z)
        let sat = limits.map(Saturation.init(limit:))
        let draws = try gaussianSamples(z, count: Self.samples, seed: 12)
        let mc = SampleMoments(sideBySide(draws, mapRows(draws, columns: 2) { s, o in [sat[0].value(s[o]), sat[1].value(s[o + 1])] }))
        let bad = mc.mismatches(mean: joint.mean, covariance: joint.covariance)
        #expect(bad.isEmpty, "\(bad)")
    }

    @Test func rbfPolicyOutput() throws {
        var rng = SeededGenerator(seed: 13)
        let transform = InputTransform(stateDimension: 3)
        var policy = RBFPolicy.random(transform: transform, controlLimits: [1, 1], basisCount: 8, centreMean: [0, 0, 0],
                                      centreStandardDeviations: [1, 1, 1], using: &rng)
        policy.logWidths = [log(0.8), log(1.5), log(0.6)]
        policy.weights = Matrix(rows: 8, columns: 2, storage: (0..<16).map { _ in rng.nextGaussian() })
        let x = Gaussian(mean: [0.2, -0.3, 0.5], covariance: randomCovariance(3, scale: 0.5, seed: 14))
        let joint = try jointMoments(KernelExpansionPiece.policy(policy, parallel: false), x)
        let draws = try gaussianSamples(x, count: Self.samples, seed: 15)
        let z = policy.rawEvaluate(inputs: draws, derivatives: []).z
        let mc = SampleMoments(sideBySide(draws, z))
        let bad = mc.mismatches(mean: joint.mean, covariance: joint.covariance)
        #expect(bad.isEmpty, "\(bad)")
    }

    /// y = m(x) + √(σf²(x) + σn²) ε with the GP's predictive mean and variance at each sample.
    @Test("the GP dynamics model, exact and FITC", arguments: [nil, 15])
    func gaussianProcess(inducing: Int?) throws {
        let model = try cartPoleModel(points: 40, inducing: inducing)
        let gp = model.gp
        let e = gp.inputDimension, d = gp.outputDimension
        let x = Gaussian(mean: gp.inputs.row(7), covariance: randomCovariance(e, scale: 0.25, seed: 16))
        let joint = try jointMoments(KernelExpansionPiece.dynamics(gp, parallel: false), x)
        let draws = try gaussianSamples(x, count: Self.samples, seed: 17)
        var rng = SeededGenerator(seed: 18)
        var y = Matrix(rows: draws.rows, columns: d)
        let chunk = 50_000
        for start in stride(from: 0, to: draws.rows, by: chunk) {
            let rows = min(chunk, draws.rows - start)
            let part = Matrix(rows: rows, columns: e, storage: Array(draws.storage[(start * e)..<((start + rows) * e)]))
            let p = gp.predict(part, derivatives: false)
            for i in 0..<(rows * d) {
                y.storage[start * d + i] = p.mean.storage[i] + (p.modelVariance.storage[i] + p.noiseVariance[i % d]).squareRoot() * rng.nextGaussian()
            }
        }
        let mc = SampleMoments(sideBySide(draws, y))
        let bad = mc.mismatches(mean: joint.mean, covariance: joint.covariance)
        #expect(bad.isEmpty, "\(bad)")
    }

    /// The saturating cost under a Gaussian y: exact.
    @Test func saturatingCostUnderAGaussian() throws {
        let y = Gaussian(mean: [0.4, -0.3, 0.8], covariance: randomCovariance(3, scale: 0.5, seed: 19))
        let weights = [2.0, 0.5, 1.5]
        let expected = try SaturatingCostExpectation(weights: weights).value(y)
        let draws = try gaussianSamples(y, count: Self.samples, seed: 20)
        let values = mapRows(draws, columns: 1) { s, o in
            [1 - exp(-0.5 * (weights[0] * s[o] * s[o] + weights[1] * s[o + 1] * s[o + 1] + weights[2] * s[o + 2] * s[o + 2]))]
        }
        let mc = SampleMoments(values)
        #expect(abs(expected - mc.mean[0]) <= 3 * mc.meanError[0], "\(expected) vs \(mc.mean[0]) ± \(mc.meanError[0])")
    }

    /// The robots' costs as PILCO computes them: the angle cost is exact; the tip and unicycle costs
    /// go through sin/cos features (exact moments) whose joint with the state is then taken as
    /// Gaussian, as in PILCO — exact to third order in the spread, so checked at a narrow one.
    @Test("expected costs of the tasks", arguments: ["angle", "tip", "unicycle"])
    func expectedCost(name: String) throws {
        let cost: any GaussianExpectableCost
        let state: Gaussian
        switch name {
        case "angle":
            cost = CartPoleAngleCost()
            state = Gaussian(mean: [0.2, 0.1, -0.3, 2.8], covariance: randomCovariance(4, scale: 0.3, seed: 21))
        case "tip":
            cost = CartPoleTipCost()
            state = Gaussian(mean: [0.2, 0.1, -0.3, 2.8], covariance: randomCovariance(4, scale: 0.03, seed: 22))
        default:
            cost = UnicycleCost()
            var m = [Double](repeating: 0.05, count: 10)
            m[7] = 0.1; m[9] = -0.2
            state = Gaussian(mean: m, covariance: randomCovariance(10, scale: 0.01, seed: 23))
        }
        let form = cost.gaussianForm
        let draws = try gaussianSamples(state, count: Self.samples, seed: 24)
        // The form is the cost itself.
        for r in 0..<100 { #expect(abs(form.cost(draws.row(r)) - cost.cost(draws.row(r))) < 1e-12) }
        let k = state.dimension
        let values = mapRows(draws, columns: 1) { s, o in [cost.cost(Array(s[o..<(o + k)]))] }
        var y = state
        if !form.features.isEmpty { y = try jointMoments(TrigonometricPiece(features: form.features), state) }
        let expected = try SaturatingCostExpectation(weights: form.weights).value(LinearMap(matrix: form.linearMap, offset: form.offset).apply(y))
        let mc = SampleMoments(values)
        #expect(abs(expected - mc.mean[0]) <= 3 * mc.meanError[0], "\(name): \(expected) vs \(mc.mean[0]) ± \(mc.meanError[0])")
    }
}

@Suite("PILCO's T-step prediction")
struct MomentMatchingPredictionTests {
    /// One step of the whole chain (angles → policy → saturation → GP → x + Δ) from a narrow
    /// initial distribution. Each piece is exact for a Gaussian input; the chain approximates the
    /// intermediate distributions (of z, u) by Gaussians, an error of third order in the spread, far
    /// below the Monte Carlo error at this spread.
    @Test func oneStepOfTheWholeChain() throws {
        let model = try cartPoleModel(points: 40)
        let policy = cartPolePolicy(basis: 6, seed: 23)
        let initial = DiagonalGaussian(mean: [0.1, -0.2, 0.3, 0.5], standardDeviations: [0.02, 0.02, 0.02, 0.02])
        let predictor = try MomentMatchingPredictor(model: model, cost: CartPoleAngleCost(), initialState: initial, horizon: 1)
        let mm = try predictor.evaluate(policy: policy, gradient: false).states[1]
        var rng = SeededGenerator(seed: 24)
        let n = 1_000_000, chunk = 50_000
        var rows: [Double] = []
        rows.reserveCapacity(4 * n)
        for _ in 0..<(n / chunk) {
            let x0 = initial.sample(chunk, using: &rng)
            let u = policy.evaluate(states: x0, derivatives: []).controls
            let p = model.predict(states: x0, controls: u)
            let noise = p.gp.noiseVariance
            for i in 0..<(4 * chunk) {
                let a = i % 4
                rows.append(x0.storage[i] + p.gp.mean.storage[i] + (p.gp.modelVariance.storage[i] + noise[a]).squareRoot() * rng.nextGaussian())
            }
        }
        let mc = SampleMoments(flat: rows, columns: 4)
        let bad = mc.mismatches(mean: mm.mean, covariance: mm.covariance)
        #expect(bad.isEmpty, "\(bad)")
    }

    static func check(_ predictor: MomentMatchingPredictor, _ policy: RBFPolicy, tolerance: Double = 2e-5, step: Double = 1e-5,
                      floor: Double = 1e-4, smallestLargest: Double = 1e-3) throws {
        let analytic = try #require(try predictor.evaluate(policy: policy).gradient)
        let numeric = FiniteDifference.gradient(of: { theta in
            var p = policy
            p.parameters = theta
            return try! predictor.evaluate(policy: p, gradient: false).value
        }, at: policy.parameters, step: step)
        let error = FiniteDifference.maxRelativeError(analytic, numeric, floor: floor)
        let worst = analytic.indices.max { abs(analytic[$0] - numeric[$0]) < abs(analytic[$1] - numeric[$1]) }!
        #expect(error < tolerance, "max relative error \(error); largest difference at \(worst): \(analytic[worst]) vs \(numeric[worst])")
        let largest = analytic.map(abs).max() ?? 0
        #expect(largest > smallestLargest, "the gradient should not vanish: largest entry \(largest)")
    }

    @Test("dJ/dθ by reverse mode equals finite differences (cart-pole)", arguments: [
        (nil as Int?, RBFPolicy.WidthMode.perDimension, "angle"), (nil, .shared, "tip"), (15, .perDimension, "angle"),
    ])
    func cartPoleGradient(inducing: Int?, widthMode: RBFPolicy.WidthMode, cost: String) throws {
        let model = try cartPoleModel(points: 40, inducing: inducing)
        let costFunction: any CostFunction = cost == "tip" ? CartPoleTipCost() : CartPoleAngleCost()
        let initial = DiagonalGaussian(mean: [0, 0, 0, 0.3], standardDeviations: [0.1, 0.1, 0.1, 0.1])
        let predictor = try MomentMatchingPredictor(model: model, cost: costFunction, initialState: initial, horizon: 4)
        try Self.check(predictor, cartPolePolicy(basis: 4, widthMode: widthMode, seed: 25))
    }

    @Test func unicycleGradient() throws {
        let task = Task.unicycleBalancing()
        let features = DynamicsFeatures(state: InputTransform(stateDimension: 10, excluding: [8]), controlDimension: 2)
        let trials = task.randomRollouts(count: 1, seed: 4).map { observed($0, task) }
        let (x, y) = features.dataset(trials)
        let n = min(25, x.rows)
        let xs = x.firstRows(n)
        let ys = y.firstRows(n)
        let hypers = (0..<10).map { a in
            GPHyperparameters(logLengthScales: (0..<x.columns).map { log(1 + 0.1 * Double(($0 + a) % 5)) }, logSignal: log(0.3), logNoise: log(0.02))
        }
        let model = DynamicsModel(features: features, gp: try GaussianProcessModel(inputs: xs, targets: ys, hyperparameters: hypers, parallel: false))
        var rng = SeededGenerator(seed: 26)
        let s = task.initialLearningState
        var policy = RBFPolicy.random(transform: InputTransform(stateDimension: 10), controlLimits: task.controlLimits, basisCount: 3,
                                      centreMean: s.mean, centreStandardDeviations: s.standardDeviations.map { $0 + 0.2 }, using: &rng)
        policy.weights = Matrix(rows: 3, columns: 2, storage: (0..<6).map { _ in 2 * rng.nextGaussian() })
        let predictor = try MomentMatchingPredictor(model: model, cost: UnicycleCost(), initialState: s, horizon: 5)
        // Balancing from upright: the cost is small and so is its gradient (compared to 1e-5 absolute).
        // The step is larger than for the cart-pole: at 1e-5 round-off in the variances dominates.
        try Self.check(predictor, policy, step: 1e-4, floor: 1e-5, smallestLargest: 1e-4)
    }

    @Test func aCostWithoutAClosedFormIsRefused() throws {
        struct Odd: CostFunction {
            var name: String { "odd" }
            var stateDimension: Int { 4 }
            func cost(_ s: [Double]) -> Double { abs(s[0]) }
            func costAndGradient(_ s: [Double]) -> (cost: Double, gradient: [Double]) { (abs(s[0]), [1, 0, 0, 0]) }
        }
        let model = try cartPoleModel(points: 20)
        #expect(throws: MomentMatchingError.unsupportedCost("odd")) {
            _ = try MomentMatchingPredictor(model: model, cost: Odd(), initialState: Task.cartPoleSwingUp().initialLearningState, horizon: 3)
        }
    }
}
