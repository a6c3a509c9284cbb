/// Particle rollouts and the PIPPS gradient estimators (RP, LR, BIW-LR, resampling, TP).
///
/// This module is being built issue by issue (see README.md, "Status"); this namespace marks its
/// place in the package layout of ARCHITECTURE.md.
public enum PolicyGradientModule {
    /// Human-readable module name, for logs and `pipps --version` output.
    public static let name = "PolicyGradient"
}
