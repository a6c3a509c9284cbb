import Foundation
import Logging
import Messages
import Robots
import TrialStore

/// A message the runtime sends to a robot outside the State → Control exchange (Welcome, trial
/// start and stop, errors).
public struct Outgoing {
    public let routingID: [UInt8]
    public let message: Pipps_V1_RuntimeMessage
}

/// What the runtime answers to one `State`: `count` control values were written to the caller's
/// buffer.
public struct ControlDecision {
    public var count: Int
    public var policyVersion: UInt64
    public var status: Pipps_V1_ControlStatus
    public var reason: Pipps_V1_FallbackReason
    public var detail: StaticString
    /// The step ended the robot's trial (its `max_steps` reached): send it a `TrialStop` after the
    /// control (``RuntimeCore/trialStop(for:)``).
    public var endedTrial: Bool
    /// The running trial this step belongs to (0: none).
    public var trialID: UInt64 = 0
    /// The robot's recorder index, when the state came from a registered robot.
    public var robotIndex: UInt32? = nil
}

/// The runtime's decisions, without sockets: sessions per robot, the control for each state with
/// every safe fallback, policy hot swap, trials, emergency stops and metrics. Every call takes the
/// time (`now`, monotonic nanoseconds), so tests drive it on a virtual clock; ``RuntimeServer``
/// drives it from the sockets on one thread.
///
/// **Staleness.** Robot clocks are not the runtime's, so a state's age cannot be read off its
/// timestamp. Per session the runtime keeps a baseline offset, the smallest `received − robot_time`
/// seen (the transport delay of the fastest state plus the clock offset), letting it grow by 100 ppm
/// of elapsed time to follow clock drift; a state is stale when its own offset exceeds the baseline
/// by more than ``RuntimeSettings/maxStateAge`` (A = 50 ms by default), i.e. when it spent that much
/// longer in transit or queued than the best state did.
///
/// Robots step their clocks (an NTP step, a firmware reset), so the baseline follows only offsets
/// within A of it. A state whose offset is further away, on either side, leaves the baseline alone:
/// one that looks older than A is refused as stale, one that looks newer is answered. When
/// ``clockStepStates`` (5) such states come in a row and agree with each other (each offset within
/// half the robot-time advance of the one before, robot time increasing), the robot's clock has
/// stepped: the baseline moves to the smallest of their offsets and the fifth is judged against it.
/// So after a single outlier the next state is judged as before; after a step forward no state is
/// refused; after a step backward at most four states are refused and the fifth is answered (0.5 s
/// at 10 Hz). A delayed burst (a backlog delivered faster than twice the rate it was sent) never
/// agrees with itself, since its offsets fall by more than half the robot-time advance from one
/// state to the next, so all of it stays stale. A backlog drained at less than twice real time, or a
/// link that stays delayed, cannot be told from a clock step by timestamps alone: after five states
/// the runtime takes the new offset as the baseline.
///
/// **Allocation.** ``control(for:routingID:now:into:)`` allocates nothing once a session exists:
/// sessions are found by a hash of the routing id (bytes compared), counters are fixed arrays, and
/// details are static strings.
public final class RuntimeCore {
    public let settings: RuntimeSettings
    public let startTime: Int64
    var logger: Logger

    final class Session {
        let id: UInt64
        let routingID: [UInt8]
        let robotID: String
        let robotIDBytes: [UInt8]
        let kind: RobotKind
        let safeControl: [Double]
        var lastSequence: UInt64 = 0
        var minimumOffset: Int64 = .max
        var lastReceive: Int64 = 0
        var lastOffset: Int64 = 0
        var lastRobotTime: Int64 = 0
        /// Consecutive states far from the baseline that agree with each other (a clock step so
        /// far), and the smallest offset among them.
        var clockStepRun = 0
        var clockStepMinimum: Int64 = 0
        var lastSeen: Int64
        var statesReceived: UInt64 = 0
        var controlsSent: UInt64 = 0
        var fallbacks = [UInt64](repeating: 0, count: 16)
        var deadlineMisses: UInt64 = 0
        /// Clock steps taken (the baseline offset moved by ``RuntimeCore/clockStepStates`` states).
        var clockSteps: UInt64 = 0
        var latency = LatencyHistogram()
        var recordIndex: UInt32 = 0

