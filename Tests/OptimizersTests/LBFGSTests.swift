import Optimizers
import Testing

@Suite("L-BFGS")
struct LBFGSTests {
    @Test func minimisesRosenbrock() {
        let result = LBFGS(maxIterations: 500, maxEvaluations: 2000, gradientTolerance: 1e-9).minimize([-1.2, 1]) { v in
            let x = v[0], y = v[1]
            let f = 100 * (y - x * x) * (y - x * x) + (1 - x) * (1 - x)
            return (f, [-400 * x * (y - x * x) - 2 * (1 - x), 200 * (y - x * x)])
        }
        #expect(abs(result.x[0] - 1) < 1e-6 && abs(result.x[1] - 1) < 1e-6, "\(result.x), stop \(result.stop)")
        #expect(result.value < 1e-12)
    }

    @Test func minimisesAnIllConditionedQuadraticIn20Dimensions() {
        // Condition number 79; SciPy's L-BFGS-B with the same memory needs 95 iterations here.
        let scales = (0..<20).map { pow(10.0, Double($0) / 10) }
        let result = LBFGS(maxIterations: 300, maxEvaluations: 1000, gradientTolerance: 1e-10, relativeTolerance: 0).minimize(Array(repeating: 1, count: 20)) { x in
            (zip(x, scales).reduce(0) { $0 + 0.5 * $1.1 * $1.0 * $1.0 }, zip(x, scales).map { $0 * $1 })
        }
        #expect(result.x.allSatisfy { abs($0) < 1e-8 }, "\(result.stop) \(result.iterations) \(result.evaluations) \(result.value) \(result.x.map { abs($0) }.max()!)")
    }

    @Test func backsOffFromWhereTheObjectiveIsUndefined() {
        // f is undefined (infinite) for x > 2; the minimum of (x − 3)² on the defined part is at the edge.
        let result = LBFGS(maxIterations: 100).minimize([0]) { v in
            v[0] > 2 ? (.infinity, [0]) : ((v[0] - 3) * (v[0] - 3), [2 * (v[0] - 3)])
        }
        #expect(result.value.isFinite && result.x[0] <= 2 && result.x[0] > 1.9)
    }

    @Test func refusesANonFiniteStart() {
        let result = LBFGS().minimize([0]) { _ in (.nan, [0]) }
        #expect(result.stop == .nonFiniteStart)
    }
}

import Foundation
