import Foundation

/// The 95% Wilson score interval of a success rate (Wilson 1927): better than the normal
/// approximation near 0 and 1 and for few runs.
public func wilsonInterval(successes: Int, trials n: Int, z: Double = 1.959963984540054) -> (low: Double, high: Double) {
    precondition(successes >= 0 && successes <= n, "wilsonInterval: \(successes) successes of \(n)")
    guard n > 0 else { return (0, 1) }
    let nn = Double(n), p = Double(successes) / nn, z2 = z * z
    let centre = (p + z2 / (2 * nn)) / (1 + z2 / nn)
    let half = z / (1 + z2 / nn) * (p * (1 - p) / nn + z2 / (4 * nn * nn)).squareRoot()
    return (max(0, centre - half), min(1, centre + half))
}

/// The finished runs of a learning experiment, one JSON file per run in `DIR/runs/`, and the tidy
/// tables made from them. A run's file is written atomically once the run has finished, so a
/// directory can be read at any time (while runs go on, or after an interruption) and a restarted
/// sweep skips every run whose file is there.
public struct ExperimentResults: Sendable {
    public let directory: URL
    public var runsDirectory: URL { directory.appendingPathComponent("runs", isDirectory: true) }

    public init(directory: URL) {
        self.directory = directory
    }

    /// Creates the directories.
    public func prepare() throws {
        try FileManager.default.createDirectory(at: runsDirectory, withIntermediateDirectories: true)
    }

    public func resultURL(_ settings: EpisodicSettings) -> URL {
        runsDirectory.appendingPathComponent(settings.runID + ".json")
    }

    /// The finished run with these settings: its result file exists and decodes to the same
    /// settings; nil otherwise.
    public func result(for settings: EpisodicSettings) -> EpisodicResult? {
        guard let data = try? Data(contentsOf: resultURL(settings)),
              let result = try? JSONDecoder().decode(EpisodicResult.self, from: data), result.settings == settings else { return nil }
        return result
    }

    /// Whether this run has finished.
    public func hasResult(_ settings: EpisodicSettings) -> Bool { result(for: settings) != nil }

    /// Writes a finished run: to a temporary file in the same directory, then renamed over the final
    /// name (atomic on POSIX file systems), so a reader or a crash never sees half a file.
    public func store(_ result: EpisodicResult) throws {
        try Self.writeAtomically(try Self.encoder.encode(result), to: resultURL(result.settings))
    }

    /// Every finished run, in a stable order, and the files that could not be read.
    public func load() throws -> (results: [EpisodicResult], unreadable: [URL]) {
        let files = (try? FileManager.default.contentsOfDirectory(at: runsDirectory, includingPropertiesForKeys: nil)) ?? []
        var results: [EpisodicResult] = [], unreadable: [URL] = []
        for file in files where file.pathExtension == "json" && !file.lastPathComponent.hasPrefix(".") {
            if let data = try? Data(contentsOf: file), let r = try? JSONDecoder().decode(EpisodicResult.self, from: data) {
                results.append(r)
            } else {
                unreadable.append(file)
            }
        }
        results.sort { $0.settings.runID < $1.settings.runID }
        return (results, unreadable.sorted { $0.path < $1.path })
    }

    /// One row per (run, trial): every setting, the seed and the trial's measurements.
    public static func trialTable(_ results: [EpisodicResult]) -> String {
        var lines = [(settingsHeader + ["trial", "learned", "observed_cost", "evaluation_cost", "evaluation_cost_se", "final_cost", "success",
                                        "predicted_return", "model_seconds", "optimisation_seconds"]).joined(separator: ",")]
        for r in results {
            let settings = settingsValues(r.settings)
            for t in r.trials {
                let values = settings + [
                    String(t.trial), String(t.learned), csv(t.observedCost), csv(t.evaluationCost), csv(t.evaluationCostStandardError),
                    csv(t.finalCost), String(t.success), t.predictedReturn.map(csv) ?? "", csv(t.modelSeconds), csv(t.optimisationSeconds),
                ]
                lines.append(values.joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One row per run: settings, seed, success and wall time.
    public static func runTable(_ results: [EpisodicResult]) -> String {
        var lines = [(settingsHeader + ["success", "final_cost", "wall_seconds"]).joined(separator: ",")]
        for r in results {
            lines.append((settingsValues(r.settings) + [String(r.success), csv(r.trials.last?.finalCost ?? .nan), csv(r.wallSeconds)]).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A cell of the success table: runs that share every setting except the seed.
    public struct Cell: Equatable, Sendable {
        public var settings: EpisodicSettings
        public var runs: Int
        public var successes: Int
        public var rate: Double { runs == 0 ? .nan : Double(successes) / Double(runs) }
        public var interval: (low: Double, high: Double) { wilsonInterval(successes: successes, trials: runs) }
        public static func == (a: Cell, b: Cell) -> Bool { a.settings == b.settings && a.runs == b.runs && a.successes == b.successes }
    }

    /// Success counts per setting (seed set to 0 in `settings`), in a stable order.
    public static func cells(_ results: [EpisodicResult]) -> [Cell] {
        var cells: [EpisodicSettings: Cell] = [:]
        for r in results {
            var key = r.settings
            key.seed = 0
            cells[key, default: Cell(settings: key, runs: 0, successes: 0)].runs += 1
            if r.success { cells[key]!.successes += 1 }
        }
        return cells.values.sorted { ($0.settings.task, $0.settings.noiseMultiplier, $0.settings.method, $0.settings.runID)
            < ($1.settings.task, $1.settings.noiseMultiplier, $1.settings.method, $1.settings.runID) }
    }

    /// One row per cell: success rate with its 95% Wilson interval.
    public static func successTable(_ results: [EpisodicResult]) -> String {
        let header = settingsHeader.filter { $0 != "seed" } + ["runs", "successes", "success_rate", "wilson_low", "wilson_high"]
        var lines = [header.joined(separator: ",")]
        for c in cells(results) {
            var values = settingsValues(c.settings)
            values.remove(at: settingsHeader.firstIndex(of: "seed")!)
            let (lo, hi) = c.interval
            lines.append((values + [String(c.runs), String(c.successes), csv(c.rate), csv(lo), csv(hi)]).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes `learning_trials.csv`, `learning_runs.csv` and `learning_success.csv`; returns their URLs.
    @discardableResult
    public func writeTables(_ results: [EpisodicResult]) throws -> [URL] {
        let tables = [("learning_trials.csv", Self.trialTable(results)), ("learning_runs.csv", Self.runTable(results)),
                      ("learning_success.csv", Self.successTable(results))]
        return try tables.map { name, text in
            let url = directory.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url
        }
    }

    static let settingsHeader = ["task", "method", "noise", "seed", "particles", "evaluations", "random_trials", "learned_trials",
                                 "evaluation_rollouts", "basis", "learning_rate", "gp_iterations"]

    static func settingsValues(_ s: EpisodicSettings) -> [String] {
        let task = try? s.makeTask()
        return [s.task, s.method, csv(s.noiseMultiplier), String(s.seed), String(s.particles), String(s.evaluations),
                String(s.randomTrials ?? task?.randomTrials ?? 0), String(s.learnedTrials ?? task?.learnedTrials ?? 0),
                String(s.evaluationRollouts), String(s.basisCount), csv(s.learningRate), String(s.gpIterations)]
    }

    static func csv(_ x: Double) -> String { x.isFinite ? "\(x)" : (x.isNaN ? "" : (x > 0 ? "inf" : "-inf")) }
}
