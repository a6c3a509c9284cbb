import Foundation
import TestSupport
import Testing
import TrialStore
import ZeroMQ

/// The commands the docs show, run as written: a user copies them.
@Suite("Documented commands", .serialized)
struct DocumentedCommandsTests {
    /// The first ```sh block after `heading` in a Markdown file.
    static func shellBlock(_ file: String, after heading: String) throws -> String {
        let text = try String(contentsOf: RepositoryPaths.root.appendingPathComponent(file), encoding: .utf8)
        let start = try #require(text.range(of: heading), "\(file) has no '\(heading)'")
        let open = try #require(text.range(of: "```sh\n", range: start.upperBound..<text.endIndex))
        let close = try #require(text.range(of: "```", range: open.upperBound..<text.endIndex))
        return String(text[open.upperBound..<close.lowerBound])
    }

    /// HARDWARE.md's "Trying it with the simulated robot": a runtime with a store, firmware-sim, a
    /// trial, the listing, a learning round, a deploy and the status, on the default ports. The only
    /// change: `pipps learn` gets small settings (the defaults take minutes in a debug build).
    @Test func hardwareGuideTryingItWithTheSimulatedRobot() throws {
        let block = try Self.shellBlock("deploy/HARDWARE.md", after: "## Trying it with the simulated robot")
        let learnLines = block.components(separatedBy: "--output policy.json").count - 1
        #expect(learnLines == 2, "the block learns twice")
        // Background processes never outlive the script, however it ends.
        let script = "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT TERM\n"
            + block.replacingOccurrences(of: "--output policy.json", with: "--output policy.json --particles 10 --evaluations 5 --basis-count 10")
        // The block uses the default ports: they must be free, or its commands would talk to another program.
        do {
            let context = try Context()
            for port in [7700, 7701] {
                let probe = try Socket(context, .router)
                do { try probe.bind("tcp://127.0.0.1:\(port)") } catch {
                    throw TestFailure("port \(port) is in use (\(error)): this test needs the runtime's default ports")
                }
                probe.close()
            }
            context.terminate()
        }
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bin = RepositoryPaths.root.appendingPathComponent(".build/debug").path
        let result = try runProcess("/usr/bin/timeout", ["600", "/bin/bash", "-euo", "pipefail", "-c", script],
                                    environment: ["PATH": "\(bin):/usr/bin:/bin"], currentDirectory: dir)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("started from the robot's policy version 1"), "the second round continues: \(result.output)")
        let store = try TrialStore(path: dir.appendingPathComponent("runs/store.sqlite").path)
        let trials = try store.trials(robot: "cartpole-sim", task: "cartpole-angle", statuses: [.complete])
        #expect(trials.map(\.source) == ["runtime", "csv"], "the runtime's trial (id 1) and the logged one (2^40): \(trials)")
        #expect(trials.allSatisfy { $0.cost != nil }, "\(trials)")
        let latest = try #require(try store.latestPolicy(robot: "cartpole-sim"))
        #expect(latest.version == 2 && latest.deployedNs != nil, "the second learned policy was deployed")
    }
}
