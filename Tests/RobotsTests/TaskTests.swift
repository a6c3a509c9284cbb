import Foundation
import LinearAlgebra
import Robots
import TestSupport
import Testing

@Suite("Observation noise")
struct NoiseTests {
    @Test("sample standard deviations match the configured ones within 5%", arguments: [0.01, 1.0, 16.0])
    func sampleDeviations(k: Double) {
        var rng = SeededGenerator(seed: 42)
        for noise in [ObservationNoise.cartPole(multiplier: k), .unicycle(multiplier: k)] {
            let n = noise.baseStandardDeviations.count
            let truth = (0..<n).map { Double($0) - 1.5 }
            var sum = [Double](repeating: 0, count: n), sumSq = sum
            let samples = 100_000
            for _ in 0..<samples {
                let y = noise.observe(truth, using: &rng)
                for i in 0..<n {
                    let e = y[i] - truth[i]
                    sum[i] += e
                    sumSq[i] += e * e
                }
            }
            for i in 0..<n {
                let mean = sum[i] / Double(samples)
                let sd = (sumSq[i] / Double(samples) - mean * mean).squareRoot()
                let expected = noise.baseStandardDeviations[i] * k.squareRoot()
                #expect(abs(sd - expected) / expected < 0.05, "state \(i): \(sd) vs \(expected)")
                #expect(abs(mean) < 5 * expected / Double(samples).squareRoot())
            }
        }
    }

    @Test func cartPoleBaseNoiseIsThePapers() {
        let s = ObservationNoise.cartPole(multiplier: 4).standardDeviations
        #expect(abs(s[0] - 0.02) < 1e-15 && abs(s[1] - 0.2) < 1e-15)
        #expect(abs(s[2] - 20 * .pi / 180) < 1e-15 && abs(s[3] - 2 * .pi / 180) < 1e-15)
    }
}

@Suite("Costs")
struct CostTests {
    static let costs: [any CostFunction] = [CartPoleAngleCost(), CartPoleTipCost(), UnicycleCost()]

    @Test("gradients match finite differences at random states", arguments: 0..<3)
    func gradients(index: Int) {
        let cost = Self.costs[index]
        var rng = SeededGenerator(seed: UInt64(index + 1))
        for _ in 0..<20 {
            let s = (0..<cost.stateDimension).map { _ in 0.7 * rng.nextGaussian() + (index < 2 ? 0 : 0) }
            let (c, g) = cost.costAndGradient(s)
            #expect(c == cost.cost(s))
            #expect(c >= 0 && c <= 1)
            let fd = FiniteDifference.gradient(of: { cost.cost($0) }, at: s)
            let error = zip(g, fd).map { abs($0 - $1) }.max()!
            #expect(error < 1e-8, "\(cost.name): |analytic − FD| = \(error)")
        }
    }

    @Test func targetsCostNothing() {
        #expect(CartPoleAngleCost().cost([0, 3, -2, .pi]) == 0)
        #expect(abs(CartPoleTipCost().cost([0, 1, 1, .pi])) < 1e-15)
        #expect(abs(CartPoleTipCost().cost([0, 0, 0, -.pi])) < 1e-15, "the tip cost accepts either swing-up direction")
        #expect(CartPoleAngleCost().cost([0, 0, 0, -.pi]) > 0.99, "the angle cost has one correct direction")
        #expect(UnicycleCost().cost(Array(repeating: 0, count: 10)) == 0)
        #expect(UnicycleCost().cost([0, 0, 0, 0, 0, 0, 0, 1.2, 0, 0]) > 0.5, "a fallen unicycle costs")
    }

    @Test func batchCostsAgreeWithSingle() {
        var rng = SeededGenerator(seed: 5)
        let states = Matrix.gaussian(rows: 7, columns: 4, using: &rng)
        let (c, g) = CartPoleTipCost().costsAndGradients(states)
        for p in 0..<7 {
            let single = CartPoleTipCost().costAndGradient(states.row(p))
            #expect(c[p] == single.cost && g.row(p) == single.gradient)
        }
    }
}

