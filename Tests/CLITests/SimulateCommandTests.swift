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
