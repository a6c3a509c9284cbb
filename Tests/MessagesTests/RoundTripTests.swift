import Foundation
import Messages
import SwiftProtobuf
import TestSupport
import Testing

/// One fully populated sample of every message of the protocol.
enum Samples {
    static let hello = Pipps_V1_Hello.with {
        $0.robotID = "cartpole-01"; $0.kind = .cartPole; $0.stateDimension = 4; $0.controlDimension = 1
        $0.controlPeriodUs = 100_000; $0.firmwareVersion = "sim-1.0"; $0.protocolVersion = 1
    }
    static let welcome = Pipps_V1_Welcome.with {
        $0.accepted = false; $0.reason = "dimension mismatch"; $0.sessionID = 42; $0.protocolVersion = 1; $0.policyVersion = 7
    }
    static let state = Pipps_V1_State.with {
        $0.robotID = "cartpole-01"; $0.trialID = 3; $0.sequence = 12_345; $0.robotTimeNs = -5
        $0.state = [0.1, -0.2, 3.0e-7, .pi]
    }
    static let control = Pipps_V1_Control.with {
        $0.sequence = 12_345; $0.control = [-9.75]; $0.policyVersion = 7; $0.status = .fallback
        $0.reason = .staleState; $0.detail = "state 212 ms old"; $0.runtimeLatencyNs = 18_000
    }
    static let heartbeat = Pipps_V1_Heartbeat.with { $0.timeNs = 1_234_567_890_123 }
    static let goodbye = Pipps_V1_Goodbye.with { $0.reason = "battery low" }
    static let protocolError = Pipps_V1_ProtocolError.with { $0.message = "malformed message (3 bytes)" }
    static let trialStart = Pipps_V1_TrialStart.with { $0.trialID = 12; $0.task = "cartpole-angle"; $0.maxSteps = 30 }
    static let trialStop = Pipps_V1_TrialStop.with { $0.trialID = 12; $0.reason = "emergency stop" }
    static let robotMessage = Pipps_V1_RobotMessage.with { $0.state = state }
    static let runtimeMessage = Pipps_V1_RuntimeMessage.with { $0.control = control }
    static let rbf = Pipps_V1_RBFNetwork.with {
        $0.basisCount = 2; $0.centres = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]; $0.widths = [1, 1, 2, 2, 3]; $0.weights = [0.5, -0.5]
    }
    static let linear = Pipps_V1_LinearPolicy.with { $0.weights = [1, 2, 3, 4, 5, 6]; $0.bias = [0.25, -0.25] }
    static let policy = Pipps_V1_Policy.with {
        $0.version = 9; $0.robotKind = .cartPole; $0.stateDimension = 4; $0.controlDimension = 1
        $0.angleIndices = [3]; $0.inputDimension = 5; $0.controlLimits = [10]; $0.rbf = rbf
        $0.learningRound = 4; $0.createdUnixNs = 1_700_000_000_000_000_000; $0.checksum = String(repeating: "ab", count: 32)
    }
    static let deploy = Pipps_V1_DeployPolicy.with { $0.robotID = "cartpole-01"; $0.policy = policy }
    static let startTrial = Pipps_V1_StartTrial.with { $0.robotID = "cartpole-01"; $0.task = "cartpole-swingup"; $0.maxSteps = 30 }
    static let stopTrial = Pipps_V1_StopTrial.with { $0.robotID = "cartpole-01"; $0.trialID = 3; $0.reason = "operator" }
    static let emergencyStop = Pipps_V1_EmergencyStop.with { $0.robotID = ""; $0.release = true; $0.reason = "all clear" }
    static let statusRequest = Pipps_V1_StatusRequest()
    static let adminRequest = Pipps_V1_AdminRequest.with { $0.requestID = 77; $0.deploy = deploy }
    static let latency = Pipps_V1_LatencySummary.with { $0.count = 1000; $0.p50Us = 35.5; $0.p99Us = 80; $0.p999Us = 120; $0.maxUs = 900 }
    static let robotStatus = Pipps_V1_RobotStatus.with {
        $0.robotID = "cartpole-01"; $0.sessionID = 42; $0.policyVersion = 9; $0.trialID = 3; $0.emergencyStopped = true
        $0.statesReceived = 1000; $0.controlsSent = 999; $0.fallbacks = ["FALLBACK_REASON_STALE_STATE": 2]
        $0.deadlineMisses = 1; $0.latency = latency; $0.lastSeenAgoNs = 50_000_000
    }
    static let runtimeStatus = Pipps_V1_RuntimeStatus.with {
        $0.runtimeVersion = "0.1.0"; $0.uptimeNs = 9_000_000_000; $0.robots = [robotStatus]; $0.globalEmergencyStop = true
        $0.malformedMessages = 3; $0.stepsRecorded = 999; $0.stepsDropped = 0
    }
    static let adminReply = Pipps_V1_AdminReply.with { $0.requestID = 77; $0.ok = true; $0.error = ""; $0.status = runtimeStatus }
    static let trialHeader = Pipps_V1_TrialHeader.with {
        $0.trialID = 3; $0.robotID = "cartpole-01"; $0.robotKind = .cartPole; $0.task = "cartpole-swingup"
        $0.stateDimension = 4; $0.controlDimension = 1; $0.controlPeriodUs = 100_000; $0.policyVersion = 9
        $0.startedUnixNs = 1_700_000_000_000_000_000; $0.cycleID = 2; $0.source = "runtime"; $0.maxSteps = 30
    }
    static let trialStep = Pipps_V1_TrialStep.with {
        $0.trialID = 3; $0.sequence = 5; $0.robotTimeNs = 500_000_000; $0.receivedUnixNs = 1_700_000_000_500_000_000
        $0.state = [0, 0, 0, 0.1]; $0.control = [2.5]; $0.policyVersion = 9; $0.status = .ok; $0.reason = .none; $0.latencyNs = 42_000
    }
    static let trialEnd = Pipps_V1_TrialEnd.with {
        $0.trialID = 3; $0.outcome = .aborted; $0.reason = "runtime restarted"; $0.endedUnixNs = 1_700_000_003_000_000_000; $0.stepCount = 30
    }

    static let policyRecord = Pipps_V1_PolicyRecord.with {
        $0.robotID = "cartpole-01"; $0.policy = policy; $0.deployedUnixNs = 1_700_000_001_000_000_000
        $0.storedUnixNs = 1_700_000_000_900_000_000; $0.learningRoundID = 4
    }

    static let all: [any SwiftProtobuf.Message] = [
        hello, welcome, state, control, heartbeat, goodbye, protocolError, trialStart, trialStop, robotMessage, runtimeMessage,
        rbf, linear, policy, deploy, startTrial, stopTrial, emergencyStop, statusRequest, adminRequest,
        latency, robotStatus, runtimeStatus, adminReply, trialHeader, trialStep, trialEnd, policyRecord,
    ]
}

