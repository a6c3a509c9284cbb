/// Gaussian-process dynamics models (PIPPS §2.4.1): SE-ARD GPs, training, batched prediction.
///
/// This module is being built issue by issue (see README.md, "Status"); this namespace marks its
/// place in the package layout of ARCHITECTURE.md.
public enum GaussianProcessModule {
    /// Human-readable module name, for logs and `pipps --version` output.
    public static let name = "GaussianProcess"
}
