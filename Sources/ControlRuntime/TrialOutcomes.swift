import Logging
import Robots
import TrialStore

/// Fills in what stored trials achieved by their task (``TrialStore/setOutcome(trial:cost:finalCost:success:)``):
/// the runtime's recorder does it when a trial completes, `pipps learn` after an import and
/// `pipps trials` for any trial still without one (a store written before outcomes were kept).
public enum TrialOutcomes {
    /// Computes and stores the outcome of each complete trial among `ids` (all complete trials
    /// without one when `nil`) whose task is known; returns how many were stored.
    @discardableResult
    public static func fill(_ store: TrialStore, trials ids: [Int64]? = nil) throws -> Int {
        let candidates = try ids.map { try $0.compactMap { try store.trial($0) } } ?? store.trials(statuses: [.complete]).filter { $0.cost == nil }
        var stored = 0
        for trial in candidates where trial.status == .complete {
            guard let task = Task.named(trial.task),
                  let outcome = task.outcome(observedStates: try store.steps(trial: trial.id).map(\.state)) else { continue }
            try store.setOutcome(trial: trial.id, cost: outcome.cost, finalCost: outcome.finalCost, success: outcome.success)
            stored += 1
        }
        return stored
    }
}
