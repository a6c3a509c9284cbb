import Foundation
import GaussianProcess
import LinearAlgebra
import TestSupport
import Testing

func randomHyperparameters(_ e: Int, using rng: inout SeededGenerator) -> GPHyperparameters {
    GPHyperparameters(logLengthScales: (0..<e).map { _ in 0.3 * rng.nextGaussian() },
                      logSignal: 0.2 * rng.nextGaussian(), logNoise: -2 + 0.2 * rng.nextGaussian())
}

func relativeError(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(a), abs(b), 1e-300) }

@Suite("GP against a naive reference")
struct ReferenceTests {
    @Test("negative log likelihood matches the naive O(N³) reference to 1e-9", arguments: [5, 40, 120])
    func likelihood(n: Int) throws {
        var rng = SeededGenerator(seed: UInt64(n))
        let x = Matrix.gaussian(rows: n, columns: 3, using: &rng)
        let y = (0..<n).map { _ in rng.nextGaussian() }
        let h = randomHyperparameters(3, using: &rng)
        let fast = try MarginalLikelihood(inputs: x, targets: y).negativeLogLikelihood(h).value
        let naive = NaiveGP.negativeLogLikelihood(x.nestedRows, y, h)
        #expect(relativeError(fast, naive) < 1e-9, "\(fast) vs \(naive)")
    }

    @Test("exact predictions match the reference to 1e-9", arguments: [7, 60])
    func predictions(n: Int) throws {
        var rng = SeededGenerator(seed: UInt64(100 + n))
        let x = Matrix.gaussian(rows: n, columns: 2, using: &rng)
        let y = Matrix.gaussian(rows: n, columns: 2, using: &rng)
        let hs = [randomHyperparameters(2, using: &rng), randomHyperparameters(2, using: &rng)]
        let model = try GaussianProcessModel(inputs: x, targets: y, hyperparameters: hs)
        let queries = Matrix.gaussian(rows: 9, columns: 2, using: &rng)
        let p = model.predict(queries)
        for a in 0..<2 {
            for i in 0..<9 {
                let (m, v) = NaiveGP.predict(x.nestedRows, y.column(a), hs[a], at: queries.row(i))
                #expect(relativeError(p.mean[i, a], m) < 1e-9, "mean \(p.mean[i, a]) vs \(m)")
                #expect(relativeError(p.modelVariance[i, a], v) < 1e-9 || abs(p.modelVariance[i, a] - v) < 1e-12, "variance \(p.modelVariance[i, a]) vs \(v)")
            }
            #expect(p.noiseVariance[a] == hs[a].noiseVariance)
        }
    }
}

@Suite("GP derivatives against finite differences")
struct DerivativeTests {
    @Test func likelihoodGradient() throws {
        var rng = SeededGenerator(seed: 7)
        let x = Matrix.gaussian(rows: 30, columns: 3, using: &rng)
        let y = (0..<30).map { _ in rng.nextGaussian() }
        let ml = MarginalLikelihood(inputs: x, targets: y)
        for _ in 0..<3 {
            let h = randomHyperparameters(3, using: &rng)
            let g = try ml.negativeLogLikelihood(h).gradient
            let fd = FiniteDifference.gradient(of: { try! ml.negativeLogLikelihood(GPHyperparameters(vector: $0), gradient: false).value }, at: h.vector, step: 1e-5)
            #expect(FiniteDifference.maxRelativeError(g, fd, floor: 1e-3) < 1e-6, "\(g) vs \(fd)")
        }
    }

