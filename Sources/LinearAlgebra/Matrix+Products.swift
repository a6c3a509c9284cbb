import CBLAS

/// Which triangle of a square matrix holds the data.
public enum Triangle: Sendable {
    case lower, upper
}

/// Whether an operand enters a product as it is or transposed.
public enum Transposition: Sendable {
    case none, transposed

    @usableFromInline var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

/// Which side of the product the special (symmetric or triangular) matrix stands on.
public enum Side: Sendable {
    case left, right

    @usableFromInline var cblas: CBLAS_SIDE { self == .left ? CblasLeft : CblasRight }
}

extension Triangle {
    @usableFromInline var cblas: CBLAS_UPLO { self == .lower ? CblasLower : CblasUpper }
}

// MARK: - Level 3: dgemm, dsymm, dtrmm, dtrsm

extension Matrix {
    /// `C ← α op(A) op(B) + β C` through `cblas_dgemm`, in place in `c`.
    ///
    /// - Parameters:
    ///   - a: `[m × k]` after `op`.
    ///   - b: `[k × n]` after `op`.
    ///   - c: `[m × n]`; read only when `beta != 0`.
    public static func gemm(
        _ a: Matrix, _ opA: Transposition = .none,
        _ b: Matrix, _ opB: Transposition = .none,
        alpha: Double = 1, beta: Double = 0, into c: inout Matrix
    ) {
        let (m, k) = opA == .none ? (a.rows, a.columns) : (a.columns, a.rows)
        let (kb, n) = opB == .none ? (b.rows, b.columns) : (b.columns, b.rows)
        precondition(k == kb, "gemm: inner dimensions \(k) and \(kb) differ")
        precondition(c.rows == m && c.columns == n, "gemm: result is \(c.rows)×\(c.columns), expected \(m)×\(n)")
        guard m > 0, n > 0 else { return }
        if k == 0 {
            c.scale(by: beta)
            return
        }
        BLASFlops.note(.gemm, m: m, n: n, k: k)
        a.storage.withUnsafeBufferPointer { pa in
            b.storage.withUnsafeBufferPointer { pb in
                c.storage.withUnsafeMutableBufferPointer { pc in
                    cblas_dgemm(
                        CblasRowMajor, opA.cblas, opB.cblas,
                        blasint(m), blasint(n), blasint(k),
                        alpha, pa.baseAddress, blasint(max(a.columns, 1)),
                        pb.baseAddress, blasint(max(b.columns, 1)),
                        beta, pc.baseAddress, blasint(max(n, 1)))
                }
            }
        }
    }

    /// `op(self) · op(other)` as a new matrix (one `cblas_dgemm`).
    public func multiplied(
        by other: Matrix, _ opSelf: Transposition = .none, _ opOther: Transposition = .none
    ) -> Matrix {
        let m = opSelf == .none ? rows : columns
        let n = opOther == .none ? other.columns : other.rows
        let k = opSelf == .none ? columns : rows
        // With k = 0 gemm scales by beta = 0, which would keep uninitialised values: zero-fill then.
        var c = k == 0 ? Matrix(rows: m, columns: n) : Matrix(uninitializedRows: m, columns: n)
        Matrix.gemm(self, opSelf, other, opOther, into: &c)
        return c
    }

    /// The matrix product `a · b`.
    public static func * (a: Matrix, b: Matrix) -> Matrix { a.multiplied(by: b) }

    /// `C ← α A B + β C` (side `.left`) or `C ← α B A + β C` (side `.right`) through `cblas_dsymm`,
    /// with `A` symmetric and only its `triangle` read.
    ///
    /// - Parameters:
    ///   - a: symmetric `[m × m]` (left) or `[n × n]` (right).
    ///   - b: `[m × n]`.
    ///   - c: `[m × n]`.
    public static func symm(
        _ side: Side, _ a: Matrix, triangle: Triangle = .lower, _ b: Matrix,
        alpha: Double = 1, beta: Double = 0, into c: inout Matrix
    ) {
        precondition(a.isSquare, "symm: A is \(a.rows)×\(a.columns), not square")
        let m = b.rows, n = b.columns
        precondition(a.rows == (side == .left ? m : n), "symm: A of order \(a.rows) does not fit B \(m)×\(n) on the \(side)")
        precondition(c.rows == m && c.columns == n, "symm: result is \(c.rows)×\(c.columns), expected \(m)×\(n)")
        guard m > 0, n > 0 else { return }
        BLASFlops.note(.symm, m: m, n: n, k: a.rows)
        a.storage.withUnsafeBufferPointer { pa in
            b.storage.withUnsafeBufferPointer { pb in
                c.storage.withUnsafeMutableBufferPointer { pc in
                    cblas_dsymm(
                        CblasRowMajor, side.cblas, triangle.cblas, blasint(m), blasint(n),
                        alpha, pa.baseAddress, blasint(a.columns), pb.baseAddress, blasint(n),
                        beta, pc.baseAddress, blasint(n))
                }
            }
        }
    }

