import ArgumentParser
import ControlRuntime
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
            and --mcap import trials logged elsewhere first, as complete trials of that robot, with ids \
            from 2^40 on so that they never meet the runtime's; --keep-ids restores an export's own ids \
            into a new store). Continues from the robot's newest stored \
            policy that fits the task. Task names: \(Task.names.joined(separator: ", ")) (older aliases are \
            stored under these names). Prints a JSON summary; --output also writes the policy \
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
    @Option(help: "Import trials from a CSV file first (repeatable): a `trial` column (0: outside any trial, left out), the observed state as obs_<name> columns and the controls by name, as firmware-sim --trace and pipps simulate write them. All files are imported in one transaction; a file imported before is skipped.")
    var csv: [String] = []
    @Flag(help: "Learn from a CSV's noise-free state columns (<name>) when it has no obs_<name> columns.")
    var trueStates = false
    @Option(help: "Import trials from an MCAP file written by `pipps export mcap` (repeatable), with the policy versions of their robot when the robot has none in the store yet.")
    var mcap: [String] = []
    @Flag(help: "Restore an export into a new store: its trials keep their ids (a runtime on the store carries on after them). Refused for an existing store, whose runtime may hand out those ids.")
    var keepIds = false
    @Option(help: "Also write the new policy to this file (.json: JSON, otherwise binary protobuf).")
    var output: String?

    func validate() throws {
        guard Task.canonicalName(task) != nil else { throw ValidationError("unknown --task '\(task)'; known: \(Task.names.joined(separator: ", "))") }
        let directory = URL(fileURLWithPath: store).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--store: the directory \(directory) does not exist (a typo? create it first)")
        }
        guard particles >= 2, evaluations >= 1, basisCount >= 1 else { throw ValidationError("--particles ≥ 2, --evaluations ≥ 1 and --basis-count ≥ 1") }
        guard !robot.isEmpty else { throw ValidationError("--robot is empty") }
    }

    func run() throws {
        let taskName = Task.canonicalName(task)!  // validate() refused unknown names
        let taskModel = Task.named(taskName)!
        var settings = LearningSettings()
        do { try settings.selectMethod(estimator) } catch { throw ValidationError("--estimator: \(error)") }
        settings.particles = particles
        settings.evaluations = evaluations
        settings.seed = seed
        // Every file is read and checked before the store is touched.
        var files: [ImportFile] = []
        for file in csv {
            let url = URL(fileURLWithPath: file)
            let read = try TrialImport.csv(url, kind: taskModel.kind, period: taskModel.controlPeriod, trueStates: trueStates)
            if read.rowsOutsideTrials > 0 { log("\(file): left out \(read.rowsOutsideTrials) rows outside any trial (trial 0)") }
            files.append(ImportFile(name: file, source: "csv", sha256: try Self.sha256(of: url), trials: read.trials.map { ImportTrial(steps: $0) }))
        }
        for file in mcap {
            let url = URL(fileURLWithPath: file)
            let read = try TrialImport.mcap(url, kind: taskModel.kind, task: taskName)
            files.append(ImportFile(name: file, source: "mcap", sha256: try Self.sha256(of: url), trials: read.trials, policies: read.policies))
        }
        let storeURL = URL(fileURLWithPath: store)
        let existed = FileManager.default.fileExists(atPath: store)
        if keepIds {
            guard !existed else { throw ValidationError("--keep-ids restores into a new store only; \(store) exists (its runtime may hand out those trial ids)") }
            guard !mcap.isEmpty else { throw ValidationError("--keep-ids goes with --mcap") }
        }
        guard existed || !files.isEmpty else {
            throw ValidationError("no trial store at \(store) (pipps serve --store records one; --csv or --mcap import trials into a new one)")
        }
        var newTrials: [Int64] = []
        if !files.isEmpty {
            let now = Int64(Date().timeIntervalSince1970 * 1e9)
            let imported: [ImportedFile]
            do {
                // The store is closed again at the end of this block, before a failed import removes it.
                imported = try TrialStore(path: store).importFiles(files, robot: robot, kind: taskModel.kind.rawValue, task: taskName,
                                                                   keepIDs: keepIds, nowNs: now)
            } catch {
                if !existed { TrialStore.remove(at: storeURL) }  // a failed import leaves no new store behind
                throw ValidationError("import failed, nothing was imported: \(error)")
            }
            newTrials = imported.filter { !$0.alreadyImported }.flatMap(\.trialIDs)
            for file in imported {
                let ids = file.trialIDs.map(String.init).joined(separator: ", ")
                log(file.alreadyImported ? "\(file.name) was imported before (trials \(ids)): skipped"
                                         : "imported \(file.trialIDs.count) trial\(file.trialIDs.count == 1 ? "" : "s") (\(ids)) from \(file.name)")
            }
        }
        let trialStore: TrialStore
        do { trialStore = try TrialStore(path: store) } catch { throw ValidationError("\(error)") }
        // What the newly imported trials achieved by the task, for `pipps trials`.
        try TrialOutcomes.fill(trialStore, trials: newTrials)
        let started = Date()
        let reportEvery = max(evaluations / 10, 1)
        let outcome = try StoreLearning.learn(store: trialStore, robot: robot, taskName: taskName, task: taskModel, settings: settings,
                                              basisCount: basisCount) { e, value in
            if e % reportEvery == 0 || e == evaluations {
                log(String(format: "evaluation %d/%d  return %.3f  %.0f s", e, evaluations, value, Date().timeIntervalSince(started)))
            }
        }
        log(StoreLearning.startDescription(outcome))
        if let output { try PolicyFile.write(outcome.policy, to: URL(fileURLWithPath: output)) }
        let summary: [String: Any] = [
            "started_from_version": outcome.startedFrom.map { $0 as Any } ?? NSNull(),
            "robot": robot, "task": taskName, "estimator": estimator, "learning_round": outcome.roundID, "policy_version": outcome.policy.version,
            "trials": outcome.trials, "predicted_return": outcome.predictedReturn, "initial_return": outcome.initialReturn,
            "model_seconds": outcome.modelSeconds, "optimisation_seconds": outcome.optimisationSeconds, "checksum": outcome.policy.checksum,
        ]
        let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    static func sha256(of url: URL) throws -> String {
        guard let data = try? Data(contentsOf: url) else { throw ValidationError("cannot read \(url.path)") }
        return SHA256.hex([UInt8](data))
    }

    private func log(_ line: String) {
        FileHandle.standardError.write(Data("learn: \(line)\n".utf8))
    }
}

