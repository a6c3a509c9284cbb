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
