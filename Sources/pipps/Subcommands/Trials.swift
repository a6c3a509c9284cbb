import ArgumentParser
import ControlRuntime
import Foundation
import Robots
import TrialStore

/// `pipps trials`: the trials in a store, with what each achieved by its task.
struct Trials: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the trials in a store: robot, task, status, steps, policy, cost and the task's success test.",
        discussion: """
            The cost is the sum of the task's cost over the trial's observed states, `final` the mean over \
            the success test's last steps (the runtime stores both when a trial completes; trials stored \
            before that are filled in here). Imported trials have ids from 2^40 on.
            """
    )

    @Option(help: "The trial store (SQLite).") var store: String
    @Option(help: "Only this robot's trials.") var robot: String?
    @Option(help: "Only this task's trials (\(Task.names.joined(separator: ", "))).") var task: String?
    @Flag(help: "One JSON object per line instead of a table.") var json = false

    func validate() throws {
        guard FileManager.default.fileExists(atPath: store) else { throw ValidationError("no trial store at \(store)") }
        if let task, Task.canonicalName(task) == nil { throw ValidationError("unknown --task '\(task)'; known: \(Task.names.joined(separator: ", "))") }
    }

    /// One listed trial (the JSON lines of `--json`).
    struct Row: Codable {
        var id: Int64
        var robot: String
        var task: String
        var status: String
        var reason: String?
        var source: String
        var steps: Int
        var policyVersion: Int64
        var started: String
        var cost: Double?
        var finalCost: Double?
        var success: Bool?

        enum CodingKeys: String, CodingKey {
            case id, robot, task, status, reason, source, steps, started, cost, success
            case policyVersion = "policy_version", finalCost = "final_cost"
        }
    }

    func run() throws {
        let trialStore: TrialStore
        do { trialStore = try TrialStore(path: store) } catch { throw ValidationError("\(error)") }
        try TrialOutcomes.fill(trialStore)
        let dates = ISO8601DateFormatter()
        let rows = try trialStore.trials(robot: robot, task: task.flatMap(Task.canonicalName)).map { t in
            Row(id: t.id, robot: t.robotID, task: t.task, status: t.status.rawValue, reason: t.reason.isEmpty ? nil : t.reason, source: t.source,
                steps: try trialStore.stepCount(trial: t.id), policyVersion: t.policyVersion,
                started: dates.string(from: Date(timeIntervalSince1970: Double(t.startedNs) / 1e9)),
                cost: t.cost, finalCost: t.finalCost, success: t.success)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            for row in rows { print(String(decoding: try encoder.encode(row), as: UTF8.self)) }
            return
        }
        guard !rows.isEmpty else {
            print("no trials\(robot.map { " of \($0)" } ?? "")\(task.map { " on \($0)" } ?? "") in \(store)")
            return
        }
        let header = ["id", "robot", "task", "status", "source", "steps", "policy", "cost", "final", "success", "started"]
        let table = rows.map { r in
            ["\(r.id)", r.robot, r.task, r.status, r.source, "\(r.steps)", "v\(r.policyVersion)",
             r.cost.map { String(format: "%.2f", $0) } ?? "-", r.finalCost.map { String(format: "%.3f", $0) } ?? "-",
             r.success.map { $0 ? "yes" : "no" } ?? "-", r.started]
        }
        let widths = header.indices.map { c in ([header[c]] + table.map { $0[c] }).map(\.count).max()! }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        print(line(header))
        for row in table { print(line(row)) }
    }
}
