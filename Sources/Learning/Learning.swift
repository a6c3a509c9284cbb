/// The episodic learner and the paper's experiments.
///
/// This module is being built issue by issue (see README.md, "Status"); this namespace marks its
/// place in the package layout of ARCHITECTURE.md.
public enum LearningModule {
    /// Human-readable module name, for logs and `pipps --version` output.
    public static let name = "Learning"
}