@Suite("Protocol messages")
struct RoundTripTests {
    @Test("binary and JSON round trips of every message", arguments: Samples.all.indices)
    func roundTrip(index: Int) throws {
        let message = Samples.all[index]
        let bytes: [UInt8] = try message.serializedBytes()
        let decoded = try type(of: message).init(serializedBytes: bytes, extensions: nil, partial: false, options: BinaryDecodingOptions())
        #expect(decoded.isEqualTo(message: message), "\(type(of: message).protoMessageName)")
        let json = try message.jsonString()
        let fromJSON = try type(of: message).init(jsonString: json, options: JSONDecodingOptions())
        #expect(fromJSON.isEqualTo(message: message), "\(type(of: message).protoMessageName) via JSON")
    }

    @Test func everyMessageOfTheDescriptorSetHasASample() throws {
        let url = RepositoryPaths.root.appendingPathComponent("Sources/Messages/pipps.desc")
        let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: [UInt8](Data(contentsOf: url)))
        let declared = Set(set.file.filter { $0.package == "pipps.v1" }.flatMap { f in f.messageType.map { "pipps.v1.\($0.name)" } })
        let sampled = Set(Samples.all.map { type(of: $0).protoMessageName })
        #expect(declared == sampled, "messages without a sample: \(declared.subtracting(sampled).sorted())")
        #expect(declared.count >= 25)
    }

    @Test func everyOneofCaseRoundTrips() throws {
        let robotBodies: [Pipps_V1_RobotMessage.OneOf_Body] = [
            .hello(Samples.hello), .state(Samples.state), .heartbeat(Samples.heartbeat), .goodbye(Samples.goodbye),
        ]
        for body in robotBodies {
            let m = Pipps_V1_RobotMessage.with { $0.body = body }
            let back = try Pipps_V1_RobotMessage(serializedBytes: try m.serializedBytes() as [UInt8])
            #expect(back.body == body)
        }
        let runtimeBodies: [Pipps_V1_RuntimeMessage.OneOf_Body] = [
            .welcome(Samples.welcome), .control(Samples.control), .heartbeat(Samples.heartbeat), .error(Samples.protocolError),
            .trialStart(Samples.trialStart), .trialStop(Samples.trialStop),
        ]
        for body in runtimeBodies {
            let m = Pipps_V1_RuntimeMessage.with { $0.body = body }
            #expect(try Pipps_V1_RuntimeMessage(serializedBytes: try m.serializedBytes() as [UInt8]).body == body)
        }
        let adminBodies: [Pipps_V1_AdminRequest.OneOf_Body] = [
            .deploy(Samples.deploy), .startTrial(Samples.startTrial), .stopTrial(Samples.stopTrial),
            .emergencyStop(Samples.emergencyStop), .status(Samples.statusRequest),
        ]
        for body in adminBodies {
            let m = Pipps_V1_AdminRequest.with { $0.requestID = 1; $0.body = body }
            #expect(try Pipps_V1_AdminRequest(serializedBytes: try m.serializedBytes() as [UInt8]).body == body)
        }
        let replyBodies: [Pipps_V1_AdminReply.OneOf_Body] = [.status(Samples.runtimeStatus), .trialID(5), .policyVersion(6)]
        for body in replyBodies {
            let m = Pipps_V1_AdminReply.with { $0.ok = true; $0.body = body }
            #expect(try Pipps_V1_AdminReply(serializedBytes: try m.serializedBytes() as [UInt8]).body == body)
        }
        let linearPolicy = Pipps_V1_Policy.with { $0.version = 1; $0.linear = Samples.linear }
        #expect(try Pipps_V1_Policy(serializedBytes: try linearPolicy.serializedBytes() as [UInt8]).linear == Samples.linear)
    }

    @Test func malformedBytesAreAnErrorNotACrash() {
        var rng = SystemRandomNumberGenerator()
        var failures = 0
        for length in 1...200 {
            let garbage = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            do { _ = try Pipps_V1_RobotMessage(serializedBytes: garbage) } catch { failures += 1 }
        }
        // Random bytes are almost never a valid message; the point is that decoding returns or throws.
        #expect(failures > 150)
        #expect(throws: (any Error).self) { try Pipps_V1_RobotMessage(serializedBytes: [0x12, 0xFF]) }
    }

    @Test func stateMessageIsSmall() throws {
        let bytes: [UInt8] = try Samples.robotMessage.serializedBytes()
        #expect(bytes.count < 100)
        #expect(bytes.count < WireProtocol.maxMessageBytes)
    }
}

