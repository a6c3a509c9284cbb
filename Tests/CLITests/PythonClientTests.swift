import ControlRuntime
import Foundation
import Messages
import TestSupport
import Testing
import ZeroMQ

/// The Python reference robot client (deploy/reference-client, pyzmq + protobuf modules generated
/// from Proto/) against a real `pipps serve` with CURVE: the protocol works from another language.
@Suite struct PythonReferenceClientTests {
    static var python: String { RepositoryPaths.root.appendingPathComponent(".venv-client/bin/python").path }
    static var client: String { RepositoryPaths.root.appendingPathComponent("deploy/reference-client/pipps_robot.py").path }

    @Test func balancesThroughTheRuntimeWithCurveKeys() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python),
                     "no \(Self.python): `make test` creates it (make client-env)")
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let serve = try ServeProcess.withCurveKeys(in: dir)
        defer { serve.process.stop() }
        let operatorKeys = try CurveKeyPair(secretKey: KeyFile.value("operator.key", secret: true, relativeTo: dir))
        try serve.adminClient(keys: operatorKeys).perform(.deploy(.with { $0.robotID = "py-1"; $0.policy = try balancingPolicy(version: 7) }))

        let run = try runProcess(Self.python, [
            Self.client, "--connect", serve.robots, "--id", "py-1", "--key", dir.appendingPathComponent("robot.key").path,
            "--server-key", dir.appendingPathComponent("runtime.pub").path, "--lockstep", "--steps", "80",
            "--initial", "0,0,0,3.0", "--noise", "0.01", "--watchdog-ms", "10000", "--repeat-sequence-at", "40",
        ])
        #expect(run.status == 0, "\(run.output)")
        let line = try #require(run.output.split(separator: "\n").last { $0.hasPrefix("{") }, "no summary: \(run.output)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let statuses = summary["statuses"] as? [String: Int] ?? [:]
        #expect(statuses["CONTROL_STATUS_OK"] == 79, "\(summary)")
        #expect(statuses["CONTROL_STATUS_FALLBACK"] == 1 && (summary["fallback_reasons"] as? [String: Int])?["FALLBACK_REASON_OUT_OF_ORDER"] == 1,
                "the repeated sequence number gets the out-of-order fallback: \(summary)")
        #expect(summary["policy_versions"] as? [Int] == [7] && summary["watchdog"] as? Int == 0)
        let worst = try #require(summary["worst_angle_from_upright"] as? Double)
        #expect(worst < 0.3, "the pole stays within 0.3 rad of upright (worst \(worst))")

        // The client said Goodbye: the runtime closes its session (the Goodbye and this status request
        // reach the runtime on different sockets, so wait for it, bounded).
        let admin = try serve.adminClient(keys: operatorKeys)
        var status = try admin.perform(.status(.init())).status
        let limit = Date().addingTimeInterval(30)
        while status.robots.contains(where: { $0.robotID == "py-1" }), Date() < limit {
            Thread.sleep(forTimeInterval: 0.05)
            status = try admin.perform(.status(.init())).status
        }
        #expect(!status.robots.contains { $0.robotID == "py-1" }, "\(status)")

        // A key the runtime does not know gets no Welcome: the client says so and exits non-zero.
        let stranger = try runProcess(Binaries.pipps, ["keys", "stranger", "--directory", dir.path])
        #expect(stranger.status == 0)
        let refused = try runProcess(Self.python, [
            Self.client, "--connect", serve.robots, "--id", "py-2", "--key", dir.appendingPathComponent("stranger.key").path,
            "--server-key", dir.appendingPathComponent("runtime.pub").path, "--lockstep", "--steps", "5",
        ])
        #expect(refused.status != 0 && refused.output.contains("no Welcome"), "\(refused.output)")
    }
}