        init(id: UInt64, routingID: [UInt8], robotID: String, kind: RobotKind, safeControl: [Double], now: Int64) {
            self.id = id
            self.routingID = routingID
            self.robotID = robotID
            robotIDBytes = Array(robotID.utf8)
            self.kind = kind
            self.safeControl = safeControl
            lastSeen = now
        }
    }

    struct Trial {
        let id: UInt64
        let task: String
        let maxSteps: UInt32
        var steps: UInt32 = 0
    }

    private var sessions: [UInt64: Session] = [:]
    private var sessionByRobot: [String: UInt64] = [:]
    private var policies: [String: CompiledPolicy] = [:]
    /// The kind each robot id last registered as (in this runtime, or in the store it records to),
    /// kept after its session ends: deploys are checked against it while the robot is offline, and a
    /// `NOT_REGISTERED` answer carries that kind's safe control.
    private var knownKinds: [String: RobotKind] = [:]
    private var trials: [String: Trial] = [:]
    private var stoppedRobots: Set<String> = []
    public private(set) var globalEmergencyStop = false
    private var nextSessionID: UInt64 = 1
    private var nextTrialID: UInt64
    public private(set) var malformedMessages: UInt64 = 0
    /// Robot messages above ``WireProtocol/maxMessageBytes`` (refused, the session goes on).
    public private(set) var oversizedMessages: UInt64 = 0
    /// Robot connections that closed (by the robot, or by libzmq above its message limit).
    public private(set) var robotDisconnects: UInt64 = 0
    /// Told about robots, trials and deploys (the step recorder); nil: nothing is recorded.
    public var recording: (any RuntimeRecording)?

    public init(settings: RuntimeSettings, now: Int64, logger: Logger = Logger(label: "pipps.runtime")) {
        self.settings = settings
        startTime = now
        nextTrialID = settings.firstTrialID
        self.logger = logger
    }

    // MARK: - Robots

