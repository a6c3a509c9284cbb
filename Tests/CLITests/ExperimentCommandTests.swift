import Foundation
import TestSupport
import Testing

@Suite("pipps experiment")
struct ExperimentCommandTests {
    static let tiny = ["experiment", "learning", "--tasks", "cartpole-balance", "--methods", "tp", "--runs", "2", "--particles", "10",
                       "--evaluations", "2", "--learned-trials", "1", "--basis", "3", "--gp-iterations", "5", "--evaluation-rollouts", "2", "--no-figures"]

    @Test("a learning sweep writes its tables, and run again skips the finished runs")
    func learningSweepResumes() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (status, output) = try pipps(Self.tiny + ["-o", dir.path])
        #expect(status == 0, "\(output)")
        let runs = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("runs").path).filter { $0.hasSuffix(".json") }
        #expect(runs.count == 2)
        let trials = try String(contentsOf: dir.appendingPathComponent("learning_trials.csv"), encoding: .utf8).split(separator: "\n")
        #expect(trials.count == 1 + 2 * 2, "header + 2 runs × 2 trials")
        #expect(output.contains("cartpole-balance") && output.contains("95% interval"))

        let file = dir.appendingPathComponent("runs").appendingPathComponent(runs.sorted()[0]).path
        let before = try FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date
        let again = try pipps(Self.tiny + ["-o", dir.path])
        #expect(again.status == 0)
        #expect(!again.output.contains("trial 1/2"), "finished runs were run again: \(again.output)")
        let after = try FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date
        #expect(before == after)
    }

    @Test func badArgumentsAreRefused() throws {
        let unknown = try pipps(["experiment", "learning", "--methods", "sgd", "--no-figures"])
        #expect(unknown.status != 0 && unknown.output.contains("unknown learning method 'sgd'"))
        let task = try pipps(["experiment", "learning", "--tasks", "pogo", "--no-figures"])
        #expect(task.status != 0 && task.output.contains("unknown task 'pogo'"))
        let deltas = try pipps(["experiment", "landscape", "--deltas", "0:1", "--no-figures"])
        #expect(deltas.status != 0 && deltas.output.contains("--deltas"))
    }
}
