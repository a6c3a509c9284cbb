/// Failures of linear-algebra routines that data, not the programmer, can cause.
public enum LinearAlgebraError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Cholesky factorisation failed: the leading minor of order `minor` (1-based, as LAPACK's
    /// `info`) of an `order × order` matrix is not positive, even after `jitter` was added to the
    /// diagonal (0 when no jitter was tried).
    case notPositiveDefinite(order: Int, minor: Int, jitter: Double)
    /// A triangular factor has an exactly zero diagonal element at `index` (0-based).
    case singular(order: Int, index: Int)
    /// A LAPACK routine reported an illegal argument or other failure.
    case lapack(routine: String, info: Int32)
    /// The input contained NaN or infinity.
    case nonFinite(routine: String)

    public var description: String {
        switch self {
        case let .notPositiveDefinite(order, minor, jitter):
            let j = jitter > 0 ? " even with jitter \(jitter) on the diagonal" : ""
            return "matrix of order \(order) is not positive definite (leading minor \(minor) failed\(j))"
        case let .singular(order, index):
            return "triangular matrix of order \(order) is singular (zero diagonal at \(index))"
        case let .lapack(routine, info):
            return "LAPACK \(routine) failed with info = \(info)"
        case let .nonFinite(routine):
            return "\(routine): input contains NaN or infinity"
        }
    }
}