@Suite("Generated code is up to date")
struct GeneratedCodeTests {
    private var plugin: String {
        ProcessInfo.processInfo.environment["PROTOC_GEN_SWIFT"]
            ?? RepositoryPaths.root.appendingPathComponent(".build/debug/protoc-gen-swift").path
    }

    @Test func committedCodeMatchesTheProtos() throws {
        #expect(FileManager.default.isExecutableFile(atPath: plugin), "protoc-gen-swift not built at \(plugin); run `make test`")
        let script = RepositoryPaths.root.appendingPathComponent("scripts/gen-proto").path
        let result = try runProcess(script, ["--check"], environment: ["PROTOC_GEN_SWIFT": plugin])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func theCheckNoticesAChangedProto() throws {
        let tmp = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let fm = FileManager.default
        for parent in ["Sources", "deploy"] {
            try fm.createDirectory(at: tmp.appendingPathComponent(parent), withIntermediateDirectories: true)
        }
        for item in ["scripts", "Proto", "Sources/Messages", "deploy/reference-client"] {
            try fm.copyItem(at: RepositoryPaths.root.appendingPathComponent(item), to: tmp.appendingPathComponent(item))
        }
        let proto = tmp.appendingPathComponent("Proto/pipps/v1/robot.proto")
        var text = try String(contentsOf: proto, encoding: .utf8)
        text = text.replacingOccurrences(of: "message Goodbye {", with: "message Goodbye {\n  uint32 code = 2;")
        try text.write(to: proto, atomically: true, encoding: .utf8)
        let result = try runProcess(tmp.appendingPathComponent("scripts/gen-proto").path, ["--check"], environment: ["PROTOC_GEN_SWIFT": plugin])
        #expect(result.status != 0)
        #expect(result.output.contains("pipps_v1_robot.pb.swift is stale"))
        #expect(result.output.contains("reference-client/pipps/v1/robot_pb2.py is stale"))
    }
}
