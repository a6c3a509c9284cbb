import Foundation

/// A dense, row-major matrix of `Double`.
///
/// Element (i, j) lives at `storage[i * columns + j]`. This is the layout every BLAS and LAPACK call
/// in this module is made with (`CblasRowMajor`, or the column-major transpose trick documented at
/// each call), so no copies are made to change layout.
///
/// Shape mismatches are programmer errors and stop with a `precondition`; failures that data can
/// cause (a matrix that is not positive definite) are thrown as ``LinearAlgebraError``.
public struct Matrix: Sendable, Equatable, Hashable, Codable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let columns: Int
    /// Row-major elements, `rows * columns` of them.
    public var storage: [Double]

    /// A `rows × columns` matrix with every element `value`.
    public init(rows: Int, columns: Int, repeating value: Double = 0) {
        precondition(rows >= 0 && columns >= 0, "Matrix: negative dimension \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        self.storage = Array(repeating: value, count: rows * columns)
    }

    /// A `rows × columns` matrix over row-major `storage`.
    public init(rows: Int, columns: Int, storage: [Double]) {
        precondition(rows >= 0 && columns >= 0, "Matrix: negative dimension \(rows)×\(columns)")
        precondition(
            storage.count == rows * columns,
            "Matrix: \(storage.count) elements for a \(rows)×\(columns) matrix")
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }

    /// A `rows × columns` matrix whose elements are left uninitialised (their bits are whatever the
    /// allocator returned), for outputs that a BLAS call overwrites entirely (`beta = 0`).
    /// Skips zero-filling, which is a measurable share of the GP's prediction.
    public init(uninitializedRows rows: Int, columns: Int) {
        precondition(rows >= 0 && columns >= 0, "Matrix: negative dimension \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        self.storage = [Double](unsafeUninitializedCapacity: rows * columns) { _, count in count = rows * columns }
    }

    /// A matrix from its rows; every row must have the same length.
    public init(_ rowArrays: [[Double]]) {
        let r = rowArrays.count
        let c = rowArrays.first?.count ?? 0
        precondition(rowArrays.allSatisfy { $0.count == c }, "Matrix: ragged rows")
        self.init(rows: r, columns: c, storage: rowArrays.flatMap { $0 })
    }

    /// A matrix whose element (i, j) is `element(i, j)`.
    public init(rows: Int, columns: Int, _ element: (Int, Int) -> Double) {
        var s = [Double]()
        s.reserveCapacity(rows * columns)
        for i in 0..<rows { for j in 0..<columns { s.append(element(i, j)) } }
        self.init(rows: rows, columns: columns, storage: s)
    }

    /// The `n × n` identity.
    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, columns: n)
        for i in 0..<n { m.storage[i * n + i] = 1 }
        return m
    }

    /// A square matrix with `diagonal` on its diagonal and zeros elsewhere.
    public static func diagonal(_ diagonal: [Double]) -> Matrix {
        let n = diagonal.count
        var m = Matrix(rows: n, columns: n)
        for i in 0..<n { m.storage[i * n + i] = diagonal[i] }
        return m
    }

    /// Whether the matrix is square.
    @inlinable public var isSquare: Bool { rows == columns }

    /// Element (i, j).
    @inlinable public subscript(i: Int, j: Int) -> Double {
        get {
            precondition(i >= 0 && i < rows && j >= 0 && j < columns, "Matrix: index (\(i), \(j)) out of \(rows)×\(columns)")
            return storage[i * columns + j]
        }
        set {
            precondition(i >= 0 && i < rows && j >= 0 && j < columns, "Matrix: index (\(i), \(j)) out of \(rows)×\(columns)")
            storage[i * columns + j] = newValue
        }
    }

    /// Row `i` as an array.
    public func row(_ i: Int) -> [Double] {
        precondition(i >= 0 && i < rows, "Matrix: row \(i) out of \(rows)")
        return Array(storage[(i * columns)..<((i + 1) * columns)])
    }

    /// The first `n` rows as a new matrix.
    public func firstRows(_ n: Int) -> Matrix {
        precondition(n >= 0 && n <= rows, "Matrix: first \(n) rows of \(rows)")
        return Matrix(rows: n, columns: columns, storage: Array(storage[0..<(n * columns)]))
    }

    /// Column `j` as an array.
    public func column(_ j: Int) -> [Double] {
        precondition(j >= 0 && j < columns, "Matrix: column \(j) out of \(columns)")
        return (0..<rows).map { storage[$0 * columns + j] }
    }

    /// The diagonal of a square matrix.
    public var diagonal: [Double] {
        precondition(isSquare, "Matrix: diagonal of a non-square \(rows)×\(columns) matrix")
        return (0..<rows).map { storage[$0 * columns + $0] }
    }

    /// The transpose.
    public var transposed: Matrix {
        var t = Matrix(rows: columns, columns: rows)
        storage.withUnsafeBufferPointer { src in
            t.storage.withUnsafeMutableBufferPointer { dst in
                for i in 0..<rows {
                    for j in 0..<columns { dst[j * rows + i] = src[i * columns + j] }
                }
            }
        }
        return t
    }

    /// The sum of the diagonal of a square matrix.
    public var trace: Double { diagonal.reduce(0, +) }

    /// Largest absolute element, 0 for an empty matrix.
    public var maxAbs: Double { storage.reduce(0) { max($0, abs($1)) } }

    /// Whether every element is finite.
    public var isFinite: Bool { storage.allSatisfy { $0.isFinite } }

    /// Makes a square matrix exactly symmetric by averaging it with its transpose.
    public mutating func symmetrize() {
        precondition(isSquare, "Matrix: symmetrize a non-square \(rows)×\(columns) matrix")
        let n = rows
        storage.withUnsafeMutableBufferPointer { a in
            for i in 0..<n {
                for j in (i + 1)..<max(i + 1, n) {
                    let v = 0.5 * (a[i * n + j] + a[j * n + i])
                    a[i * n + j] = v
                    a[j * n + i] = v
                }
            }
        }
    }

    /// Adds `value` to every diagonal element of a square matrix.
    public mutating func addToDiagonal(_ value: Double) {
        precondition(isSquare, "Matrix: diagonal of a non-square \(rows)×\(columns) matrix")
        for i in 0..<rows { storage[i * columns + i] += value }
    }
}

extension Matrix: CustomStringConvertible {
    public var description: String {
        var lines = ["Matrix \(rows)×\(columns)"]
        for i in 0..<min(rows, 8) {
            let shown = (0..<min(columns, 8)).map { String(format: "% .6g", self[i, $0]) }
            lines.append("  " + shown.joined(separator: " ") + (columns > 8 ? " …" : ""))
        }
        if rows > 8 { lines.append("  …") }
        return lines.joined(separator: "\n")
    }
}

/// Relative-and-absolute closeness of two matrices of the same shape:
/// `|a − b| ≤ absolute + relative · max(|a|, |b|)` for every element.
public func isApproximatelyEqual(
    _ a: Matrix, _ b: Matrix, relative: Double = 1e-12, absolute: Double = 0
) -> Bool {
    guard a.rows == b.rows, a.columns == b.columns else { return false }
    for (x, y) in zip(a.storage, b.storage) {
        if !(abs(x - y) <= absolute + relative * max(abs(x), abs(y))) { return false }
    }
    return true
}
