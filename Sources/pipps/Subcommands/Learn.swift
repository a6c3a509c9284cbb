import ArgumentParser
import Foundation
import Learning
import Messages
import Robots
import TrialStore

/// `pipps learn`: one offline learning round from the trial store.
struct Learn: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One offline learning round: the stored trials of a robot and task → a new policy version in the store.",
        discussion: """
            Uses every complete trial of --robot on --task in the store (the runtime records them; --csv \
            and --mcap import trials logged elsewhere first, as complete trials of that robot). Continues \
            from the robot's latest stored policy. Prints a JSON summary; --output also writes the policy \
            file (deploy it with `pipps admin deploy`, or let `pipps cycle` do all of this).
            """
    )

    @Option(help: "The trial store (SQLite).") var store: String
    @Option(help: "Robot id whose trials are learned from.") var robot: String
    @Option(help: "Task: \(Task.names.joined(separator: ", ")).") var task = "cartpole-angle"
    @Option(help: "Gradient estimator / method: \(LearningSettings.methodNames.joined(separator: ", ")), biw-lr, partial:R, mog:K:M.")
    var estimator = "tp"
    @Option(help: "Particles per evaluation (PIPPS: 300).") var particles = 300
    @Option(help: "Policy evaluations (PIPPS: 600).") var evaluations = 600
    @Option(help: "Seed of the round's random numbers.") var seed: UInt64 = 0
    @Option(help: "RBF basis functions of a new cart-pole policy (PIPPS: 50).") var basisCount = 50
    @Option(help: "Import trials from a CSV file first (repeatable): a `trial` column, the observed state as obs_<name> columns and the controls by name, as firmware-sim --trace writes them.")
    var csv: [String] = []
    @Option(help: "Import trials from an MCAP file written by `pipps export mcap` (repeatable).")
    var mcap: [String] = []
    @Option(help: "Also write the new policy to this file (.json: JSON, otherwise binary protobuf).")
    var output: String?

    func validate() throws {
        guard Task.named(task) != nil else { throw ValidationError("unknown --task '\(task)'; known: \(Task.names.joined(separator: ", "))") }
        guard particles >= 2, evaluations >= 1, basisCount >= 1 else { throw ValidationError("--particles ≥ 2, --evaluations ≥ 1 and --basis-count ≥ 1") }
        guard !robot.isEmpty else { throw ValidationError("--robot is empty") }
    }

    func run() throws {
        let taskModel = Task.named(task)!
        var settings = LearningSettings()
        do { try settings.selectMethod(estimator) } catch { throw ValidationError("--estimator: \(error)") }
        settings.particles = particles
        settings.evaluations = evaluations
        settings.seed = seed
        let trialStore: TrialStore
        do { trialStore = try TrialStore(path: store) } catch { throw ValidationError("\(error)") }
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        for file in csv {
            let trials = try TrialImport.csv(URL(fileURLWithPath: file), kind: taskModel.kind)
            for steps in trials {
                let id = try trialStore.importTrial(robot: robot, kind: taskModel.kind.rawValue, task: task, source: "csv", steps: steps, nowNs: now)
                log("imported trial \(id) (\(steps.count) steps) from \(file)")
            }
        }
        for file in mcap {
            let trials = try TrialImport.mcap(URL(fileURLWithPath: file), kind: taskModel.kind)
            for steps in trials {
                let id = try trialStore.importTrial(robot: robot, kind: taskModel.kind.rawValue, task: task, source: "mcap", steps: steps, nowNs: now)
                log("imported trial \(id) (\(steps.count) steps) from \(file)")
            }
        }
        let started = Date()
        let reportEvery = max(evaluations / 10, 1)
        let outcome = try StoreLearning.learn(store: trialStore, robot: robot, taskName: task, task: taskModel, settings: settings,
                                              basisCount: basisCount) { e, value in
            if e % reportEvery == 0 || e == evaluations {
                log(String(format: "evaluation %d/%d  return %.3f  %.0f s", e, evaluations, value, Date().timeIntervalSince(started)))
            }
        }
        log(StoreLearning.startDescription(outcome))
        if let output { try PolicyFile.write(outcome.policy, to: URL(fileURLWithPath: output)) }
        let summary: [String: Any] = [
            "started_from_version": outcome.startedFrom.map { $0 as Any } ?? NSNull(),
            "robot": robot, "task": task, "estimator": estimator, "learning_round": outcome.roundID, "policy_version": outcome.policy.version,
            "trials": outcome.trials, "predicted_return": outcome.predictedReturn, "initial_return": outcome.initialReturn,
            "model_seconds": outcome.modelSeconds, "optimisation_seconds": outcome.optimisationSeconds, "checksum": outcome.policy.checksum,
        ]
        let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    private func log(_ line: String) {
        FileHandle.standardError.write(Data("learn: \(line)\n".utf8))
    }
}

