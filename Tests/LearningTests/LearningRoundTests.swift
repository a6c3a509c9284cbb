import Foundation
import GaussianProcess
import Learning
import LinearAlgebra
import Policies
import PolicyGradient
import Robots
import Testing

@Suite("A learning round")
struct LearningRoundTests {
    static func randomTrials(_ task: Task, count: Int, seed: UInt64) -> [ObservedTrial] {
        task.randomRollouts(count: count, seed: seed).map { ObservedTrial($0, task: task) }
    }

    static func initialPolicy(_ task: Task) -> RBFPolicy {
        var rng = SeededGenerator(seed: 5)
        let s = task.initialLearningState
        return RBFPolicy.random(transform: InputTransform(stateDimension: 4, angleIndices: [3]), controlLimits: task.controlLimits,
                                basisCount: 10, centreMean: s.mean, centreStandardDeviations: s.standardDeviations, using: &rng)
    }

    @Test("the optimised policy has a lower predicted return", arguments: ["tp", "rp-fs", "pilco"])
    func improvesThePredictedReturn(estimator: String) throws {
        let task = Task.cartPoleSwingUp(noiseMultiplier: 1)
        var settings = LearningSettings()
        try settings.selectMethod(estimator)
        settings.particles = 50
        settings.evaluations = 40
        settings.learningRate = 0.02
        settings.model.training.maxIterations = 50
        var calls = 0
        let result = try LearningRound.run(task: task, trials: Self.randomTrials(task, count: 2, seed: 1), policy: Self.initialPolicy(task),
                                           settings: settings) { _, _ in calls += 1 }
        #expect(calls == result.returnTrace.count && calls > 0)
        #expect(result.finalReturn < result.initialReturn - 0.05, "\(estimator): \(result.initialReturn) → \(result.finalReturn)")
        let finite = result.policy.parameters.allSatisfy { $0.isFinite }
        #expect(finite)
        #expect(result.model.gp.inputs.rows == 60)
    }

    @Test func methodsByName() throws {
        var settings = LearningSettings()
        for name in LearningSettings.methodNames { try settings.selectMethod(name) }
        try settings.selectMethod("tp-sf")
        #expect(settings.noise == .noiseOnly && settings.estimator.method == .totalPropagation && !settings.momentMatching)
        try settings.selectMethod("pilco")
        #expect(settings.momentMatching)
        #expect(throws: LearningError.unknownMethod("pipps")) { try settings.selectMethod("pipps") }
    }

    @Test func initialLearningStateOfTheUnicycle() {
        let s = Task.unicycleBalancing().initialLearningState
        #expect(s.dimension == 10)
        // xc, yc come from x, y ~ N(0, 0.1²) rotated by a small yaw: about the same spread.
        #expect(abs(s.standardDeviations[5] - 0.1) < 0.01 && abs(s.standardDeviations[6] - 0.1) < 0.01)
        #expect(abs(s.standardDeviations[7] - 0.02) < 0.002)
    }
}
