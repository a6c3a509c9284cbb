/// PILCO's analytic moment matching, the baseline.
///
/// This module is being built issue by issue (see README.md, "Status"); this namespace marks its
/// place in the package layout of ARCHITECTURE.md.
public enum MomentMatchingModule {
    /// Human-readable module name, for logs and `pipps --version` output.
    public static let name = "MomentMatching"
}