    @Test("prediction Jacobians", arguments: [false, true])
    func predictionJacobians(sparse: Bool) throws {
        var rng = SeededGenerator(seed: 8)
        let x = Matrix.gaussian(rows: 40, columns: 3, using: &rng)
        let y = Matrix.gaussian(rows: 40, columns: 2, using: &rng)
        let hs = [randomHyperparameters(3, using: &rng), randomHyperparameters(3, using: &rng)]
        let model = try GaussianProcessModel(inputs: x, targets: y, hyperparameters: hs,
                                             inducingInputs: sparse ? farthestPointSubset(x, count: 15) : nil)
        let queries = Matrix.gaussian(rows: 5, columns: 3, using: &rng)
        let p = model.predict(queries, derivatives: true)
        let mj = try #require(p.meanJacobian), vj = try #require(p.modelVarianceJacobian)
        let (_, sdj) = p.standardDeviation(modelScale: 1, noiseScale: 1)
        let sdJacobian = try #require(sdj)
        for i in 0..<5 {
            let q = queries.row(i)
            func at(_ v: [Double]) -> GPPrediction { model.predict(Matrix(rows: 1, columns: 3, storage: v)) }
            let fdMean = FiniteDifference.jacobian(of: { at($0).mean.storage }, at: q)
            let fdVar = FiniteDifference.jacobian(of: { at($0).modelVariance.storage }, at: q)
            let fdSD = FiniteDifference.jacobian(of: { at($0).standardDeviation().sd.storage }, at: q)
            for a in 0..<2 {
                for e in 0..<3 {
                    let c = i * 6 + a * 3 + e
                    #expect(abs(mj.storage[c] - fdMean[a][e]) < 1e-6 * max(1, abs(fdMean[a][e])), "mean \(a),\(e)")
                    #expect(abs(vj.storage[c] - fdVar[a][e]) < 1e-6 * max(1, abs(fdVar[a][e])), "variance \(a),\(e)")
                    #expect(abs(sdJacobian.storage[c] - fdSD[a][e]) < 1e-6 * max(1, abs(fdSD[a][e])), "sd \(a),\(e)")
                }
            }
        }
    }

    @Test func dynamicsModelJacobiansWithAnglesAndControls() throws {
        var rng = SeededGenerator(seed: 9)
        let features = DynamicsFeatures(state: InputTransform(stateDimension: 4, angleIndices: [3]), controlDimension: 1)
        let states = Matrix.gaussian(rows: 50, columns: 4, using: &rng)
        let controls = Matrix.gaussian(rows: 50, columns: 1, using: &rng)
        let x = features.inputs(states: states, controls: controls)
        #expect(x.columns == 6)
        let y = Matrix.gaussian(rows: 50, columns: 4, using: &rng)
        let gp = try GaussianProcessModel(inputs: x, targets: y, hyperparameters: (0..<4).map { _ in randomHyperparameters(6, using: &rng) })
        let model = DynamicsModel(features: features, gp: gp)
        let s = Matrix.gaussian(rows: 3, columns: 4, using: &rng), u = Matrix.gaussian(rows: 3, columns: 1, using: &rng)
        let p = model.predict(states: s, controls: u, derivatives: true)
        let msj = try #require(p.meanStateJacobian), mcj = try #require(p.meanControlJacobian)
        let vsj = try #require(p.varianceStateJacobian)
        for i in 0..<3 {
            let fdState = FiniteDifference.jacobian(of: { model.predict(states: Matrix(rows: 1, columns: 4, storage: $0), controls: Matrix(rows: 1, columns: 1, storage: u.row(i))).gp.mean.storage }, at: s.row(i))
            let fdVarState = FiniteDifference.jacobian(of: { model.predict(states: Matrix(rows: 1, columns: 4, storage: $0), controls: Matrix(rows: 1, columns: 1, storage: u.row(i))).gp.modelVariance.storage }, at: s.row(i))
            let fdControl = FiniteDifference.jacobian(of: { model.predict(states: Matrix(rows: 1, columns: 4, storage: s.row(i)), controls: Matrix(rows: 1, columns: 1, storage: $0)).gp.mean.storage }, at: u.row(i))
            for a in 0..<4 {
                for d in 0..<4 {
                    #expect(abs(msj[i, a * 4 + d] - fdState[a][d]) < 1e-6 * max(1, abs(fdState[a][d])))
                    #expect(abs(vsj[i, a * 4 + d] - fdVarState[a][d]) < 1e-6 * max(1, abs(fdVarState[a][d])))
                }
                #expect(abs(mcj[i, a] - fdControl[a][0]) < 1e-6 * max(1, abs(fdControl[a][0])))
            }
        }
    }
}
