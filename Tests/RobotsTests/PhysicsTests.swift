import Foundation
import LinearAlgebra
import Robots
import Testing

@Suite("Equations of motion and their integration")
struct PhysicsTests {
    /// Relative energy drift over `seconds` of zero-input simulation in 0.1 s zero-order-hold steps.
    static func energyDrift(_ plant: some Plant, from x0: [Double], seconds: Double = 10) -> Double {
        let e0 = plant.energy(x0)
        var x = x0
        var worst = 0.0
        let zero = [Double](repeating: 0, count: plant.controlDimension)
        for _ in 0..<Int((seconds / 0.1).rounded()) {
            x = plant.step(x, control: zero, duration: 0.1)
            worst = max(worst, abs(plant.energy(x) - e0) / abs(e0))
        }
        return worst
    }

    @Test("cart-pole energy is conserved without friction or input", arguments: [UInt64(1), 2, 3])
    func cartPoleEnergy(seed: UInt64) {
        var plant = CartPole()
        plant.friction = 0
        var rng = SeededGenerator(seed: seed)
        let x0 = [rng.nextGaussian(), 2 * rng.nextGaussian(), 5 * rng.nextGaussian(), Double.random(in: -.pi ... .pi, using: &rng)]
        let drift = Self.energyDrift(plant, from: x0)
        #expect(drift < 1e-6, "relative drift \(drift)")
    }

    @Test("unicycle energy is conserved without input", arguments: [UInt64(1), 2, 3])
    func unicycleEnergy(seed: UInt64) {
        let plant = Unicycle()
        var rng = SeededGenerator(seed: seed)
        var x0 = (0..<12).map { _ in 0.3 * rng.nextGaussian() }
        x0[Unicycle.Index.roll] = 0.2 * rng.nextGaussian()
        x0[Unicycle.Index.fork] = 0.2 * rng.nextGaussian()
        // It falls within a second from a random state; the equations stay valid as an ODE beyond
        // that (the wheel would pass through the ground), so energy is still conserved over 10 s.
        let drift = Self.energyDrift(plant, from: x0)
        #expect(drift < 1e-6, "relative drift \(drift)")
    }
}

@Suite("Integration accuracy")
struct IntegrationTests {
    /// Classic RK4 with a fixed step, written here independently of the package's integrator.
    static func rk4(_ plant: some Plant, _ x0: [Double], _ u: [Double], duration: Double, substeps: Int) -> [Double] {
        let h = duration / Double(substeps)
        var x = x0
        func f(_ s: [Double]) -> [Double] { plant.derivative(state: s, control: u) }
        for _ in 0..<substeps {
            let k1 = f(x)
            let k2 = f(zip(x, k1).map { $0 + 0.5 * h * $1 })
            let k3 = f(zip(x, k2).map { $0 + 0.5 * h * $1 })
            let k4 = f(zip(x, k3).map { $0 + h * $1 })
            for i in x.indices { x[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]) }
        }
        return x
    }

    @Test("a cart-pole step matches RK4 with 1e5 substeps to 1e-8", arguments: [UInt64(1), 2, 3, 4])
    func cartPoleStep(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let plant = CartPole()
        let x0 = [rng.nextGaussian(), 2 * rng.nextGaussian(), 8 * rng.nextGaussian(), Double.random(in: -.pi ... .pi, using: &rng)]
        let u = [Double.random(in: -10...10, using: &rng)]
        let reference = Self.rk4(plant, x0, u, duration: 0.1, substeps: 100_000)
        let x1 = plant.step(x0, control: u, duration: 0.1)
        let error = zip(x1, reference).map { abs($0 - $1) }.max()!
        #expect(error < 1e-8, "max error \(error)")
    }

    @Test func unicycleStepMatchesRK4() {
        var rng = SeededGenerator(seed: 9)
        let plant = Unicycle()
        var x0 = (0..<12).map { _ in 0.5 * rng.nextGaussian() }
        x0[Unicycle.Index.roll] = 0.1
        let u = [3.0, -20.0]
        let reference = Self.rk4(plant, x0, u, duration: 0.1, substeps: 20_000)
        let error = zip(plant.step(x0, control: u, duration: 0.1), reference).map { abs($0 - $1) }.max()!
        #expect(error < 1e-8, "max error \(error)")
    }

    @Test func frictionDissipatesEnergy() {
        let plant = CartPole()  // b = 0.1
        var x = [0, 1.0, 3.0, 1.0]
        var energy = plant.energy(x)
        for _ in 0..<50 {
            x = plant.step(x, control: [0], duration: 0.1)
            let e = plant.energy(x)
            #expect(e <= energy + 1e-9)
            energy = e
        }
    }
}

@Suite("Balancing proves the physics and the sign conventions")
struct BalancingTests {
    @Test func lqrKeepsTheCartPoleUprightFor10Seconds() throws {
        let plant = CartPole()
        let upright = [0.0, 0, 0, .pi]
        let lqr = try LinearQuadraticRegulator(
            plant: plant, state: upright, control: [0], period: 0.1,
            q: .diagonal([1, 1, 1, 10]), r: .diagonal([0.1]))
        // Open loop the upright pole is unstable: A has an eigenvalue outside the unit circle.
        var x = [0.05, 0, 0, .pi - 0.1]
        var free = x
        var maxTilt = 0.0, maxForce = 0.0
        for _ in 0..<100 {
            let u = lqr.control(for: x).map { min(max($0, -10), 10) }
            maxForce = max(maxForce, abs(u[0]))
            x = plant.step(x, control: u, duration: 0.1)
            free = plant.step(free, control: [0], duration: 0.1)
            maxTilt = max(maxTilt, abs(x[3] - .pi))
        }
        #expect(maxTilt < 0.15, "largest tilt \(maxTilt) rad")
        #expect(abs(x[3] - .pi) < 1e-3 && abs(x[0]) < 1e-2, "final state \(x)")
        #expect(abs(free[3] - .pi) > 1, "without control the pole falls: \(free)")
        #expect(maxForce <= 10)
    }
}
