import LinearAlgebra
import Policies

/// The distribution of the next state for a batch of (state, control) pairs: independent Gaussians
/// per dimension, `x' ~ N(mean, diag(sd²))`, with Jacobians on request.
///
/// Shapes (P pairs, D states, U controls): `mean`, `sd` `[P × D]`; `meanStateJacobian`,
/// `sdStateJacobian` `[P × (D·D)]` (row p: ∂/∂x as a D×D matrix, row-major); `meanControlJacobian`,
/// `sdControlJacobian` `[P × (D·U)]`.
public struct TransitionDistribution: Sendable {
    public var mean: Matrix
    public var sd: Matrix
    public var meanStateJacobian: Matrix?
    public var meanControlJacobian: Matrix?
    public var sdStateJacobian: Matrix?
    public var sdControlJacobian: Matrix?

    public init(mean: Matrix, sd: Matrix, meanStateJacobian: Matrix? = nil, meanControlJacobian: Matrix? = nil,
                sdStateJacobian: Matrix? = nil, sdControlJacobian: Matrix? = nil) {
        self.mean = mean
        self.sd = sd
        self.meanStateJacobian = meanStateJacobian
        self.meanControlJacobian = meanControlJacobian
        self.sdStateJacobian = sdStateJacobian
        self.sdControlJacobian = sdControlJacobian
    }
}

/// What the estimators need of a model: for a batch of inputs, the predictive mean and standard
/// deviation of the next state, and their Jacobians (PIPPS's point: any differentiable probabilistic
/// model plugs in — a GP, the tests' closed-form model, a network or an ensemble).
public protocol ParticleDynamics: Sendable {
    var stateDimension: Int { get }
    var controlDimension: Int { get }
    func predict(states: Matrix, controls: Matrix, derivatives: Bool) -> TransitionDistribution
}

/// What the estimators need of a policy: a deterministic control for a batch of states, with its
/// Jacobians with respect to the state and the parameters, and the flat parameter vector.
public protocol ParticlePolicy: Sendable {
    var parameterCount: Int { get }
    var parameters: [Double] { get set }
    /// Controls `[P × U]` and, on request, `∂u/∂x` `[P × (U·D)]` and `∂u/∂θ` `[P × (U·N)]`.
    func evaluate(states: Matrix, derivatives: PolicyDerivatives) -> PolicyEvaluation
}

extension RBFPolicy: ParticlePolicy {}
extension LinearPolicy: ParticlePolicy {}
