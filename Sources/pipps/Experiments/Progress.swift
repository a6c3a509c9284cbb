import Foundation
import Learning

/// Progress of a sweep of learning runs on stderr: on a terminal one status line per worker, redrawn
/// in place at most 4 times a second; otherwise (a log file, CI) plain lines for each finished trial
/// and run.
final class SweepProgress: @unchecked Sendable {
    private let lock = NSLock()
    private let interactive: Bool
    private let total: Int
    private let jobs: Int
    private let start = DispatchTime.now().uptimeNanoseconds
    private var lines: [String]
    private var fractions: [Double]
    private var finished = 0
    private var drawn = 0
    private var lastDraw: UInt64 = 0

    init(total: Int, jobs: Int, interactive: Bool = isatty(STDERR_FILENO) == 1) {
        self.total = total
        self.jobs = jobs
        self.interactive = interactive
        lines = Array(repeating: "idle", count: jobs)
        fractions = Array(repeating: 0, count: jobs)
    }

    private var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) : (s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : "\(s)s")
    }

    /// Time left, from the work done so far (finished runs plus the fractions of the running ones).
    private var remaining: Double {
        let done = Double(finished) + fractions.reduce(0, +)
        guard done > 0.01 else { return .nan }
        return elapsed * (Double(total) - done) / done
    }

    /// A worker's run advanced.
    func update(job: Int, settings: EpisodicSettings, _ p: EpisodicProgress) {
        lock.lock()
        defer { lock.unlock() }
        let learned = max(p.trials - p.randomTrials, 1)
        let trialsDone = Double(max(p.trial - p.randomTrials - 1, 0))
        fractions[job] = min((trialsDone + Double(p.evaluation) / Double(max(p.evaluations, 1))) / Double(learned), 1)
        let head = Self.label(settings)
        if let t = p.finished {
            let text = "\(head): trial \(t.trial)/\(p.trials) \(t.learned ? "learned" : "random") · cost \(String(format: "%.2f", t.evaluationCost)) · final \(String(format: "%.3f", t.finalCost)) \(t.success ? "✓" : "✗")"
            if interactive { lines[job] = text } else { log(text) }
        } else if interactive {
            let j = p.currentReturn.map { String(format: " · J %.3f", $0) } ?? ""
            lines[job] = "\(head): trial \(p.trial)/\(p.trials) · eval \(p.evaluation)/\(p.evaluations)\(j)"
        }
        draw()
    }

    /// A run finished (or was found finished).
    func runFinished(job: Int, _ result: EpisodicResult, skipped: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        let text = "run \(finished + 1)/\(total) \(skipped ? "already done" : "done"): \(Self.label(result.settings)) · \(result.success ? "success" : "failure") · final cost \(String(format: "%.3f", result.trials.last?.finalCost ?? .nan)) · \(Self.duration(result.wallSeconds))"
        endRun(job: job, text, quietInLogs: skipped)
    }

    /// A run failed.
    func runFailed(job: Int, _ settings: EpisodicSettings, _ error: any Error) {
        lock.lock()
        defer { lock.unlock() }
        endRun(job: job, "run \(settings.runID) FAILED: \(error)", quietInLogs: false)
    }

    /// Counts a run as ended and reports it: above the status lines on a terminal, as a log line
    /// otherwise (unless `quietInLogs`). Called with the lock held.
    private func endRun(job: Int, _ text: String, quietInLogs: Bool) {
        finished += 1
        fractions[job] = 0
        if interactive {
            lines[job] = "idle"
            clear()
            FileHandle.standardError.write(Data((text + "\n").utf8))
        } else if !quietInLogs {
            log(text)
        }
        draw(force: true)
    }

    private static func label(_ s: EpisodicSettings) -> String {
        "\(s.task) \(s.method) k=\(EpisodicSettings.format(s.noiseMultiplier)) seed \(s.seed)"
    }

    func done() {
        lock.lock()
        defer { lock.unlock() }
        clear()
    }

    private func log(_ text: String) {
        FileHandle.standardError.write(Data("[\(Self.duration(elapsed))] \(text)\n".utf8))
    }

    private func clear() {
        guard interactive, drawn > 0 else { return }
        FileHandle.standardError.write(Data(String(repeating: "\u{1B}[1A\u{1B}[2K", count: drawn).utf8))
        drawn = 0
    }

    private func draw(force: Bool = false) {
        guard interactive else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        guard force || now - lastDraw > 250_000_000 else { return }
        lastDraw = now
        clear()
        var text = lines.enumerated().map { "  [\($0.offset + 1)] \($0.element)\n" }.joined()
        text += "  \(finished)/\(total) runs · \(Self.duration(elapsed)) elapsed · about \(Self.duration(remaining)) left\n"
        FileHandle.standardError.write(Data(text.utf8))
        drawn = jobs + 1
    }
}
