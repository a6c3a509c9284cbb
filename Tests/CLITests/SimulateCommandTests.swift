import Foundation
import LinearAlgebra
import Messages
import Policies
import Robots
import TestSupport
import Testing

/// Runs the built `pipps` binary (`make test` builds it before testing).
func pipps(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let binary = RepositoryPaths.root.appendingPathComponent(".build/debug/pipps").path
    #expect(FileManager.default.isExecutableFile(atPath: binary), "pipps is not built at \(binary)")
    return try runProcess(binary, arguments)
}

@Suite("pipps simulate")
struct SimulateCommandTests {
    @Test func csvHasOneRowPerStepAndTheRightColumns() throws {
        let (status, output) = try pipps(["simulate", "cartpole", "--steps", "12", "--seed", "4", "--policy", "random"])
        #expect(status == 0, "\(output)")
        let lines = output.split(separator: "\n")
        #expect(lines.count == 14)
        #expect(lines[0] == "t,trial,x,dx,dtheta,theta,obs_x,obs_dx,obs_dtheta,obs_theta,force,cost")
        let row = lines[1].split(separator: ",", omittingEmptySubsequences: false)
        #expect(row.count == 12 && row[1] == "1")
        let force = try #require(Double(row[10]))
        #expect(abs(force) <= 10)
        // Same seed, same output.
        #expect(try pipps(["simulate", "cartpole", "--steps", "12", "--seed", "4", "--policy", "random"]).output == output)
    }

    @Test func aBalancingPolicyFileKeepsThePoleUp() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("lqr.json")
        try PolicyFile.write(try balancingPolicy(), to: file)
        let (status, output) = try pipps(["simulate", "cartpole", "--policy", file.path, "--initial", "0,0,0,3.0",
                                          "--steps", "100", "--noise", "0.01", "--format", "json"])
        #expect(status == 0, "\(output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        let states = try #require(json["states"] as? [[Double]])
        #expect(states.count == 101)
        #expect(states.allSatisfy { abs($0[3] - .pi) < 0.3 }, "the pole stays within 0.3 rad of upright")
        #expect(json["success"] as? Bool == true)
    }

    @Test func badInputGetsAClearError() throws {
        let (status, output) = try pipps(["simulate", "cartpole", "--initial", "1,x,3,4"])
        #expect(status != 0)
        #expect(output.contains("'x' is not a finite number"))
        let wrongRobot = try pipps(["simulate", "segway"])
        #expect(wrongRobot.status != 0 && wrongRobot.output.contains("unknown robot 'segway'"))
    }
}

@Suite("pipps bench gradient")
struct BenchGradientCommandTests {
    /// The benchmark reads each method's time against its floor: its BLAS calls timed alone.
    @Test func reportsTheFloorOfEachMethod() throws {
        let r = try runProcess(Binaries.pipps, ["bench", "gradient", "--estimator", "tp", "--particles", "8", "--data", "30",
                                                "--horizon", "3", "--basis", "4", "--repetitions", "1"])
        #expect(r.status == 0, "\(r.output)")
        let json = String(r.output[try #require(r.output.firstIndex(of: "{"))...])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let result = try #require((report["results"] as? [[String: Any]])?.first)
        let gflop = try #require(result["blas_gflop"] as? Double), floor = try #require(result["floor_seconds"] as? Double)
        let oneCore = try #require(result["floor_seconds_one_core"] as? Double), cores = try #require(report["cores"] as? Int)
        #expect(gflop > 0 && floor > 0 && abs(floor * Double(cores) - oneCore) <= 1e-12 * oneCore, "\(result)")
        let ratio = try #require(result["time_over_floor"] as? Double), median = try #require(result["median_seconds"] as? Double)
        #expect(abs(ratio - median / floor) <= 1e-9 * ratio)
        let shares = try #require(result["top_shapes"] as? [[String: Any]]).compactMap { $0["share"] as? Double }
        #expect(!shares.isEmpty && shares.reduce(0, +) <= 1 + 1e-12 && shares.allSatisfy { $0 > 0 })
    }
}

@Suite("pipps bench learning")
struct BenchLearningCommandTests {
    /// The run's floor is the sum of its learned trials' floors, each read against the trial's span.
    @Test func reportsTheFloorOfTheRunAndOfEachTrial() throws {
        let r = try runProcess(Binaries.pipps, ["bench", "learning", "--particles", "4", "--evaluations", "3", "--learned-trials", "2"])
        #expect(r.status == 0, "\(r.output)")
        let json = String(r.output[try #require(r.output.firstIndex(of: "{"))...])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let trials = try #require(report["trials"] as? [[String: Any]]).filter { $0["learned"] as? Bool == true }
        #expect(trials.count == 2)
        let floors = trials.compactMap { $0["floor_seconds"] as? Double }
        let total = try #require(report["floor_seconds"] as? Double), wall = try #require(report["wall_seconds"] as? Double)
        #expect(floors.count == 2 && floors.allSatisfy { $0 > 0 } && abs(floors.reduce(0, +) - total) <= 1e-12 * total, "\(report)")
        #expect(abs((report["time_over_floor"] as? Double ?? 0) - wall / total) <= 1e-9 * wall / total)
        for t in trials {
            let perEvaluation = try #require(t["seconds_per_evaluation"] as? Double), optimisation = try #require(t["optimisation_seconds"] as? Double)
            #expect(abs(perEvaluation * 3 - optimisation) <= 1e-12 + 1e-9 * optimisation)
            #expect((t["blas_gflop"] as? Double ?? 0) > 0 && (t["span_seconds"] as? Double ?? 0) >= optimisation)
        }
    }
}