@Suite("Tasks, rollouts and the success test")
struct TaskTests {
    @Test func standardTasksFollowThePaper() throws {
        let cart = try #require(Task.named("cartpole-swingup", noiseMultiplier: 1))
        #expect(cart.horizon == 30 && cart.controlPeriod == 0.1 && cart.randomTrials == 1 && cart.learnedTrials == 15)
        #expect(cart.cost.name == "angle" && cart.controlLimits == [10])
        let tip = try #require(Task.named("cartpole-swingup-tip"))
        #expect(tip.cost.name == "tip")
        let uni = try #require(Task.named("unicycle-balance", noiseMultiplier: 1))
        #expect(uni.horizon == 20 && uni.randomTrials == 5 && uni.learnedTrials == 30 && uni.controlLimits == [10, 50])
        #expect(uni.representation.dimension == 10)
        #expect(Task.named("pogo-stick") == nil)
        // Every listed name gives a task of that name; the older names are aliases.
        for name in Task.names { #expect(Task.named(name)?.name == name) }
        #expect(Task.named("cartpole-swingup")?.name == "cartpole-angle" && Task.named("unicycle-balance")?.name == "unicycle")
        let balance = try #require(Task.named("cartpole-balance"))
        #expect(balance.initialState.mean[3] == .pi && balance.learnedTrials == 3)
    }

    @Test func rolloutRecordsWhatHappened() {
        let task = Task.cartPoleSwingUp(noiseMultiplier: 1)
        var rng = SeededGenerator(seed: 3)
        let t = task.rollout(using: &rng) { _, _ in [25] }  // clipped to the limit
        #expect(t.steps == 30 && t.states.count == 31 && t.observations.count == 31 && t.costs.count == 30)
        #expect(t.controls.allSatisfy { $0 == [10] })
        #expect(!t.endedEarly)
        // Same seed, same trajectory.
        var again = SeededGenerator(seed: 3)
        #expect(task.rollout(using: &again) { _, _ in [25] } == t)
    }

    @Test func aFallenUnicycleEndsTheTrialWithFullCost() {
        let task = Task.unicycleBalancing()
        var rng = SeededGenerator(seed: 1)
        var start = [Double](repeating: 0, count: 12)
        start[Unicycle.Index.roll] = 0.6
        let t = task.rollout(initialState: start, using: &rng) { _, _ in [0, 0] }
        #expect(t.endedEarly && t.steps < 20 && t.costs.count == 20)
        #expect(t.costs.suffix(20 - t.steps).allSatisfy { $0 == 1 })
        #expect(!task.successTest.passes([t.costs]))
    }

    @Test func unicycleLearningStateIsInTheUnicyclesFrame() {
        let r = StateRepresentation(.unicycle)
        var x = [Double](repeating: 0, count: 12)
        x[Unicycle.Index.x] = 1; x[Unicycle.Index.y] = 2; x[Unicycle.Index.yaw] = .pi / 2
        let s = r.learningState(from: x)
        // Heading +y: the origin is 2 m behind and 1 m to the right, i.e. (xc, yc) = (−2, 1).
        #expect(abs(s[5] + 2) < 1e-12 && abs(s[6] - 1) < 1e-12)
        #expect(s.count == 10 && s[8] == .pi / 2)
    }

    @Test func successTestLooksAtTheEndOfTheTrial() {
        let test = SuccessTest(window: 10, threshold: 0.2)
        let good = Array(repeating: 1.0, count: 20) + Array(repeating: 0.05, count: 10)
        let late = Array(repeating: 0.05, count: 20) + Array(repeating: 1.0, count: 10)
        #expect(test.passes([good, good]))
        #expect(!test.passes([late]))
        #expect(abs(test.finalCost([good, late]) - 0.525) < 1e-12)
    }
}
