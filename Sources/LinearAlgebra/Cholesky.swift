import CLAPACKE
import Foundation

/// What to do when a matrix to be factorised is not numerically positive definite.
///
/// Kernel matrices of Gaussian processes are often positive definite only in exact arithmetic; PILCO
/// and GPML add a small multiple of the identity ("jitter") and try again. The jitter added is
/// recorded in ``Cholesky/jitter`` so that callers can log it.
public struct JitterPolicy: Sendable, Equatable {
    /// First jitter, relative to the mean of the diagonal (absolute when the mean is not positive).
    public var initial: Double
    /// Factor by which the jitter grows on each retry.
    public var growth: Double
    /// Retries after the first, jitter-free attempt.
    public var maxRetries: Int

    public init(initial: Double, growth: Double = 10, maxRetries: Int) {
        precondition(initial > 0 && growth > 1 && maxRetries >= 0, "JitterPolicy: invalid \(initial), \(growth), \(maxRetries)")
        self.initial = initial
        self.growth = growth
        self.maxRetries = maxRetries
    }

    /// Never add jitter: a matrix that is not positive definite is an error at once.
    public static let none = JitterPolicy(initial: 1, growth: 10, maxRetries: 0)
    /// Up to six retries, from 1e-10 to 1e-5 times the mean diagonal.
    public static let standard = JitterPolicy(initial: 1e-10, growth: 10, maxRetries: 6)
}

/// The Cholesky factorisation `A = L Lᵀ` of a symmetric positive definite matrix, with `L` lower
/// triangular (LAPACK `dpotrf`).
///
/// Everything that needs `A⁻¹` goes through the factor: solves are two triangular solves
/// (`dtrsm`), the inverse is `dpotri`, and `log det A = 2 Σ log Lᵢᵢ`.
public struct Cholesky: Sendable {
    /// The lower-triangular factor `[n × n]`, zeros above the diagonal.
    public let lower: Matrix
    /// The jitter that was added to the diagonal of `A` before it factorised (0 when none was
    /// needed). When positive, everything here is about `A + jitter·I`.
    public let jitter: Double

    /// The order `n` of the factorised matrix.
    public var order: Int { lower.rows }

    /// Factorises the symmetric matrix `a` (only its lower triangle is read).
    ///
    /// - Throws: ``LinearAlgebraError/nonFinite(routine:)`` for NaN or infinite input, and
    ///   ``LinearAlgebraError/notPositiveDefinite(order:minor:jitter:)`` when the matrix is not
    ///   positive definite even with the largest jitter `policy` allows.
    public init(_ a: Matrix, jitter policy: JitterPolicy = .none) throws {
        precondition(a.isSquare, "Cholesky: \(a.rows)×\(a.columns) is not square")
        lapackeChecksOff()
        let n = a.rows
        guard a.isFinite else { throw LinearAlgebraError.nonFinite(routine: "Cholesky") }
        let meanDiagonal = n > 0 ? a.diagonal.reduce(0, +) / Double(n) : 1
        let scale = meanDiagonal > 0 ? meanDiagonal : 1
        var added = 0.0
        var attempt = 0
        while true {
            var f = a
            if added > 0 { f.addToDiagonal(added) }
            let info = Cholesky.factorInPlace(&f)
            if info == 0 {
                self.lower = f
                self.jitter = added
                return
            }
            guard info > 0 else { throw LinearAlgebraError.lapack(routine: "dpotrf", info: info) }
            if attempt >= policy.maxRetries {
                throw LinearAlgebraError.notPositiveDefinite(order: n, minor: Int(info), jitter: added)
            }
            added = attempt == 0 ? policy.initial * scale : added * policy.growth
            attempt += 1
        }
    }

    /// Wraps an existing lower-triangular factor (for deserialised models). Not checked beyond shape.
    public init(lowerFactor: Matrix, jitter: Double = 0) {
        precondition(lowerFactor.isSquare, "Cholesky: factor \(lowerFactor.rows)×\(lowerFactor.columns) is not square")
        self.lower = lowerFactor
        self.jitter = jitter
    }

