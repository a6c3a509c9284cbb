import Foundation
import TestSupport
import Testing
import TrialStore

/// `pipps demo` end to end (tiny learning settings): runtime, firmware-sim at 10 Hz and the scheduler;
/// interrupted with SIGINT, it stops everything, and run again it resumes.
@Suite("pipps demo", .serialized)
struct DemoCommandTests {
    /// Command lines of live processes whose arguments contain `text` (from /proc).
    static func processes(mentioning text: String) -> [String] {
        let fm = FileManager.default
        return ((try? fm.contentsOfDirectory(atPath: "/proc")) ?? []).filter { Int($0) != nil }.compactMap { pid in
            guard let data = fm.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return line.contains(text) ? line : nil
        }
    }

    @Test func runsStopsCleanlyAndResumes() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let runs = dir.appendingPathComponent("runs")
        let arguments = ["demo", "--runs", runs.path, "--particles", "10", "--evaluations", "5", "--basis-count", "10", "--max-trials", "3"]
        let first = try BackgroundProcess(Binaries.pipps, arguments)
        let storePath = runs.appendingPathComponent("cartpole/store.sqlite").path
        let end = Date().addingTimeInterval(300)
        var completed = 0
        while Date() < end, completed < 1 {
            Thread.sleep(forTimeInterval: 0.2)
            if FileManager.default.fileExists(atPath: storePath) {
                completed = (try? TrialStore(path: storePath).trials(statuses: [.complete]).count) ?? 0
            }
        }
        #expect(completed >= 1, "\(first.log)")
        #expect(first.stop(signal: SIGINT, timeout: 120) == 130, "Ctrl-C: a clean stop, exit status 130: \(first.log)")
        #expect(first.log.contains("run `pipps demo` again to resume"), "\(first.log)")
        #expect(Self.processes(mentioning: runs.path).isEmpty, "no runtime or firmware-sim left running")

        let second = try runProcess(Binaries.pipps, arguments)
        #expect(second.status == 0, "\(second.output)")
        #expect(second.output.contains("resumed"), "\(second.output)")
        let store = try TrialStore(path: storePath)
        let trials = try store.trials(robot: "demo-cartpole")
        #expect(trials.filter { $0.status == .complete }.count == 3, "\(trials)")
        let curve = try String(contentsOf: runs.appendingPathComponent("cartpole/learning-curve.csv"), encoding: .utf8)
        #expect(curve.split(separator: "\n").count == 4, "a header and one row per complete trial: \(curve)")
        #expect(FileManager.default.fileExists(atPath: runs.appendingPathComponent("cartpole/final-trial.mcap").path))
    }
}
