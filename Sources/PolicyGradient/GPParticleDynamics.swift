import GaussianProcess
import LinearAlgebra

/// Which noise a sampled prediction carries (PIPPS §4.2): y = mean + sd·ε with
/// sd² = modelScale·σf² + noiseScale·σn².
public struct PredictionNoise: Sendable, Equatable {
    public var modelScale: Double
    public var noiseScale: Double

    public init(modelScale: Double, noiseScale: Double) {
        self.modelScale = modelScale
        self.noiseScale = noiseScale
    }

    /// σf² + σn², the default.
    public static let full = PredictionNoise(modelScale: 1, noiseScale: 1)
    /// σn² only: TP−σf.
    public static let noiseOnly = PredictionNoise(modelScale: 0, noiseScale: 1)
    /// σf² + 100 σn²: TP+σn.
    public static let inflatedNoise = PredictionNoise(modelScale: 1, noiseScale: 100)
}

/// A GP dynamics model seen as a ``ParticleDynamics``: the next state is x + Δ with Δ from the GP.
public struct GPParticleDynamics: ParticleDynamics {
    public let model: DynamicsModel
    public var noise: PredictionNoise

    public init(model: DynamicsModel, noise: PredictionNoise = .full) {
        self.model = model
        self.noise = noise
    }

    public var stateDimension: Int { model.features.stateDimension }
    public var controlDimension: Int { model.features.controlDimension }

    public func predict(states: Matrix, controls: Matrix, derivatives: Bool) -> TransitionDistribution {
        let p = states.rows, d = stateDimension, u = controlDimension
        let prediction = model.predict(states: states, controls: controls, derivatives: derivatives)
        var mean = prediction.gp.mean
        mean.add(states)
        // The SD's Jacobian with respect to the GP inputs is not needed here (it is formed below with
        // respect to state and control), so it is not computed.
        var values = prediction.gp
        values.modelVarianceJacobian = nil
        let (sd, _) = values.standardDeviation(modelScale: noise.modelScale, noiseScale: noise.noiseScale)
        guard derivatives, var msj = prediction.meanStateJacobian, let mcj = prediction.meanControlJacobian,
              let vsj = prediction.varianceStateJacobian, let vcj = prediction.varianceControlJacobian
        else { return TransitionDistribution(mean: mean, sd: sd) }
        for i in 0..<p { for a in 0..<d { msj.storage[i * d * d + a * d + a] += 1 } }
        // ∂sd/∂· = modelScale · ∂σf²/∂· / (2 sd).
        var ssj = vsj, scj = vcj
        for i in 0..<p {
            for a in 0..<d {
                let s = sd.storage[i * d + a]
                let f = s > 0 ? noise.modelScale / (2 * s) : 0
                for c in 0..<d { ssj.storage[i * d * d + a * d + c] *= f }
                for c in 0..<u { scj.storage[i * d * u + a * u + c] *= f }
            }
        }
        return TransitionDistribution(mean: mean, sd: sd, meanStateJacobian: msj, meanControlJacobian: mcj,
                                      sdStateJacobian: ssj, sdControlJacobian: scj)
    }
}