/// Trials logged elsewhere, as steps for ``TrialStore/importTrial(robot:kind:task:source:steps:nowNs:)``.
enum TrialImport {
    /// A CSV with a header: `trial` groups rows into trials (in order of first appearance); the
    /// observed state is read from `obs_<name>` columns (or `<name>` when there are none) and the
    /// controls from their names (``RobotKind/stateNames``, ``RobotKind/controlNames``). Other columns
    /// are ignored; a row with a missing or non-numeric value is an error naming its line, except that
    /// the last row of a trial may leave the controls empty (its final state, as `pipps simulate`
    /// writes it).
    static func csv(_ url: URL, kind: RobotKind) throws -> [[StoredStep]] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw ValidationError("cannot read \(url.path)") }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } }
        guard let header = lines.first else { throw ValidationError("\(url.path): empty file") }
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        guard let trialColumn = column("trial") else { throw ValidationError("\(url.path): no `trial` column") }
        let stateColumns = kind.stateNames.map { column("obs_" + $0) ?? column($0) }
        let controlColumns = kind.controlNames.map { column($0) }
        guard stateColumns.allSatisfy({ $0 != nil }) else {
            throw ValidationError("\(url.path): needs state columns \(kind.stateNames.map { "obs_" + $0 }.joined(separator: ","))")
        }
        guard controlColumns.allSatisfy({ $0 != nil }) else {
            throw ValidationError("\(url.path): needs control columns \(kind.controlNames.joined(separator: ","))")
        }
        var order: [String] = [], trials: [String: [StoredStep]] = [:]
        for (number, row) in lines.enumerated().dropFirst() where !(row.count == 1 && row[0].isEmpty) {
            func value(_ c: Int?) throws -> Double {
                guard let c, c < row.count, let v = Double(row[c]), v.isFinite else {
                    throw ValidationError("\(url.path):\(number + 1): missing or non-numeric value in column \(c.map { header[$0] } ?? "?")")
                }
                return v
            }
            let trial = trialColumn < row.count ? row[trialColumn] : ""
            if trials[trial] == nil { order.append(trial); trials[trial] = [] }
            let n = trials[trial]!.count
            if let last = trials[trial]!.last, last.control.isEmpty {
                throw ValidationError("\(url.path):\(number + 1): trial \(trial) goes on after a row without controls (only its last row may have none)")
            }
            let noControls = controlColumns.allSatisfy { $0! >= row.count || row[$0!].isEmpty }
            trials[trial]!.append(StoredStep(robotID: "", trialID: 0, sequence: UInt64(n + 1), robotTimeNs: Int64(n) * 100_000_000,
                                             receivedNs: 0, state: try stateColumns.map(value), control: noControls ? [] : try controlColumns.map(value),
                                             policyVersion: 0, status: 1, reason: 0, latencyNs: 0))
        }
        guard !order.isEmpty else { throw ValidationError("\(url.path): no rows") }
        return order.map { trials[$0]! }
    }

    /// The complete trials of an MCAP file written by `pipps export mcap`, checked against the kind.
    static func mcap(_ url: URL, kind: RobotKind) throws -> [[StoredStep]] {
        guard let data = try? Data(contentsOf: url) else { throw ValidationError("cannot read \(url.path)") }
        let trials: [(header: Pipps_V1_TrialHeader, steps: [StoredStep])]
        do { trials = try TrialExport.trials(mcap: [UInt8](data)) } catch { throw ValidationError("\(url.path): \(error)") }
        for t in trials where t.header.robotKind.robotKind.map({ $0 != kind }) ?? false {
            throw ValidationError("\(url.path): trial \(t.header.trialID) is a \(t.header.robotKind.robotKind!.rawValue) trial, not \(kind.rawValue)")
        }
        return trials.map(\.steps)
    }
}
