/// The paper's RMSprop-like SGD with momentum, Adam and L-BFGS.
///
/// This module is being built issue by issue (see README.md, "Status"); this namespace marks its
/// place in the package layout of ARCHITECTURE.md.
public enum OptimizersModule {
    /// Human-readable module name, for logs and `pipps --version` output.
    public static let name = "Optimizers"
}
