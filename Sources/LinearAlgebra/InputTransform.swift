import Foundation

/// Maps a state `x` `[D]` to features `x̃` `[E]`: the coordinates that are neither angles nor
/// excluded, in order, then (sin a, cos a) for each angle a in `angleIndices` order. Policies use it
/// with nothing excluded (the wire protocol's convention, `Policy.angle_indices`, so E = D + number of
/// angles); dynamics models exclude coordinates the motion does not depend on (the unicycle's yaw).
public struct InputTransform: Sendable, Equatable, Hashable, Codable {
    /// D.
    public let stateDimension: Int
    /// Indices of the state that are angles.
    public let angleIndices: [Int]
    /// Indices of the state that pass through unchanged, in order.
    public let plainIndices: [Int]

    public init(stateDimension: Int, angleIndices: [Int] = [], excluding excluded: [Int] = []) {
        precondition(angleIndices.allSatisfy { (0..<stateDimension).contains($0) }, "InputTransform: angle index out of 0..<\(stateDimension)")
        precondition(Set(angleIndices).count == angleIndices.count, "InputTransform: repeated angle index")
        precondition(Set(angleIndices).isDisjoint(with: excluded), "InputTransform: an angle cannot be excluded")
        self.stateDimension = stateDimension
        self.angleIndices = angleIndices
        self.plainIndices = (0..<stateDimension).filter { !angleIndices.contains($0) && !excluded.contains($0) }
    }

    /// E.
    public var inputDimension: Int { plainIndices.count + 2 * angleIndices.count }

    /// `x̃` of one state.
    public func apply(_ x: [Double]) -> [Double] {
        precondition(x.count == stateDimension, "InputTransform: state has \(x.count) values, expected \(stateDimension)")
        var out = plainIndices.map { x[$0] }
        for a in angleIndices {
            out.append(sin(x[a]))
            out.append(cos(x[a]))
        }
        return out
    }

    /// `x̃` of each row of `states` `[P × D]`, as `[P × E]`.
    public func apply(_ states: Matrix) -> Matrix {
        precondition(states.columns == stateDimension, "InputTransform: states have \(states.columns) columns, expected \(stateDimension)")
        if angleIndices.isEmpty && plainIndices.count == stateDimension { return states }
        let p = states.rows, d = stateDimension, e = inputDimension, plain = plainIndices.count
        var out = Matrix(rows: p, columns: e)
        states.storage.withUnsafeBufferPointer { s in
            out.storage.withUnsafeMutableBufferPointer { o in
                for i in 0..<p {
                    for (k, j) in plainIndices.enumerated() { o[i * e + k] = s[i * d + j] }
                    for (k, a) in angleIndices.enumerated() {
                        let v = s[i * d + a]
                        o[i * e + plain + 2 * k] = sin(v)
                        o[i * e + plain + 2 * k + 1] = cos(v)
                    }
                }
            }
        }
        return out
    }

    /// Chain rule: from Jacobians with respect to the input, `[P × (m·E)]` (row p holding an m×E
    /// matrix row-major), to Jacobians with respect to the state, `[P × (m·D)]`.
    public func pullback(_ inputJacobian: Matrix, states: Matrix, outputs m: Int) -> Matrix {
        let p = states.rows, d = stateDimension, e = inputDimension, plain = plainIndices.count
        precondition(inputJacobian.rows == p && inputJacobian.columns == m * e, "InputTransform.pullback: Jacobian is \(inputJacobian.rows)×\(inputJacobian.columns), expected \(p)×\(m * e)")
        var out = Matrix(rows: p, columns: m * d)
        inputJacobian.storage.withUnsafeBufferPointer { jIn in
            states.storage.withUnsafeBufferPointer { s in
                out.storage.withUnsafeMutableBufferPointer { o in
                    for i in 0..<p {
                        for r in 0..<m {
                            let inRow = i * m * e + r * e, outRow = i * m * d + r * d
                            for (k, j) in plainIndices.enumerated() { o[outRow + j] = jIn[inRow + k] }
                            for (k, a) in angleIndices.enumerated() {
                                let v = s[i * d + a]
                                o[outRow + a] = jIn[inRow + plain + 2 * k] * cos(v) - jIn[inRow + plain + 2 * k + 1] * sin(v)
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
