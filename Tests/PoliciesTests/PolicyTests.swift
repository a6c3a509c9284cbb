import Foundation
import LinearAlgebra
import Policies
import TestSupport
import Testing

/// Finite-difference checks of a policy's Jacobians at a batch of random states.
func checkJacobians(_ policy: some Policy, states: Matrix) {
    let p = states.rows, d = policy.stateDimension, m = policy.controlDimension, n = policy.parameterCount
    let eval = policy.evaluate(states: states, derivatives: .all)
    let stateJ = try! #require(eval.stateJacobian)
    let paramJ = try! #require(eval.parameterJacobian)
    #expect(stateJ.rows == p && stateJ.columns == m * d)
    #expect(paramJ.rows == p && paramJ.columns == m * n)
    var worstState = 0.0, worstParam = 0.0
    for i in 0..<p {
        let x = states.row(i)
        let fd = FiniteDifference.jacobian(of: { policy.control(for: $0) }, at: x)
        for r in 0..<m { for c in 0..<d { worstState = max(worstState, abs(fd[r][c] - stateJ[i, r * d + c]) / max(1, abs(fd[r][c]))) } }
        let theta = policy.parameters
        let fdTheta = FiniteDifference.jacobian(of: { t in
            var q = policy
            q.parameters = t
            return q.control(for: x)
        }, at: theta)
        for r in 0..<m { for c in 0..<n { worstParam = max(worstParam, abs(fdTheta[r][c] - paramJ[i, r * n + c]) / max(1, abs(fdTheta[r][c]))) } }
    }
    #expect(worstState < 1e-6, "state Jacobian error \(worstState)")
    #expect(worstParam < 1e-6, "parameter Jacobian error \(worstParam)")
}

@Suite("Policies")
struct PolicyTests {
    static let cartPoleTransform = InputTransform(stateDimension: 4, angleIndices: [3])

    @Test("RBF Jacobians against finite differences", arguments: [RBFPolicy.WidthMode.perDimension, .shared])
    func rbfJacobians(mode: RBFPolicy.WidthMode) {
        var rng = SeededGenerator(seed: 21)
        var policy = RBFPolicy.random(
            transform: Self.cartPoleTransform, controlLimits: [10], basisCount: 12,
            centreMean: [0, 0, 0, 0], centreStandardDeviations: [1, 1, 1, 2], widthMode: mode, using: &rng)
        // Non-trivial widths and larger weights so that every term matters.
        policy.logWidths = policy.logWidths.indices.map { _ in 0.3 * rng.nextGaussian() }
        policy.weights = Matrix.gaussian(rows: 12, columns: 1, using: &rng)
        let states = Matrix.gaussian(rows: 5, columns: 4, using: &rng)
        checkJacobians(policy, states: states)
    }

    @Test func rbfWithTwoControlsAndNoAngles() {
        var rng = SeededGenerator(seed: 22)
        var policy = RBFPolicy.random(
            transform: InputTransform(stateDimension: 3), controlLimits: [2, 5], basisCount: 7,
            centreMean: [0, 0, 0], centreStandardDeviations: [1, 1, 1], using: &rng)
        policy.weights = Matrix.gaussian(rows: 7, columns: 2, using: &rng)
        checkJacobians(policy, states: Matrix.gaussian(rows: 4, columns: 3, using: &rng))
    }

    @Test func linearJacobians() {
        var rng = SeededGenerator(seed: 23)
        let policy = LinearPolicy(
            transform: InputTransform(stateDimension: 10, angleIndices: [7, 9]), controlLimits: [10, 50],
            weights: Matrix.gaussian(rows: 2, columns: 12, using: &rng), bias: [0.1, -0.2])
        checkJacobians(policy, states: Matrix.gaussian(rows: 3, columns: 10, using: &rng))
    }

    @Test func rbfMatchesItsDefinition() {
        var rng = SeededGenerator(seed: 24)
        var policy = RBFPolicy.random(
            transform: Self.cartPoleTransform, controlLimits: [10], basisCount: 9,
            centreMean: [0, 0, 0, 0], centreStandardDeviations: [1, 1, 1, 1], using: &rng)
        policy.logWidths = [0.1, -0.2, 0.3, 0, 0.5]
        let x = [0.3, -0.5, 1.2, 2.0]
        let xt = [0.3, -0.5, 1.2, sin(2.0), cos(2.0)]
        var z = 0.0
        for b in 0..<9 {
            var q = 0.0
            for e in 0..<5 { q += pow(xt[e] - policy.centres[b, e], 2) / exp(2 * policy.logWidths[e]) }
            z += policy.weights[b, 0] * exp(-0.5 * q)
        }
        let expected = 10 * (9 * sin(z) + sin(3 * z)) / 8
        #expect(abs(policy.control(for: x)[0] - expected) < 1e-12)
    }

    @Test func saturationStaysWithinItsLimit() {
        let sat = Saturation(limit: 10)
        var z = -1e6
        var worst = 0.0
        while z <= 1e6 {
            worst = max(worst, abs(sat.value(z)))
            z += 997.13
        }
        for z in stride(from: -10.0, through: 10, by: 0.001) { worst = max(worst, abs(sat.value(z))) }
        #expect(worst <= 10)
        #expect(abs(sat.value(.pi / 2) - 10) < 1e-12, "reaches u_max at z = π/2")
        #expect(abs(sat.derivative(0.3) - (sat.value(0.3 + 1e-6) - sat.value(0.3 - 1e-6)) / 2e-6) < 1e-7)
        var rng = SeededGenerator(seed: 25)
        let policy = LinearPolicy(transform: InputTransform(stateDimension: 2), controlLimits: [3],
                                  weights: Matrix([[1e6, -1e6]]), bias: [0])
        for _ in 0..<1000 {
            let u = policy.control(for: [rng.nextGaussian(), rng.nextGaussian()])[0]
            #expect(abs(u) <= 3)
        }
    }

    @Test func parametersRoundTrip() {
        var rng = SeededGenerator(seed: 26)
        var policy = RBFPolicy.random(transform: Self.cartPoleTransform, controlLimits: [10], basisCount: 5,
                                      centreMean: [0, 0, 0, 0], centreStandardDeviations: [1, 1, 1, 1], using: &rng)
        #expect(policy.parameterCount == 5 * 5 + 5 + 5)
        let theta = (0..<policy.parameterCount).map { Double($0) }
        policy.parameters = theta
        #expect(policy.parameters == theta)
        #expect(policy.centres[1, 0] == 5 && policy.logWidths[0] == 25 && policy.weights[0, 0] == 30)
    }

    @Test func inputTransformPutsAnglesLast() {
        let t = InputTransform(stateDimension: 4, angleIndices: [1])
        let x̃ = t.apply([1, 0.5, 3, 4])
        #expect(x̃ == [1, 3, 4, sin(0.5), cos(0.5)])
        #expect(t.inputDimension == 5)
    }
}
