import Foundation

/// A minimal reverse-mode automatic differentiation tape over scalars, for the small, branchy
/// computations that are tedious to differentiate by hand (EM for mixture resampling). Each node
/// records up to two parents with the local partial derivatives; ``gradient(seeds:)`` sweeps once
/// backwards. Not for the hot RP/TP paths, which are hand-derived.
final class ReverseTape {
    private(set) var values: [Double] = []
    private var parentA: [Int32] = [], partialA: [Double] = []
    private var parentB: [Int32] = [], partialB: [Double] = []

    init(capacity: Int = 1024) {
        values.reserveCapacity(capacity)
        parentA.reserveCapacity(capacity); partialA.reserveCapacity(capacity)
        parentB.reserveCapacity(capacity); partialB.reserveCapacity(capacity)
    }

    struct Node { let index: Int32 }

    @inline(__always) private func push(_ v: Double, _ a: Int32 = -1, _ da: Double = 0, _ b: Int32 = -1, _ db: Double = 0) -> Node {
        values.append(v)
        parentA.append(a); partialA.append(da)
        parentB.append(b); partialB.append(db)
        return Node(index: Int32(values.count - 1))
    }

    /// An independent input (or a constant: its adjoint is simply ignored).
    func input(_ v: Double) -> Node { push(v) }
    func value(_ n: Node) -> Double { values[Int(n.index)] }

    func add(_ x: Node, _ y: Node) -> Node { push(value(x) + value(y), x.index, 1, y.index, 1) }
    func sub(_ x: Node, _ y: Node) -> Node { push(value(x) - value(y), x.index, 1, y.index, -1) }
    func mul(_ x: Node, _ y: Node) -> Node { push(value(x) * value(y), x.index, value(y), y.index, value(x)) }
    func div(_ x: Node, _ y: Node) -> Node {
        let vy = value(y)
        return push(value(x) / vy, x.index, 1 / vy, y.index, -value(x) / (vy * vy))
    }
    func scale(_ x: Node, _ c: Double) -> Node { push(c * value(x), x.index, c) }
    func shift(_ x: Node, _ c: Double) -> Node { push(value(x) + c, x.index, 1) }
    func exp(_ x: Node) -> Node {
        let e = Foundation.exp(value(x))
        return push(e, x.index, e)
    }
    func log(_ x: Node) -> Node { push(Foundation.log(value(x)), x.index, 1 / value(x)) }
    func sqrt(_ x: Node) -> Node {
        let r = value(x).squareRoot()
        return push(r, x.index, 0.5 / r)
    }

    /// Σ of several nodes.
    func sum(_ xs: [Node]) -> Node {
        guard var s = xs.first else { return input(0) }
        for x in xs.dropFirst() { s = add(s, x) }
        return s
    }

    /// Adjoints of every node given the adjoints of some (e.g. outputs).
    func gradient(seeds: [(Node, Double)]) -> [Double] {
        var adjoint = [Double](repeating: 0, count: values.count)
        for (n, g) in seeds { adjoint[Int(n.index)] += g }
        for i in stride(from: values.count - 1, through: 0, by: -1) {
            let g = adjoint[i]
            if g == 0 { continue }
            let a = Int(parentA[i])
            if a >= 0 { adjoint[a] += g * partialA[i] }
            let b = Int(parentB[i])
            if b >= 0 { adjoint[b] += g * partialB[i] }
        }
        return adjoint
    }
}
