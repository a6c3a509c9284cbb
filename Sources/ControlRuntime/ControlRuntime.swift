/// The real-time control runtime: sessions, fallbacks, policy hot swap, admin.
///
/// This module is being built issue by issue (see README.md, "Status"); this namespace marks its
/// place in the package layout of ARCHITECTURE.md.
public enum ControlRuntimeModule {
    /// Human-readable module name, for logs and `pipps --version` output.
    public static let name = "ControlRuntime"
}
