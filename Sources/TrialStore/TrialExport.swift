import Foundation
import GRDB
import Messages
import Robots
import SwiftProtobuf

/// Trials as MCAP (`pipps export mcap`) and back (`pipps learn --mcap`): a backup of what a store
/// needs to carry on learning.
///
/// Four channels, protobuf-encoded with the wire protocol's `FileDescriptorSet` embedded as the
/// schemas: `/pipps/trial/header` (`pipps.v1.TrialHeader`, at the trial's start),
/// `/pipps/trial/step` (`pipps.v1.TrialStep`, log time = when the runtime received the state),
/// `/pipps/trial/end` (`pipps.v1.TrialEnd`), and `/pipps/policy` (`pipps.v1.PolicyRecord`: every
/// policy version of the exported trials' robots, log time = its creation). Times are unix
/// nanoseconds.
public enum TrialExport {
    public static let headerTopic = "/pipps/trial/header"
    public static let stepTopic = "/pipps/trial/step"
    public static let endTopic = "/pipps/trial/end"
    public static let policyTopic = "/pipps/policy"

    /// One trial read back from an export.
    public struct Trial: Sendable {
        public var header: Pipps_V1_TrialHeader
        public var steps: [StoredStep]
        public var endedNs: Int64
    }

    /// What an export holds: its complete trials (in order) and its policy versions.
    public struct Contents: Sendable {
        public var trials: [Trial]
        public var policies: [StoredPolicy]
    }

