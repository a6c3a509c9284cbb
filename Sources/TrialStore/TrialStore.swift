/// The embedded trial store (SQLite) and MCAP export.
///
/// This module is being built issue by issue (see README.md, "Status"); this namespace marks its
/// place in the package layout of ARCHITECTURE.md.
public enum TrialStoreModule {
    /// Human-readable module name, for logs and `pipps --version` output.
    public static let name = "TrialStore"
}