    /// `B ← α op(T) B` (side `.left`) or `B ← α B op(T)` (side `.right`) through `cblas_dtrmm`, with
    /// `T` triangular (only its `triangle` read), in place in `b`.
    public static func trmm(
        _ side: Side, _ t: Matrix, triangle: Triangle, _ opT: Transposition = .none,
        unitDiagonal: Bool = false, alpha: Double = 1, _ b: inout Matrix
    ) {
        precondition(t.isSquare, "trmm: T is \(t.rows)×\(t.columns), not square")
        let m = b.rows, n = b.columns
        precondition(t.rows == (side == .left ? m : n), "trmm: T of order \(t.rows) does not fit B \(m)×\(n) on the \(side)")
        guard m > 0, n > 0 else { return }
        BLASFlops.note(.trmm, m: m, n: n, k: t.rows)
        t.storage.withUnsafeBufferPointer { pt in
            b.storage.withUnsafeMutableBufferPointer { pb in
                cblas_dtrmm(
                    CblasRowMajor, side.cblas, triangle.cblas, opT.cblas,
                    unitDiagonal ? CblasUnit : CblasNonUnit, blasint(m), blasint(n),
                    alpha, pt.baseAddress, blasint(t.columns), pb.baseAddress, blasint(n))
            }
        }
    }

    /// Solves `op(T) X = α B` (side `.left`) or `X op(T) = α B` (side `.right`) for `X` through
    /// `cblas_dtrsm`, in place in `b`. `T` must be non-singular; check with
    /// ``Cholesky`` or ``Matrix/triangularInverse(triangle:)`` where data may make it singular.
    public static func trsm(
        _ side: Side, _ t: Matrix, triangle: Triangle, _ opT: Transposition = .none,
        unitDiagonal: Bool = false, alpha: Double = 1, _ b: inout Matrix
    ) {
        precondition(t.isSquare, "trsm: T is \(t.rows)×\(t.columns), not square")
        let m = b.rows, n = b.columns
        precondition(t.rows == (side == .left ? m : n), "trsm: T of order \(t.rows) does not fit B \(m)×\(n) on the \(side)")
        guard m > 0, n > 0 else { return }
        BLASFlops.note(.trsm, m: m, n: n, k: t.rows)
        t.storage.withUnsafeBufferPointer { pt in
            b.storage.withUnsafeMutableBufferPointer { pb in
                cblas_dtrsm(
                    CblasRowMajor, side.cblas, triangle.cblas, opT.cblas,
                    unitDiagonal ? CblasUnit : CblasNonUnit, blasint(m), blasint(n),
                    alpha, pt.baseAddress, blasint(t.columns), pb.baseAddress, blasint(n))
            }
        }
    }
}

// MARK: - Level 2 and element-wise

extension Matrix {
    /// `y ← α op(A) x + β y` through `cblas_dgemv`.
    public static func gemv(
        _ a: Matrix, _ opA: Transposition = .none, _ x: [Double],
        alpha: Double = 1, beta: Double = 0, into y: inout [Double]
    ) {
        let (m, n) = opA == .none ? (a.rows, a.columns) : (a.columns, a.rows)
        precondition(x.count == n, "gemv: x has \(x.count) elements, expected \(n)")
        precondition(y.count == m, "gemv: y has \(y.count) elements, expected \(m)")
        guard a.rows > 0, a.columns > 0 else {
            for i in y.indices { y[i] *= beta }
            return
        }
        a.storage.withUnsafeBufferPointer { pa in
            x.withUnsafeBufferPointer { px in
                y.withUnsafeMutableBufferPointer { py in
                    cblas_dgemv(
                        CblasRowMajor, opA.cblas, blasint(a.rows), blasint(a.columns), alpha,
                        pa.baseAddress, blasint(a.columns), px.baseAddress, 1, beta, py.baseAddress, 1)
                }
            }
        }
    }

    /// `self · x` for a vector `x`.
    public func multiplied(by x: [Double], _ op: Transposition = .none) -> [Double] {
        var y = [Double](repeating: 0, count: op == .none ? rows : columns)
        Matrix.gemv(self, op, x, into: &y)
        return y
    }

    /// Multiplies every element by `factor`.
    public mutating func scale(by factor: Double) {
        if factor == 0 {
            for i in storage.indices { storage[i] = 0 }
            return
        }
        let count = storage.count
        guard count > 0 else { return }
        storage.withUnsafeMutableBufferPointer { p in cblas_dscal(blasint(count), factor, p.baseAddress, 1) }
    }

    /// `self ← self + α other` through `cblas_daxpy`.
    public mutating func add(_ other: Matrix, scaledBy alpha: Double = 1) {
        precondition(rows == other.rows && columns == other.columns, "add: \(rows)×\(columns) and \(other.rows)×\(other.columns) differ")
        let count = storage.count
        guard count > 0 else { return }
        other.storage.withUnsafeBufferPointer { px in
            storage.withUnsafeMutableBufferPointer { py in
                cblas_daxpy(blasint(count), alpha, px.baseAddress, 1, py.baseAddress, 1)
            }
        }
    }

    public static func + (a: Matrix, b: Matrix) -> Matrix {
        var c = a
        c.add(b)
        return c
    }

    public static func - (a: Matrix, b: Matrix) -> Matrix {
        var c = a
        c.add(b, scaledBy: -1)
        return c
    }

    public static func * (s: Double, a: Matrix) -> Matrix {
        var c = a
        c.scale(by: s)
        return c
    }
}