    /// The MCAP bytes of these trials (in the order given).
    public static func mcap(store: TrialStore, trials ids: [Int64], chunkSize: Int = 256 * 1024) throws -> [UInt8] {
        var writer = MCAPWriter(library: "pipps \(PIPPSStoreVersion.string)", chunkSize: chunkSize)
        let descriptors = ProtoDescriptors.fileDescriptorSet
        let topics = [(headerTopic, "pipps.v1.TrialHeader"), (stepTopic, "pipps.v1.TrialStep"), (endTopic, "pipps.v1.TrialEnd"),
                      (policyTopic, "pipps.v1.PolicyRecord")]
        for (i, (topic, type)) in topics.enumerated() {
            writer.add(MCAP.Schema(id: UInt16(i + 1), name: type, encoding: "protobuf", data: descriptors))
            writer.add(MCAP.Channel(id: UInt16(i + 1), schemaID: UInt16(i + 1), topic: topic, messageEncoding: "protobuf", metadata: [:]))
        }
        let kinds = try store.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT id, kind FROM robot").map { ($0["id"] as String, $0["kind"] as String) })
        }
        var sequence: [UInt16: UInt32] = [:]
        func add(_ channel: UInt16, _ time: Int64, _ message: any SwiftProtobuf.Message) throws {
            let t = UInt64(max(time, 0))
            writer.add(MCAP.Message(channel: channel, sequence: sequence[channel, default: 0], logTime: t, publishTime: t,
                                    data: try message.serializedBytes()))
            sequence[channel, default: 0] += 1
        }
        var robots: [String] = []
        for id in ids {
            guard let trial = try store.trial(id) else { throw TrialStoreError("no trial \(id) in \(store.path)") }
            if !robots.contains(trial.robotID) { robots.append(trial.robotID) }  // their policies follow the trials
            let steps = try store.steps(trial: id)
            let kind = kinds[trial.robotID].flatMap(RobotKind.init(rawValue:))
            try add(1, trial.startedNs, Pipps_V1_TrialHeader.with {
                $0.trialID = UInt64(trial.id); $0.robotID = trial.robotID; $0.task = trial.task
                if let kind {
                    $0.robotKind = Pipps_V1_RobotKind(kind)
                    $0.stateDimension = UInt32(kind.stateDimension); $0.controlDimension = UInt32(kind.controlDimension)
                }
                $0.controlPeriodUs = 100_000
                $0.policyVersion = UInt64(trial.policyVersion); $0.startedUnixNs = trial.startedNs; $0.cycleID = UInt64(trial.cycleID ?? 0)
                $0.source = trial.source; $0.maxSteps = UInt32(clamping: trial.maxSteps)
            })
            for s in steps {
                try add(2, s.receivedNs, Pipps_V1_TrialStep.with {
                    $0.trialID = UInt64(id); $0.sequence = s.sequence; $0.robotTimeNs = s.robotTimeNs; $0.receivedUnixNs = s.receivedNs
                    $0.state = s.state; $0.control = s.control; $0.policyVersion = s.policyVersion
                    $0.status = Pipps_V1_ControlStatus(rawValue: s.status) ?? .unspecified
                    $0.reason = Pipps_V1_FallbackReason(rawValue: s.reason) ?? .none
                    $0.latencyNs = s.latencyNs
                })
            }
            let endTime = trial.endedNs ?? steps.last?.receivedNs ?? trial.startedNs
            try add(3, endTime, Pipps_V1_TrialEnd.with {
                $0.trialID = UInt64(id); $0.endedUnixNs = endTime; $0.reason = trial.reason; $0.stepCount = UInt32(steps.count)
                switch trial.status {
                case .running: $0.outcome = .running
                case .complete: $0.outcome = .complete
                case .aborted: $0.outcome = .aborted
                }
            })
        }
        for robot in robots {
            for stored in try store.policies(robot: robot).reversed() {
                let policy = try Pipps_V1_Policy(serializedBytes: stored.policy)
                try add(4, stored.createdNs, Pipps_V1_PolicyRecord.with {
                    $0.robotID = robot; $0.policy = policy; $0.deployedUnixNs = stored.deployedNs ?? 0
                    $0.storedUnixNs = stored.createdNs; $0.learningRoundID = UInt64(stored.learningRoundID ?? 0)
                })
            }
        }
        return writer.finish()
    }

    /// The complete trials and the policies in an MCAP file of this layout.
    public static func contents(mcap bytes: [UInt8]) throws -> Contents {
        let reader = try MCAPReader(bytes)
        func topic(_ name: String) -> UInt16? { reader.channels.values.first { $0.topic == name }?.id }
        guard let header = topic(headerTopic), let step = topic(stepTopic) else {
            throw TrialStoreError("no \(headerTopic) and \(stepTopic) channels: not a pipps trial export")
        }
        let end = topic(endTopic), policy = topic(policyTopic)
        /// A 64-bit unsigned field of the file as a store integer (the file is input: no trap).
        func integer(_ v: UInt64, _ what: String) throws -> Int64 {
            guard let i = Int64(exactly: v) else { throw TrialStoreError("\(what) \(v) is out of range") }
            return i
        }
        var order: [UInt64] = [], headers: [UInt64: Pipps_V1_TrialHeader] = [:], steps: [UInt64: [StoredStep]] = [:]
        var ended: [UInt64: Int64] = [:], policies: [StoredPolicy] = []
        for m in reader.messages {
            switch m.channel {
            case header:
                let h = try Pipps_V1_TrialHeader(serializedBytes: m.data)
                if headers[h.trialID] == nil { order.append(h.trialID) }
                headers[h.trialID] = h
            case step:
                let s = try Pipps_V1_TrialStep(serializedBytes: m.data)
                steps[s.trialID, default: []].append(StoredStep(
                    robotID: headers[s.trialID]?.robotID ?? "", trialID: try integer(s.trialID, "trial id"), sequence: s.sequence, robotTimeNs: s.robotTimeNs,
                    receivedNs: s.receivedUnixNs, state: s.state, control: s.control, policyVersion: s.policyVersion,
                    status: s.status.rawValue, reason: s.reason.rawValue, latencyNs: s.latencyNs))
            case end where end != nil:
                let e = try Pipps_V1_TrialEnd(serializedBytes: m.data)
                if e.outcome == .complete { ended[e.trialID] = e.endedUnixNs }
            case policy where policy != nil:
                let r = try Pipps_V1_PolicyRecord(serializedBytes: m.data)
                policies.append(StoredPolicy(robotID: r.robotID, version: try integer(r.policy.version, "policy version"), createdNs: r.storedUnixNs,
                                             learningRoundID: r.learningRoundID == 0 ? nil : try integer(r.learningRoundID, "learning round"),
                                             deployedNs: r.deployedUnixNs == 0 ? nil : r.deployedUnixNs,
                                             policy: try r.policy.serializedData(), checksum: r.policy.checksum))
            default:
                break
            }
        }
        let trials = order.compactMap { id in ended[id].map { Trial(header: headers[id]!, steps: steps[id] ?? [], endedNs: $0) } }
        return Contents(trials: trials, policies: policies)
    }
}

/// The store's software version, for file headers.
public enum PIPPSStoreVersion {
    public static let string = "0.1.0"
}