    /// The session key of a routing id: 64-bit FNV-1a of its bytes.
    @inlinable
    public static func key(_ routingID: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in routingID { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// Byte equality without generic sequence code (which allocates when unspecialised, in debug builds).
    static func sameBytes(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { memcmp($0.baseAddress!, b.baseAddress!, a.count) == 0 }
    }

    /// Registers a robot (`Hello`); a robot id already registered moves to the new connection (a
    /// robot that restarted or reconnected).
    public func hello(_ hello: Pipps_V1_Hello, routingID: [UInt8], now: Int64) -> Outgoing {
        func refuse(_ reason: String) -> Outgoing {
            logger.warning("robot registration refused", metadata: ["robot": "\(hello.robotID)", "reason": "\(reason)"])
            return Outgoing(routingID: routingID, message: .with {
                $0.welcome = .with { $0.accepted = false; $0.reason = reason; $0.protocolVersion = WireProtocol.version }
            })
        }
        let id = hello.robotID
        guard (1...64).contains(id.utf8.count), id.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            return refuse("robot_id must be 1 to 64 printable ASCII characters without spaces")
        }
        guard let kind = hello.kind.robotKind else { return refuse("unknown robot kind \(hello.kind.rawValue)") }
        guard hello.stateDimension == kind.stateDimension, hello.controlDimension == kind.controlDimension else {
            return refuse("a \(kind.rawValue) has \(kind.stateDimension) state and \(kind.controlDimension) control values, not \(hello.stateDimension) and \(hello.controlDimension)")
        }
        guard hello.protocolVersion >= 1 else { return refuse("protocol_version must be at least 1") }
        let key = routingID.withUnsafeBytes { Self.key($0) }
        if let old = sessionByRobot[id], old != key { sessions[old] = nil }
        if let previous = sessions[key], previous.robotID != id { sessionByRobot[previous.robotID] = nil }
        let session = Session(id: nextSessionID, routingID: routingID, robotID: id, kind: kind,
                              safeControl: settings.safeControl(kind), now: now)
        nextSessionID += 1
        sessions[key] = session
        sessionByRobot[id] = key
        knownKinds[id] = kind
        if let policy = policies[id], policy.kind != kind {
            // Kept, not removed: it drives this robot id again if it comes back as the policy's kind.
            logger.warning("the deployed policy is for another robot kind: this robot gets NO_POLICY until a policy for its kind is deployed",
                           metadata: ["robot": "\(id)", "policy": "\(policy.version)", "policy_kind": "\(policy.kind.rawValue)", "kind": "\(kind.rawValue)"])
        }
        session.recordIndex = recording?.robotRegistered(id, kind: kind) ?? 0
        if let trial = trials[id] {
            logger.warning("trial aborted: the robot registered again", metadata: ["robot": "\(id)", "trial": "\(trial.id)"])
            _ = endTrial(robot: id, trial: trial, reason: "the robot registered again", status: .aborted)
        }
        logger.info("robot registered", metadata: ["robot": "\(id)", "kind": "\(kind.rawValue)", "session": "\(session.id)", "firmware": "\(hello.firmwareVersion)", "period_us": "\(hello.controlPeriodUs)"])
        return Outgoing(routingID: routingID, message: .with {
            $0.welcome = .with {
                $0.accepted = true
                $0.sessionID = session.id
                $0.protocolVersion = min(hello.protocolVersion, WireProtocol.version)
                $0.policyVersion = policy(for: session)?.version ?? 0
            }
        })
    }

    /// Remembers that `robot` is a `kind` (a robot the store has seen, at start-up).
    public func rememberRobot(_ robot: String, kind: RobotKind) {
        if knownKinds[robot] == nil { knownKinds[robot] = kind }
    }

    /// The kind of `robot` as far as the runtime knows: the kind it last registered as (a session's
    /// kind too, since `hello` records it), or the kind of its deployed policy.
    func kind(of robot: String) -> RobotKind? {
        knownKinds[robot] ?? policies[robot]?.kind
    }

    /// The deployed policy of a session's robot, if it is for the robot's kind.
    private func policy(for session: Session) -> CompiledPolicy? {
        guard let policy = policies[session.robotID], policy.kind == session.kind else { return nil }
        return policy
    }

    /// The answer to a state from a connection or robot id without a session: the safe control of
    /// the robot's kind where the runtime can know it (the kind registered on this connection, else
    /// the kind its `robot_id` registered as or its deployed policy's), else no values. Off the
    /// control path's steady state: it may allocate.
    private func notRegistered(_ state: DecodedState, routingID: UnsafeRawBufferPointer,
                               into control: UnsafeMutableBufferPointer<Double>) -> ControlDecision {
        let robot = String(decoding: state.robotID, as: UTF8.self)
        let connection = sessions[Self.key(routingID)].flatMap { Self.sameBytes($0.routingID, routingID) ? $0.kind : nil }
        var count = 0
        if let kind = connection ?? kind(of: robot) {
            let safe = settings.safeControl(kind)
            count = min(safe.count, control.count)
            for j in 0..<count { control[j] = safe[j] }
        }
        return ControlDecision(count: count, policyVersion: 0, status: .fallback, reason: .notRegistered,
                               detail: "send Hello first (unknown robot or connection)", endedTrial: false)
    }

    /// The control for one state. Writes the control into `control` (room for the largest control
    /// dimension, 2) and says what it is.
    public func control(for state: DecodedState, routingID: UnsafeRawBufferPointer, now: Int64,
                        into control: UnsafeMutableBufferPointer<Double>) -> ControlDecision {
        guard let session = sessions[Self.key(routingID)], Self.sameBytes(session.routingID, routingID),
              Self.sameBytes(session.robotIDBytes, state.robotID)
        else {
            return notRegistered(state, routingID: routingID, into: control)
        }
        session.lastSeen = now
        session.statesReceived += 1
        let m = session.kind.controlDimension
        let runningTrial = trials[session.robotID]
        let trialID = runningTrial.map { $0.id == state.trialID ? $0.id : 0 } ?? 0
        func fallback(_ reason: Pipps_V1_FallbackReason, _ detail: StaticString, status: Pipps_V1_ControlStatus = .fallback) -> ControlDecision {
            for j in 0..<m { control[j] = session.safeControl[j] }
            session.fallbacks[Int(reason.rawValue)] += 1
            return ControlDecision(count: m, policyVersion: 0, status: status, reason: reason, detail: detail, endedTrial: false,
                                   trialID: trialID, robotIndex: session.recordIndex)
        }
        // Ordering and age first, so that the session's bookkeeping sees every state.
        let inOrder = state.sequence > session.lastSequence
        if inOrder { session.lastSequence = state.sequence }
        let age = stateAge(session, robotTime: state.robotTimeNanoseconds, now: now)

        if globalEmergencyStop || stoppedRobots.contains(session.robotID) {
            return fallback(.emergencyStop, "emergency stop engaged", status: .stopped)
        }
        guard state.count == session.kind.stateDimension else { return fallback(.wrongDimension, "state has the wrong number of values") }
        for v in state.values where !v.isFinite { return fallback(.nonFiniteState, "state contains NaN or infinity") }
        guard inOrder else { return fallback(.outOfOrder, "sequence number not above the last one") }
        guard age <= settings.maxStateAge else { return fallback(.staleState, "state older than max_state_age") }
        guard let policy = policy(for: session) else { return fallback(.noPolicy, "no policy deployed for this robot's kind") }
        let out = UnsafeMutableBufferPointer(rebasing: control[0..<m])
        guard policy.control(state: state.values, into: out) else { return fallback(.policyError, "policy gave a non-finite control") }
        var decision = ControlDecision(count: m, policyVersion: policy.version, status: .ok, reason: .none, detail: "", endedTrial: false,
                                       trialID: trialID, robotIndex: session.recordIndex)
        if var trial = runningTrial, trialID != 0 {
            trial.steps += 1
            trials[session.robotID] = trial  // trialStop(for:) ends it, with this step counted
            decision.endedTrial = trial.maxSteps > 0 && trial.steps >= trial.maxSteps
        }
        return decision
    }

    /// States in a row, far from a session's baseline offset and agreeing with each other, that make
    /// the runtime take their offset as the new baseline (a robot clock step; see the type's
    /// documentation).
    public static let clockStepStates = 5

    /// A state's age (ns) against the session's baseline offset, updating the baseline and the clock
    /// step bookkeeping (the rule is in the type's documentation).
    private func stateAge(_ session: Session, robotTime: Int64, now: Int64) -> Int64 {
        let offset = now &- robotTime
        defer {
            session.lastOffset = offset
            session.lastRobotTime = robotTime
            session.lastReceive = now
        }
        guard session.minimumOffset != .max else {
            session.minimumOffset = offset
            return 0
        }
        session.minimumOffset &+= max(now &- session.lastReceive, 0) / 10_000  // 100 ppm drift allowance
        let deviation = offset &- session.minimumOffset
        if deviation.magnitude <= settings.maxStateAge.magnitude {
            session.clockStepRun = 0
            session.minimumOffset = min(session.minimumOffset, offset)
            return offset &- session.minimumOffset
        }
        let advance = robotTime &- session.lastRobotTime
        let agrees = session.clockStepRun > 0 && advance > 0 && (offset &- session.lastOffset).magnitude <= UInt64(advance / 2)
        session.clockStepRun = agrees ? session.clockStepRun + 1 : 1
        session.clockStepMinimum = agrees ? min(session.clockStepMinimum, offset) : offset
        guard session.clockStepRun >= Self.clockStepStates else { return deviation }
        session.clockSteps += 1
        session.minimumOffset = session.clockStepMinimum
        session.clockStepRun = 0
        return offset &- session.minimumOffset
    }

    /// Counts a sent control: its latency (state received → control sent) and deadline.
    public func sent(routingID: UnsafeRawBufferPointer, latency: Int64) {
        guard let session = sessions[Self.key(routingID)] else { return }
        session.controlsSent += 1
        session.latency.record(latency)
        if latency > settings.deadline { session.deadlineMisses += 1 }
    }

    /// The `TrialStop` for a robot whose trial just reached `max_steps` (after ``control(for:routingID:now:into:)``
    /// said `endedTrial`); the trial is then over.
    public func trialStop(for routingID: UnsafeRawBufferPointer) -> Outgoing? {
        guard let session = sessions[Self.key(routingID)], let trial = trials[session.robotID] else { return nil }
        return endTrial(robot: session.robotID, trial: trial, reason: "", status: .complete)
    }

    /// Ends a trial: `complete` when it ran to its end or an operator stopped it, `aborted` otherwise.
    private func endTrial(robot: String, trial: Trial, reason: String, status: TrialStatus) -> Outgoing? {
        trials[robot] = nil
        recording?.trialEnded(id: trial.id, status: status, reason: reason)
        logger.info("trial ended", metadata: ["robot": "\(robot)", "trial": "\(trial.id)", "steps": "\(trial.steps)", "reason": "\(reason.isEmpty ? "complete" : reason)"])
        guard let key = sessionByRobot[robot], let session = sessions[key] else { return nil }
        return Outgoing(routingID: session.routingID, message: .with {
            $0.trialStop = .with { $0.trialID = trial.id; $0.reason = reason }
        })
    }

    public func heartbeat(routingID: UnsafeRawBufferPointer, now: Int64) -> Bool {
        guard let session = sessions[Self.key(routingID)] else { return false }
        session.lastSeen = now
        return true
    }

    public func goodbye(routingID: UnsafeRawBufferPointer, reason: String) {
        let key = Self.key(routingID)
        guard let session = sessions[key] else { return }
        logger.info("robot left", metadata: ["robot": "\(session.robotID)", "reason": "\(reason)"])
        if let trial = trials[session.robotID] { _ = endTrial(robot: session.robotID, trial: trial, reason: "robot left: \(reason)", status: .aborted) }
        sessions[key] = nil
        sessionByRobot[session.robotID] = nil
    }

    public func countMalformed() { malformedMessages += 1 }
    public func countOversized() { oversizedMessages += 1 }
    public func countDisconnect() { robotDisconnects += 1 }

    /// Drops sessions silent for longer than the session timeout (their trials are aborted).
    public func expire(now: Int64) {
        for (key, session) in sessions where now - session.lastSeen > settings.sessionTimeout {
            logger.warning("robot timed out", metadata: ["robot": "\(session.robotID)"])
            if let trial = trials[session.robotID] { _ = endTrial(robot: session.robotID, trial: trial, reason: "robot timed out", status: .aborted) }
            sessions[key] = nil
            sessionByRobot[session.robotID] = nil
        }
    }

    // MARK: - Operators

    /// Carries out one admin request; returns the reply and the messages it makes for robots.
    public func admin(_ request: Pipps_V1_AdminRequest, now: Int64) -> (reply: Pipps_V1_AdminReply, notices: [Outgoing]) {
        var reply = Pipps_V1_AdminReply()
        reply.requestID = request.requestID
        var notices: [Outgoing] = []
        func fail(_ error: String) {
            reply.ok = false
            reply.error = error
            logger.warning("admin request refused", metadata: ["request": "\(request.requestID)", "error": "\(error)"])
        }
        switch request.body {
        case .deploy(let deploy):
            let robot = deploy.robotID
            guard !robot.isEmpty else { fail("deploy: robot_id is empty"); break }
            // Checked in this order, all before anything changes: the robot's kind (its session's, the
            // kind it last registered as, or its running policy's; the policy's own only for a robot
            // never seen), the policy's kind, dimensions, values and limits, its checksum, its version.
            let known = kind(of: robot)
            guard let kind = known ?? deploy.policy.robotKind.robotKind else {
                fail("deploy: the policy names no robot kind and \(robot) has never registered"); break
            }
            do {
                let compiled: CompiledPolicy
                do {
                    compiled = try CompiledPolicy(deploy.policy, kind: kind, robotLimits: settings.limits(kind))
                } catch let refusal as PolicyRefusal where known != nil {
                    throw PolicyRefusal("\(refusal.reason) (\(robot) is a \(kind.rawValue)); the running policy stays")
                }
                if !deploy.policy.checksum.isEmpty, (try? deploy.policy.computedChecksum()) != deploy.policy.checksum.lowercased() {
                    throw PolicyRefusal("checksum mismatch (the policy was altered or corrupted on its way); the running policy stays")
                }
                if let current = policies[robot], compiled.version <= current.version {
                    throw PolicyRefusal("version \(compiled.version) is not newer than the deployed \(current.version)")
                }
                policies[robot] = compiled  // one reference store on the control thread: the swap is atomic
                if let recording, let bytes: [UInt8] = try? deploy.policy.serializedBytes() {
                    recording.policyDeployed(robot: robot, version: compiled.version, policy: Data(bytes), checksum: deploy.policy.checksum)
                }
                reply.ok = true
                reply.policyVersion = compiled.version
                logger.info("policy deployed", metadata: ["robot": "\(robot)", "version": "\(compiled.version)"])
            } catch {
                fail("deploy: \(error)")
            }
        case .startTrial(let start):
            guard let key = sessionByRobot[start.robotID], let session = sessions[key] else {
                fail("start_trial: robot '\(start.robotID)' is not connected"); break
            }
            guard !globalEmergencyStop, !stoppedRobots.contains(start.robotID) else { fail("start_trial: emergency stop is engaged"); break }
            if let running = trials[start.robotID] { fail("start_trial: trial \(running.id) is still running"); break }
            // Stored under the task's canonical name (an alias would hide the trial from learning).
            let trial = Trial(id: nextTrialID, task: Task.canonicalName(start.task) ?? start.task, maxSteps: start.maxSteps)
            nextTrialID += 1
            trials[start.robotID] = trial
            recording?.trialStarted(id: trial.id, robot: start.robotID, task: trial.task, maxSteps: start.maxSteps,
                                    policyVersion: policy(for: session)?.version ?? 0)
            reply.ok = true
            reply.trialID = trial.id
            logger.info("trial started", metadata: ["robot": "\(start.robotID)", "trial": "\(trial.id)", "task": "\(trial.task)", "max_steps": "\(start.maxSteps)"])
            notices.append(Outgoing(routingID: session.routingID, message: .with {
                $0.trialStart = .with { $0.trialID = trial.id; $0.task = trial.task; $0.maxSteps = start.maxSteps }
            }))
        case .stopTrial(let stop):
            guard let trial = trials[stop.robotID], stop.trialID == 0 || stop.trialID == trial.id else {
                fail("stop_trial: no trial \(stop.trialID == 0 ? "" : "\(stop.trialID) ")running on '\(stop.robotID)'"); break
            }
            reply.ok = true
            reply.trialID = trial.id
            if let n = endTrial(robot: stop.robotID, trial: trial, reason: stop.reason.isEmpty ? "stopped by operator" : stop.reason,
                                 status: stop.abort ? .aborted : .complete) { notices.append(n) }
        case .emergencyStop(let stop):
            if !stop.robotID.isEmpty, kind(of: stop.robotID) == nil, !stoppedRobots.contains(stop.robotID) {
                let known = Set(knownKinds.keys).union(policies.keys).sorted()
                fail("emergency_stop: robot '\(stop.robotID)' is unknown to this runtime (known: \(known.isEmpty ? "none" : known.joined(separator: ", "))); an empty robot_id stops all robots")
                break
            }
            let robots = stop.robotID.isEmpty ? Array(trials.keys) : [stop.robotID]
            if stop.robotID.isEmpty { globalEmergencyStop = !stop.release } else if stop.release {
                stoppedRobots.remove(stop.robotID)
            } else {
                stoppedRobots.insert(stop.robotID)
            }
            logger.critical("emergency stop \(stop.release ? "released" : "engaged")", metadata: ["robot": "\(stop.robotID.isEmpty ? "all" : stop.robotID)", "reason": "\(stop.reason)"])
            if !stop.release {
                for robot in robots {
                    if let trial = trials[robot], let n = endTrial(robot: robot, trial: trial, reason: "emergency stop", status: .aborted) { notices.append(n) }
                }
            }
            reply.ok = true
        case .status:
            reply.ok = true
            reply.status = status(now: now)
        case nil:
            fail("empty request")
        }
        return (reply, notices)
    }

    /// The runtime's state for operators.
    public func status(now: Int64) -> Pipps_V1_RuntimeStatus {
        .with {
            $0.runtimeVersion = PIPPSVersion.string
            $0.uptimeNs = now - startTime
            $0.globalEmergencyStop = globalEmergencyStop
            $0.malformedMessages = malformedMessages
            $0.oversizedMessages = oversizedMessages
            $0.robotDisconnects = robotDisconnects
            if let counts = recording?.counts {
                $0.stepsRecorded = counts.recorded
                $0.stepsDropped = counts.dropped
            }
            $0.robots = sessions.values.sorted { $0.robotID < $1.robotID }.map { s in
                .with {
                    $0.robotID = s.robotID
                    $0.sessionID = s.id
                    $0.policyVersion = policy(for: s)?.version ?? 0  // 0 when the deployed one is for another kind
                    $0.trialID = trials[s.robotID]?.id ?? 0
                    $0.emergencyStopped = globalEmergencyStop || stoppedRobots.contains(s.robotID)
                    $0.statesReceived = s.statesReceived
                    $0.controlsSent = s.controlsSent
                    for (raw, n) in s.fallbacks.enumerated() where n > 0 {
                        let name = Pipps_V1_FallbackReason(rawValue: raw)?.protoName ?? "\(raw)"
                        $0.fallbacks[name] = n
                    }
                    $0.deadlineMisses = s.deadlineMisses
                    $0.latency = .with { l in
                        l.count = s.latency.count
                        l.p50Us = Double(s.latency.quantile(0.5)) / 1000
                        l.p99Us = Double(s.latency.quantile(0.99)) / 1000
                        l.p999Us = Double(s.latency.quantile(0.999)) / 1000
                        l.maxUs = Double(s.latency.maximum) / 1000
                    }
                    $0.lastSeenAgoNs = now - s.lastSeen
                    $0.clockSteps = s.clockSteps
                }
            }
        }
    }

    /// Installs a policy read at start-up (from the configuration), as a deploy would.
    public func deploy(_ policy: Pipps_V1_Policy, robot: String, now: Int64) throws {
        var request = Pipps_V1_AdminRequest()
        request.deploy = .with { $0.robotID = robot; $0.policy = policy }
        let reply = admin(request, now: now).reply
        guard reply.ok else { throw PolicyRefusal(reply.error) }
    }
}

/// The version the runtime reports.
public enum PIPPSVersion {
    public static let string = "0.1.0"
}
