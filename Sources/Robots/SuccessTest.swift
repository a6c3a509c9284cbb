/// Whether a learned controller solved its task, judged on a trial's costs (PIPPS §4.2: "success was
/// determined by whether the return of the final trial passed below a threshold").
///
/// Here the threshold is on the mean immediate cost over the last `window` steps of the trial,
/// averaged over the evaluation rollouts: the system must *end* the episode at the target, not just
/// pass through it. Steps after an early end (a fallen unicycle) count with cost 1.
public struct SuccessTest: Sendable, Equatable, Codable {
    /// Number of final steps looked at.
    public var window: Int
    /// Success when the mean cost over them is below this.
    public var threshold: Double

    public init(window: Int, threshold: Double) {
        precondition(window >= 1 && threshold > 0 && threshold <= 1, "SuccessTest: window ≥ 1, threshold in (0, 1]")
        self.window = window
        self.threshold = threshold
    }

    /// The mean cost over the last `window` steps of each cost sequence, averaged over sequences.
    public func finalCost(_ rollouts: [[Double]]) -> Double {
        precondition(!rollouts.isEmpty, "SuccessTest: no rollouts")
        var total = 0.0
        for costs in rollouts {
            let tail = costs.suffix(window)
            precondition(!tail.isEmpty, "SuccessTest: an empty rollout")
            total += tail.reduce(0, +) / Double(tail.count)
        }
        return total / Double(rollouts.count)
    }

    /// Whether the rollouts pass.
    public func passes(_ rollouts: [[Double]]) -> Bool { finalCost(rollouts) < threshold }
}