/// Trials logged elsewhere, read and checked before anything is stored (``TrialStore/importFiles(_:robot:kind:task:nowNs:)``).
enum TrialImport {
    /// A CSV's trials, and how many rows were outside any trial.
    struct CSVTrials {
        var trials: [[StoredStep]]
        var rowsOutsideTrials: Int
    }

    /// Reads a CSV with a header, as `firmware-sim --trace` and `pipps simulate` write it:
    /// - `trial` numbers the trials; rows with `trial` 0 (or empty) are outside any trial (a trace's
    ///   idle rows) and are left out. A trial's rows must be consecutive, and with a `t` column,
    ///   one control period apart (a gap is an error naming its line).
    /// - The observed state is read from all `obs_<name>` columns; with none of them, only when
    ///   `trueStates` says to learn from the noise-free `<name>` columns. Controls by their names
    ///   (``RobotKind/stateNames``, ``RobotKind/controlNames``). Other columns are ignored.
    /// - A row with a missing or non-numeric value is an error naming its line and column, except
    ///   that the last row of a trial may leave the controls empty (its final state).
    static func csv(_ url: URL, kind: RobotKind, period: Double, trueStates: Bool) throws -> CSVTrials {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw ValidationError("cannot read \(url.path)") }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } }
        guard let header = lines.first else { throw ValidationError("\(url.path): empty file") }
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        guard let trialColumn = column("trial") else {
            throw ValidationError("\(url.path): no `trial` column (pipps simulate and firmware-sim --trace write one)")
        }
        let observed = kind.stateNames.map { column("obs_" + $0) }
        let stateColumns: [Int]
        if observed.allSatisfy({ $0 != nil }) {
            stateColumns = observed.map { $0! }
        } else if observed.contains(where: { $0 != nil }) {
            let missing = zip(kind.stateNames, observed).filter { $0.1 == nil }.map { "obs_" + $0.0 }
            throw ValidationError("\(url.path): missing observed-state column\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")) (observed columns are all required, so that true and observed states are never mixed)")
        } else if trueStates {
            let plain = kind.stateNames.map { column($0) }
            let missing = zip(kind.stateNames, plain).filter { $0.1 == nil }.map(\.0)
            guard missing.isEmpty else { throw ValidationError("\(url.path): missing state column\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", "))") }
            stateColumns = plain.map { $0! }
        } else {
            throw ValidationError("\(url.path): no observed-state columns (\(kind.stateNames.map { "obs_" + $0 }.joined(separator: ", "))); to learn from the noise-free state columns, pass --true-states")
        }
        let controlColumns = kind.controlNames.map { column($0) }
        let missingControls = zip(kind.controlNames, controlColumns).filter { $0.1 == nil }.map(\.0)
        guard missingControls.isEmpty else {
            throw ValidationError("\(url.path): missing control column\(missingControls.count == 1 ? "" : "s") \(missingControls.joined(separator: ", "))")
        }
        let timeColumn = column("t")
        var trials: [[StoredStep]] = [], seen: Set<String> = [], current: String?, lastTime: Double?, outside = 0
        for (number, row) in lines.enumerated().dropFirst() where !(row.count == 1 && row[0].isEmpty) {
            let line = number + 1
            func value(_ c: Int) throws -> Double {
                guard c < row.count, let v = Double(row[c]), v.isFinite else {
                    throw ValidationError("\(url.path):\(line): missing or non-numeric value in column \(header[c])")
                }
                return v
            }
            let trial = trialColumn < row.count ? row[trialColumn] : ""
            guard !trial.isEmpty, trial != "0" else { outside += 1; current = nil; continue }
            if trial != current {
                guard !seen.contains(trial) else {
                    throw ValidationError("\(url.path):\(line): trial \(trial) goes on after other rows (a trial's rows must be consecutive)")
                }
                seen.insert(trial)
                trials.append([])
                current = trial
                lastTime = nil
            }
            if let last = trials[trials.count - 1].last, last.control.isEmpty {
                throw ValidationError("\(url.path):\(line): trial \(trial) goes on after a row without controls (only its last row may have none)")
            }
            if let timeColumn {
                let t = try value(timeColumn)
                if let lastTime, !(abs(t - lastTime - period) <= 0.25 * period) {
                    throw ValidationError("\(url.path):\(line): trial \(trial) jumps from t = \(lastTime) to \(t) (a gap or a repeat: its rows must be one control period, \(period) s, apart)")
                }
                lastTime = t
            }
            let n = trials[trials.count - 1].count
            let noControls = controlColumns.allSatisfy { $0! >= row.count || row[$0!].isEmpty }
            trials[trials.count - 1].append(StoredStep(
                robotID: "", trialID: 0, sequence: UInt64(n + 1), robotTimeNs: Int64(n) * Int64(period * 1e9),
                receivedNs: 0, state: try stateColumns.map(value), control: noControls ? [] : try controlColumns.map { try value($0!) },
                policyVersion: 0, status: 1, reason: 0, latencyNs: 0))
        }
        guard !trials.isEmpty else {
            throw ValidationError("\(url.path): no trial rows\(outside > 0 ? " (\(outside) rows with trial 0, outside any trial)" : "")")
        }
        return CSVTrials(trials: trials, rowsOutsideTrials: outside)
    }

    /// The complete trials of an MCAP file written by `pipps export mcap`, checked against the
    /// robot kind and task, with everything a store needs to carry on: each trial's id, policy
    /// version, times and steps (latencies included), and the policy versions of the kind.
    static func mcap(_ url: URL, kind: RobotKind, task: String) throws -> (trials: [ImportTrial], policies: [StoredPolicy]) {
        guard let data = try? Data(contentsOf: url) else { throw ValidationError("cannot read \(url.path)") }
        let contents: TrialExport.Contents
        do { contents = try TrialExport.contents(mcap: [UInt8](data)) } catch { throw ValidationError("\(url.path): \(error)") }
        for t in contents.trials {
            if let other = t.header.robotKind.robotKind, other != kind {
                throw ValidationError("\(url.path): trial \(t.header.trialID) is a \(other.rawValue) trial, not \(kind.rawValue)")
            }
            if let other = Task.canonicalName(t.header.task), other != task {
                throw ValidationError("\(url.path): trial \(t.header.trialID) is a \(other) trial, not \(task)")
            }
        }
        let trials = try contents.trials.map { t in
            guard let version = Int64(exactly: t.header.policyVersion) else {
                throw ValidationError("\(url.path): trial \(t.header.trialID) has policy version \(t.header.policyVersion), out of range")
            }
            return ImportTrial(steps: t.steps, originalID: Int64(exactly: t.header.trialID), policyVersion: version,
                               startedNs: t.header.startedUnixNs, endedNs: t.endedNs, maxSteps: Int(t.header.maxSteps))
        }
        // The policy lineage of the trials' robot, when they come from one robot.
        let robots = Set(contents.trials.map(\.header.robotID))
        let policies = robots.count == 1 ? contents.policies.filter {
            robots.contains($0.robotID) && (try? Pipps_V1_Policy(serializedBytes: $0.policy))?.robotKind.robotKind == kind
        } : []
        return (trials, policies)
    }
}