    /// Runs `dpotrf` on the row-major storage and zeros the strict upper triangle.
    ///
    /// Row-major `A` is column-major `Aᵀ = A`; LAPACK's column-major upper factor `U` with `A = UᵀU`
    /// sits, read row-major, in the lower triangle as `L = Uᵀ`. So no transposing copy is made.
    /// Returns LAPACK's `info`.
    private static func factorInPlace(_ f: inout Matrix) -> Int32 {
        let n = f.rows
        guard n > 0 else { return 0 }
        let info = f.storage.withUnsafeMutableBufferPointer { p in
            LAPACKE_dpotrf(LAPACK_COL_MAJOR, Int8(UInt8(ascii: "U")), LapackInt(n), p.baseAddress, LapackInt(n))
        }
        guard info == 0 else { return info }
        f.storage.withUnsafeMutableBufferPointer { p in
            for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { p[i * n + j] = 0 } }
        }
        return 0
    }

    /// `log det A = 2 Σ log Lᵢᵢ`.
    public var logDeterminant: Double {
        var s = 0.0
        for i in 0..<order { s += log(lower.storage[i * order + i]) }
        return 2 * s
    }

    /// Solves `A X = B` for `X` `[n × k]` (two `dtrsm`).
    public func solve(_ b: Matrix) -> Matrix {
        precondition(b.rows == order, "Cholesky.solve: B has \(b.rows) rows, expected \(order)")
        var x = b
        Matrix.trsm(.left, lower, triangle: .lower, .none, &x)
        Matrix.trsm(.left, lower, triangle: .lower, .transposed, &x)
        return x
    }

    /// Solves `A x = b` for a vector.
    public func solve(_ b: [Double]) -> [Double] {
        solve(Matrix(rows: b.count, columns: 1, storage: b)).storage
    }

    /// Solves `L X = B` for `X` (one `dtrsm`): the "whitening" half of a solve.
    public func solveLower(_ b: Matrix) -> Matrix {
        precondition(b.rows == order, "Cholesky.solveLower: B has \(b.rows) rows, expected \(order)")
        var x = b
        Matrix.trsm(.left, lower, triangle: .lower, .none, &x)
        return x
    }

    /// `A⁻¹`, symmetric, through `dpotri` (same storage trick as the factorisation).
    public func inverse() throws -> Matrix {
        let n = order
        var inv = lower
        guard n > 0 else { return inv }
        let info = inv.storage.withUnsafeMutableBufferPointer { p in
            LAPACKE_dpotri(LAPACK_COL_MAJOR, Int8(UInt8(ascii: "U")), LapackInt(n), p.baseAddress, LapackInt(n))
        }
        if info > 0 { throw LinearAlgebraError.singular(order: n, index: Int(info) - 1) }
        if info < 0 { throw LinearAlgebraError.lapack(routine: "dpotri", info: info) }
        inv.storage.withUnsafeMutableBufferPointer { p in
            for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { p[i * n + j] = p[j * n + i] } }
        }
        return inv
    }

    /// `L⁻¹`, lower triangular, through `dtrtri`.
    public func lowerInverse() throws -> Matrix {
        try lower.triangularInverse(triangle: .lower)
    }
}

extension Matrix {
    /// The inverse of a triangular matrix (only `triangle` read; the other triangle of the result is
    /// zero), through `dtrtri`.
    ///
    /// - Throws: ``LinearAlgebraError/singular(order:index:)`` for a zero diagonal element.
    public func triangularInverse(triangle: Triangle) throws -> Matrix {
        precondition(isSquare, "triangularInverse: \(rows)×\(columns) is not square")
        let n = rows
        guard n > 0 else { return self }
        guard isFinite else { throw LinearAlgebraError.nonFinite(routine: "triangularInverse") }
        lapackeChecksOff()
        var inv = self
        // Row-major lower is column-major upper, and vice versa.
        let uplo = Int8(UInt8(ascii: triangle == .lower ? "U" : "L"))
        let info = inv.storage.withUnsafeMutableBufferPointer { p in
            LAPACKE_dtrtri(LAPACK_COL_MAJOR, uplo, Int8(UInt8(ascii: "N")), LapackInt(n), p.baseAddress, LapackInt(n))
        }
        if info > 0 { throw LinearAlgebraError.singular(order: n, index: Int(info) - 1) }
        if info < 0 { throw LinearAlgebraError.lapack(routine: "dtrtri", info: info) }
        inv.storage.withUnsafeMutableBufferPointer { p in
            for i in 0..<n {
                for j in 0..<n where (triangle == .lower ? j > i : j < i) { p[i * n + j] = 0 }
            }
        }
        return inv
    }

    /// Solves `T X = B` for a triangular `T` (only `triangle` read), checking for singularity first.
    public func solveTriangular(_ b: Matrix, triangle: Triangle, _ op: Transposition = .none) throws -> Matrix {
        precondition(isSquare && b.rows == rows, "solveTriangular: T \(rows)×\(columns), B \(b.rows)×\(b.columns)")
        for i in 0..<rows where storage[i * columns + i] == 0 {
            throw LinearAlgebraError.singular(order: rows, index: i)
        }
        var x = b
        Matrix.trsm(.left, self, triangle: triangle, op, &x)
        return x
    }
}

/// LAPACKE scans every input matrix for NaN before each call (a full extra pass); this module checks
/// finiteness itself where data come in, so the scan is turned off, once per process.
private let lapackeNaNCheckOff: Void = LAPACKE_set_nancheck(0)

@inline(__always) func lapackeChecksOff() { _ = lapackeNaNCheckOff }

/// LAPACKE's `lapack_int` (a macro, so not imported): 32-bit in Debian's LP64 build.
typealias LapackInt = Int32
