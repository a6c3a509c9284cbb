import ControlRuntime
import Foundation
import LinearAlgebra
import Logging
import Messages
import Policies
import Robots
import TestSupport
import Testing
import ZeroMQ

/// Policies for tests: RBF (PILCO-like) or linear, for either robot.
enum TestPolicies {
    static func rbf(_ kind: RobotKind, version: UInt64, seed: UInt64 = 1, limits: [Double]? = nil) -> Pipps_V1_Policy {
        var rng = SeededGenerator(seed: seed)
        let rep = StateRepresentation(kind)
        let transform = InputTransform(stateDimension: rep.dimension, angleIndices: rep.angleIndices)
        var policy = RBFPolicy.random(transform: transform, controlLimits: limits ?? kind.controlLimits, basisCount: 10,
                                      centreMean: [Double](repeating: 0, count: rep.dimension),
                                      centreStandardDeviations: [Double](repeating: 1, count: rep.dimension), using: &rng)
        for i in policy.weights.storage.indices { policy.weights.storage[i] *= 10 }
        return Pipps_V1_Policy(policy, version: version, robotKind: kind)
    }

    /// A constant policy: z = b (zero weights), so every control is sat(b).
    static func constant(_ kind: RobotKind, version: UInt64, bias: Double) -> Pipps_V1_Policy {
        let rep = StateRepresentation(kind)
        let transform = InputTransform(stateDimension: rep.dimension, angleIndices: rep.angleIndices)
        let m = kind.controlDimension
        let policy = LinearPolicy(transform: transform, controlLimits: kind.controlLimits,
                                  weights: Matrix(rows: m, columns: transform.inputDimension), bias: [Double](repeating: bias, count: m))
        return Pipps_V1_Policy(policy, version: version, robotKind: kind)
    }
}

@Suite("Compiled policies")
struct CompiledPolicyTests {
    @Test(arguments: RobotKind.allCases)
    func sameControlsAsThePolicyLibrary(kind: RobotKind) throws {
        var rng = SeededGenerator(seed: 5)
        let rep = StateRepresentation(kind)
        for wire in [TestPolicies.rbf(kind, version: 1), TestPolicies.constant(kind, version: 2, bias: 0.3)] {
            let compiled = try CompiledPolicy(wire, kind: kind, robotLimits: kind.controlLimits)
            let reference = try wire.makePolicy()
            var out = [Double](repeating: .nan, count: kind.controlDimension)
            for _ in 0..<50 {
                let state = (0..<kind.stateDimension).map { _ in 0.7 * rng.nextGaussian() }
                let ok = state.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { compiled.control(state: s, into: $0) } }
                #expect(ok)
                let expected = reference.control(for: rep.learningState(from: state))
                for (a, b) in zip(out, expected) { #expect(abs(a - b) <= 1e-9 * max(1, abs(b)), "\(out) vs \(expected)") }
                for (u, l) in zip(out, kind.controlLimits) { #expect(abs(u) <= l) }
            }
        }
    }

    @Test func policiesThatDoNotFitTheRobotAreRefused() throws {
        func refusal(_ wire: Pipps_V1_Policy, _ kind: RobotKind, limits: [Double]? = nil) -> String? {
            do { _ = try CompiledPolicy(wire, kind: kind, robotLimits: limits ?? kind.controlLimits); return nil } catch { return "\(error)" }
        }
        #expect(refusal(TestPolicies.rbf(.cartPole, version: 1), .unicycle)?.contains("cannot drive") == true)
        #expect(refusal(TestPolicies.rbf(.cartPole, version: 1, limits: [20]), .cartPole)?.contains("exceeds") == true)
        #expect(refusal(TestPolicies.rbf(.cartPole, version: 1), .cartPole, limits: [5])?.contains("exceeds") == true)
        var noVersion = TestPolicies.rbf(.cartPole, version: 1)
        noVersion.version = 0
        #expect(refusal(noVersion, .cartPole)?.contains("version") == true)
        var corrupt = TestPolicies.rbf(.cartPole, version: 1)
        corrupt.rbf.weights[0] = .nan
        #expect(refusal(corrupt, .cartPole)?.contains("non-finite") == true)
        var short = TestPolicies.rbf(.cartPole, version: 1)
        short.rbf.centres.removeLast()
        #expect(refusal(short, .cartPole) != nil)
        // Lower limits than the robot's are safe and accepted.
        #expect(refusal(TestPolicies.rbf(.cartPole, version: 1, limits: [5]), .cartPole) == nil)
    }
}

@Suite("Latency histogram")
struct LatencyHistogramTests {
    @Test func quantilesWithinThreePercentOfExact() {
        var rng = SeededGenerator(seed: 2)
        var h = LatencyHistogram()
        var values: [Int64] = []
        for _ in 0..<20_000 {
            let v = Int64(exp(10 + 2 * rng.nextGaussian()))
            values.append(v)
            h.record(v)
        }
        values.sort()
        for q in [0.5, 0.9, 0.99, 0.999] {
            let exact = Double(values[Int((q * Double(values.count)).rounded(.up)) - 1])
            let got = Double(h.quantile(q))
            #expect(got >= exact && got <= exact * 1.04, "q \(q): \(got) vs \(exact)")
        }
        #expect(h.quantile(1) == values.last!)
        #expect(h.maximum == values.last! && h.count == 20_000)
    }
}

/// A robot connection as the core sees it, on a virtual clock.
final class VirtualRobot {
    let routing: [UInt8]
    let id: String
    let kind: RobotKind
    var sequence: UInt64 = 0
    let decoded = DecodedState()
    var out = [Double](repeating: .nan, count: 4)

    init(_ id: String, kind: RobotKind = .cartPole, routing: UInt8) {
        self.id = id
        self.kind = kind
        self.routing = [0, 0, 0, 0, routing]
    }

    func hello(_ core: RuntimeCore, now: Int64, stateDimension: Int? = nil) -> Pipps_V1_Welcome {
        core.hello(.with {
            $0.robotID = id; $0.kind = Pipps_V1_RobotKind(kind); $0.protocolVersion = 1
            $0.stateDimension = UInt32(stateDimension ?? kind.stateDimension); $0.controlDimension = UInt32(kind.controlDimension)
        }, routingID: routing, now: now).message.welcome
    }

    /// Sends one state (sampled `transit` ns before `now`) and returns the decision.
    func step(_ core: RuntimeCore, now: Int64, transit: Int64 = 1_000_000, state: [Double]? = nil, sequence seq: UInt64? = nil,
              trial: UInt64 = 0) throws -> ControlDecision {
        if seq == nil { sequence += 1 }
        let message = Pipps_V1_RobotMessage.with {
            $0.state = .with {
                $0.robotID = id; $0.sequence = seq ?? sequence; $0.robotTimeNs = now - transit; $0.trialID = trial
                $0.state = state ?? [Double](repeating: 0.1, count: kind.stateDimension)
            }
        }
        let bytes: [UInt8] = try message.serializedBytes()
        return bytes.withUnsafeBytes { raw in
            #expect(WireCodec.decodeState(raw, into: decoded) == .state)
            return routing.withUnsafeBytes { r in
                out.withUnsafeMutableBufferPointer { core.control(for: decoded, routingID: r, now: now, into: $0) }
            }
        }
    }
}

@Suite("Runtime decisions (virtual clock)")
struct RuntimeCoreTests {
    static let second: Int64 = 1_000_000_000
    static let step: Int64 = 100_000_000

    func makeCore(_ configure: (inout RuntimeSettings) -> Void = { _ in }) -> RuntimeCore {
        var settings = RuntimeSettings()
        configure(&settings)
        return RuntimeCore(settings: settings, now: 0, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    func deploy(_ core: RuntimeCore, _ robot: String, _ policy: Pipps_V1_Policy, now: Int64 = 0) -> Pipps_V1_AdminReply {
        core.admin(.with { $0.requestID = 9; $0.deploy = .with { $0.robotID = robot; $0.policy = policy } }, now: now).reply
    }

    @Test func registrationIsCheckedAndAnswered() throws {
        let core = makeCore()
        let robot = VirtualRobot("cp-1", routing: 1)
        #expect(robot.hello(core, now: 0, stateDimension: 5).accepted == false)
        let bad = VirtualRobot("has space", routing: 2)
        #expect(bad.hello(core, now: 0).accepted == false)
        let welcome = robot.hello(core, now: 0)
        #expect(welcome.accepted && welcome.sessionID > 0 && welcome.policyVersion == 0)
        // A state from a connection that never said Hello: not registered, no control values.
        let stranger = VirtualRobot("cp-2", routing: 3)
        let d = try stranger.step(core, now: Self.step)
        #expect(d.reason == .notRegistered && d.count == 0)
    }

    @Test func everyFallbackHasItsReasonAndOthersAreStillServed() throws {
        let core = makeCore { $0.safeControls[.cartPole] = [1.5] }
        let a = VirtualRobot("a", routing: 1), b = VirtualRobot("b", routing: 2)
        _ = a.hello(core, now: 0)
        _ = b.hello(core, now: 0)
        var now = Self.step
        // No policy yet.
        #expect(try a.step(core, now: now).reason == .noPolicy)
        #expect(a.out[0] == 1.5)
        #expect(deploy(core, "a", TestPolicies.constant(.cartPole, version: 1, bias: 0.2)).ok)
        #expect(deploy(core, "b", TestPolicies.constant(.cartPole, version: 1, bias: -0.2)).ok)
        let expected = Saturation(limit: 10).value(0.2)
        func healthyB() throws {
            let d = try b.step(core, now: now)
            #expect(d.status == .ok && d.policyVersion == 1 && b.out[0] == -expected)
        }
        now += Self.step
        var d = try a.step(core, now: now)
        #expect(d.status == .ok && d.policyVersion == 1 && a.out[0] == expected)
        try healthyB()

        now += Self.step
        d = try a.step(core, now: now, state: [0, .nan, 0, 0])
        #expect(d.status == .fallback && d.reason == .nonFiniteState && a.out[0] == 1.5 && d.policyVersion == 0)
        try healthyB()
        now += Self.step
        #expect(try a.step(core, now: now, state: [0, .infinity, 0, 0]).reason == .nonFiniteState)
        now += Self.step
        #expect(try a.step(core, now: now, state: [0, 0, 0]).reason == .wrongDimension)
        try healthyB()
        now += Self.step
        #expect(try a.step(core, now: now, sequence: a.sequence).reason == .outOfOrder)  // duplicate
        now += Self.step
        #expect(try a.step(core, now: now, sequence: a.sequence - 3).reason == .outOfOrder)  // older
        try healthyB()
        now += Self.step
        // Transit 80 ms longer than the best seen (1 ms): stale at the default 50 ms.
        #expect(try a.step(core, now: now, transit: 81_000_000).reason == .staleState)
        now += Self.step
        #expect(try a.step(core, now: now, transit: 30_000_000).status == .ok)
        // Emergency stop on a only; then global; then released.
        _ = core.admin(.with { $0.emergencyStop = .with { $0.robotID = "a" } }, now: now)
        now += Self.step
        d = try a.step(core, now: now)
        #expect(d.status == .stopped && d.reason == .emergencyStop && a.out[0] == 1.5)
        try healthyB()
        _ = core.admin(.with { $0.emergencyStop = .with { $0.robotID = "a"; $0.release = true } }, now: now)
        _ = core.admin(.with { $0.emergencyStop = .with { $0.robotID = "" } }, now: now)
        now += Self.step
        #expect(try a.step(core, now: now).status == .stopped)
        #expect(try b.step(core, now: now).status == .stopped)
        _ = core.admin(.with { $0.emergencyStop = .with { $0.release = true } }, now: now)
        now += Self.step
        #expect(try a.step(core, now: now).status == .ok)
        try healthyB()

        let status = core.status(now: now)
        let sa = try #require(status.robots.first { $0.robotID == "a" })
        #expect(sa.fallbacks["FALLBACK_REASON_NON_FINITE_STATE"] == 2)
        #expect(sa.fallbacks["FALLBACK_REASON_WRONG_DIMENSION"] == 1)
        #expect(sa.fallbacks["FALLBACK_REASON_OUT_OF_ORDER"] == 2)
        #expect(sa.fallbacks["FALLBACK_REASON_STALE_STATE"] == 1)
        #expect(sa.fallbacks["FALLBACK_REASON_NO_POLICY"] == 1)
        #expect(sa.fallbacks["FALLBACK_REASON_EMERGENCY_STOP"] == 2)
        let sb = try #require(status.robots.first { $0.robotID == "b" })
        #expect(sb.fallbacks["FALLBACK_REASON_EMERGENCY_STOP"] == 1 && sb.fallbacks.count == 1)
    }

    @Test func staleStateFollowsTheBestTransitNotTheClockOffset() throws {
        // A robot clock 1 hour behind: offsets are huge but constant, so nothing is stale.
        let (core, robot, start) = try steadyRobot(offset: 3600 * Self.second + 2_000_000)
        #expect(try robot.step(core, now: start + Self.step, transit: 3600 * Self.second + 60_000_000).reason == .staleState)
    }

    /// A registered robot with a policy, after 20 states at 10 Hz, each `offset` ns (the transit
    /// plus the clock offset; default a 2 ms transit) behind the runtime's clock; all answered.
    func steadyRobot(offset: Int64 = 2_000_000) throws -> (RuntimeCore, VirtualRobot, now: Int64) {
        let core = makeCore()
        let robot = VirtualRobot("r", routing: 1)
        _ = robot.hello(core, now: 0)
        _ = deploy(core, "r", TestPolicies.constant(.cartPole, version: 1, bias: 0))
        var now: Int64 = 0
        for _ in 0..<20 {
            now += Self.step
            #expect(try robot.step(core, now: now, transit: offset).status == .ok)
        }
        return (core, robot, now)
    }

    func clockSteps(_ core: RuntimeCore, now: Int64) -> UInt64? {
        core.status(now: now).robots.first?.clockSteps
    }

    @Test func aSingleOutlierChangesNothing() throws {
        let (core, robot, start) = try steadyRobot()
        var now = start
        // One state whose time is 1 s behind: refused as stale; the next is judged as before.
        now += Self.step
        #expect(try robot.step(core, now: now, transit: Self.second).reason == .staleState)
        now += Self.step
        #expect(try robot.step(core, now: now, transit: 2_000_000).status == .ok)
        // One state whose time is 1 s ahead: answered, and the baseline stays: a state 60 ms late is stale.
        now += Self.step
        #expect(try robot.step(core, now: now, transit: 2_000_000 - Self.second).status == .ok)
        now += Self.step
        #expect(try robot.step(core, now: now, transit: 2_000_000).status == .ok)
        now += Self.step
        #expect(try robot.step(core, now: now, transit: 62_000_000).reason == .staleState)
        now += Self.step
        #expect(try robot.step(core, now: now, transit: 2_000_000).status == .ok)
        #expect(clockSteps(core, now: now) == 0)
    }

    @Test(arguments: [Int64(1), 3600])
    func aClockStepBackwardIsFollowedAtTheFifthState(seconds: Int64) throws {
        let (core, robot, start) = try steadyRobot()
        var now = start
        let stepped = 2_000_000 + seconds * Self.second  // the robot's clock went back
        var statuses: [Pipps_V1_FallbackReason] = []
        for _ in 0..<10 {
            now += Self.step
            statuses.append(try robot.step(core, now: now, transit: stepped).reason)
        }
        #expect(statuses == Array(repeating: .staleState, count: RuntimeCore.clockStepStates - 1)
                + Array(repeating: .none, count: 11 - RuntimeCore.clockStepStates), "\(statuses)")
        #expect(clockSteps(core, now: now) == 1)
        // Staleness is judged against the new offset.
        now += Self.step
        #expect(try robot.step(core, now: now, transit: stepped + 60_000_000).reason == .staleState)
        now += Self.step
        #expect(try robot.step(core, now: now, transit: stepped + 1_000_000).status == .ok)
    }

    @Test func aClockStepForwardRefusesNothingAndIsFollowed() throws {
        let (core, robot, start) = try steadyRobot()
        var now = start
        let stepped = 2_000_000 - Self.second  // the robot's clock jumped ahead
        for _ in 0..<10 {
            now += Self.step
            #expect(try robot.step(core, now: now, transit: stepped).status == .ok)
        }
        #expect(clockSteps(core, now: now) == 1)
        now += Self.step
        #expect(try robot.step(core, now: now, transit: stepped + 60_000_000).reason == .staleState)
        now += Self.step
        #expect(try robot.step(core, now: now, transit: stepped).status == .ok)
    }

    @Test(arguments: [Int64(10_000), -10_000])
    func a100ppmDriftIsFollowedForAnHour(nanosecondsPerStep drift: Int64) throws {
        let (core, robot, start) = try steadyRobot()
        var now = start
        var transit: Int64 = 2_000_000, refused = 0
        for _ in 0..<36_000 {  // one hour at 10 Hz; the robot's clock gains or loses 100 ppm
            now += Self.step
            transit += drift
            if try robot.step(core, now: now, transit: transit).status != .ok { refused += 1 }
        }
        #expect(refused == 0)
        #expect(clockSteps(core, now: now) == 0)
        now += Self.step
        #expect(try robot.step(core, now: now, transit: transit + 60_000_000).reason == .staleState)
    }

    @Test(arguments: [(period: Int64(100_000_000), count: 10), (period: 1_000_000, count: 1000)])
    func aDelayedBurstStaysStale(period: Int64, count: Int) throws {
        let (core, robot, start) = try steadyRobot()
        var now = start
        // `count` states sent one period apart over 1 s, held back, then delivered 10 µs apart.
        let sentFirst = now + Self.step - 2_000_000
        let deliveredFirst = sentFirst + Self.second
        var wronglyAnswered = 0, refused = 0
        for i in 0..<Int64(count) {
            now = deliveredFirst + i * 10_000
            let transit = now - (sentFirst + i * period)
            let decision = try robot.step(core, now: now, transit: transit)
            let age = transit - 2_000_000
            if decision.reason == .staleState { refused += 1 } else if age > core.settings.maxStateAge { wronglyAnswered += 1 }
        }
        #expect(wronglyAnswered == 0 && refused > 0, "refused \(refused) of \(count)")
        #expect(clockSteps(core, now: now) == 0)
        now += Self.step
        #expect(try robot.step(core, now: now, transit: 2_000_000).status == .ok)
    }

    @Test func aBacklogDrainedSlowlyIsTakenForAClockStep() throws {
        // The documented limit: states that arrive 1 s late at 1.5 × the rate they were sent agree
        // with each other like a stepped clock; after five of them the runtime follows.
        let (core, robot, start) = try steadyRobot()
        var now = start
        var transit: Int64 = 2_000_000 + Self.second
        var reasons: [Pipps_V1_FallbackReason] = []
        for _ in 0..<6 {
            now += Self.step * 2 / 3
            transit -= Self.step / 3
            reasons.append(try robot.step(core, now: now, transit: transit).reason)
        }
        #expect(reasons == [.staleState, .staleState, .staleState, .staleState, .none, .none], "\(reasons)")
        #expect(clockSteps(core, now: now) == 1)
    }

    @Test func hotSwapRefusesBadPoliciesAndKeepsTheOldOne() throws {
        let core = makeCore()
        let robot = VirtualRobot("r", routing: 1)
        _ = robot.hello(core, now: 0)
        #expect(deploy(core, "r", TestPolicies.constant(.cartPole, version: 3, bias: 0.1)).policyVersion == 3)
        var refused = deploy(core, "r", TestPolicies.constant(.cartPole, version: 2, bias: 0.5))
        #expect(!refused.ok && refused.error.contains("not newer"))
        refused = deploy(core, "r", TestPolicies.constant(.unicycle, version: 4, bias: 0.5))
        #expect(!refused.ok && refused.error.contains("cannot drive"))
        var corrupt = TestPolicies.rbf(.cartPole, version: 5)
        corrupt.rbf.widths = [-1]
        #expect(!deploy(core, "r", corrupt).ok)
        // A checksum that does not match the contents (a bit flipped on the way) is refused.
        var tampered = try TestPolicies.constant(.cartPole, version: 5, bias: 0.3).withChecksum()
        tampered.linear.bias = [0.31]
        refused = deploy(core, "r", tampered)
        #expect(!refused.ok && refused.error.contains("checksum"))
        let d = try robot.step(core, now: Self.step)
        #expect(d.policyVersion == 3 && robot.out[0] == Saturation(limit: 10).value(0.1))
        #expect(deploy(core, "r", try TestPolicies.constant(.cartPole, version: 4, bias: -0.1).withChecksum()).ok, "a matching checksum passes")
        #expect(try robot.step(core, now: 2 * Self.step).policyVersion == 4)
        #expect(robot.out[0] == Saturation(limit: 10).value(-0.1))
    }

    @Test func notRegisteredCarriesTheSafeControlWhereTheKindIsKnown() throws {
        let core = makeCore {
            $0.safeControls[.cartPole] = [1.5]
            $0.safeControls[.unicycle] = [0.5, -0.25]
            $0.sessionTimeout = Self.second
        }
        func answer(_ robot: VirtualRobot, now: Int64) throws -> [Double]? {
            let d = try robot.step(core, now: now)
            guard d.reason == .notRegistered, d.status == .fallback, d.policyVersion == 0 else { return nil }
            return Array(robot.out[0..<d.count])
        }
        // Never seen, no policy, unknown connection: the runtime cannot know the dimension.
        #expect(try answer(VirtualRobot("stranger", routing: 1), now: 0) == [])
        // Before Hello, with a policy deployed for that id: the policy's kind.
        _ = deploy(core, "uni", TestPolicies.constant(.unicycle, version: 1, bias: 0))
        let uni = VirtualRobot("uni", kind: .unicycle, routing: 2)
        #expect(try answer(uni, now: 0) == [0.5, -0.25])
        // Before Hello, for a robot the store knows.
        core.rememberRobot("stored", kind: .cartPole)
        #expect(try answer(VirtualRobot("stored", routing: 3), now: 0) == [1.5])
        // An unknown robot_id on a registered connection: the connection's kind; so too a robot_id
        // known as another kind (the robot on the connection said what it is).
        let cart = VirtualRobot("cart", routing: 4)
        #expect(cart.hello(core, now: 0).accepted)
        let impostor = VirtualRobot("other-id", routing: 4)
        #expect(try answer(impostor, now: 0) == [1.5])
        #expect(try answer(VirtualRobot("uni", routing: 4), now: 0) == [1.5])
        // After Goodbye: the kind it registered as.
        #expect(uni.hello(core, now: 0).accepted)
        #expect(try uni.step(core, now: Self.step).status == .ok)
        uni.routing.withUnsafeBytes { core.goodbye(routingID: $0, reason: "test") }
        #expect(try answer(uni, now: 2 * Self.step) == [0.5, -0.25])
        // After a session time-out: likewise.
        core.expire(now: 3 * Self.second)
        #expect(core.status(now: 3 * Self.second).robots.isEmpty)
        #expect(try answer(cart, now: 3 * Self.second) == [1.5])
    }

    @Test func aDeployToAnOfflineRobotIsCheckedAgainstItsKindAndNeverLosesThePolicy() throws {
        let core = makeCore()
        let cart = VirtualRobot("cp", routing: 1)
        #expect(cart.hello(core, now: 0).accepted)
        #expect(deploy(core, "cp", TestPolicies.constant(.cartPole, version: 2, bias: 0.1)).ok)
        // Online: a unicycle policy with an older version is refused for its kind, not its version.
        var refused = deploy(core, "cp", TestPolicies.constant(.unicycle, version: 1, bias: 0))
        #expect(!refused.ok && refused.error.contains("cannot drive") && !refused.error.contains("newer"), "\(refused.error)")
        // A tampered policy with an old version: the checksum is named first.
        var tampered = try TestPolicies.constant(.cartPole, version: 1, bias: 0.3).withChecksum()
        tampered.linear.bias = [0.31]
        refused = deploy(core, "cp", tampered)
        #expect(!refused.ok && refused.error.contains("checksum"), "\(refused.error)")
        // Offline (it said Goodbye): still a cart-pole to the runtime.
        cart.routing.withUnsafeBytes { core.goodbye(routingID: $0, reason: "test") }
        refused = deploy(core, "cp", TestPolicies.constant(.unicycle, version: 3, bias: 0))
        #expect(!refused.ok && refused.error.contains("cannot drive") && refused.error.contains("cp is a cartpole"), "\(refused.error)")
        // Back online, the running policy is still there.
        #expect(cart.hello(core, now: Self.step).policyVersion == 2)
        #expect(try cart.step(core, now: 2 * Self.step).policyVersion == 2)
    }

    @Test func anEmergencyStopOfAnUnknownRobotIsRefusedAndChecksumsTakeEitherCase() throws {
        let core = makeCore()
        let robot = VirtualRobot("cp-known", routing: 1)
        #expect(robot.hello(core, now: 0).accepted)
        let refused = core.admin(.with { $0.emergencyStop = .with { $0.robotID = "cp-knwon" } }, now: 0).reply
        #expect(!refused.ok && refused.error.contains("'cp-knwon' is unknown") && refused.error.contains("cp-known"), "\(refused.error)")
        #expect(core.admin(.with { $0.emergencyStop = .with { $0.robotID = "cp-known" } }, now: 0).reply.ok)
        #expect(core.admin(.with { $0.emergencyStop = .with { $0.robotID = "cp-known"; $0.release = true } }, now: 0).reply.ok)
        // A checksum in upper case is the same checksum.
        var policy = try TestPolicies.constant(.cartPole, version: 1, bias: 0).withChecksum()
        policy.checksum = policy.checksum.uppercased()
        #expect(deploy(core, "cp-known", policy).ok)
    }

    @Test func aRobotThatComesBackAsAnotherKindKeepsItsPolicyForLater() throws {
        let core = makeCore()
        // Never seen: the policy's own kind is taken.
        #expect(deploy(core, "x", TestPolicies.constant(.unicycle, version: 1, bias: 0.1)).ok)
        let asCart = VirtualRobot("x", routing: 1)
        #expect(asCart.hello(core, now: 0).policyVersion == 0, "no policy for its kind")
        #expect(try asCart.step(core, now: Self.step).reason == .noPolicy)
        #expect(core.status(now: Self.step).robots.first?.policyVersion == 0, "the status shows no policy for it either")
        // The unicycle policy was kept: the robot id registering as a unicycle gets it.
        let asUnicycle = VirtualRobot("x", kind: .unicycle, routing: 2)
        #expect(asUnicycle.hello(core, now: 2 * Self.step).policyVersion == 1)
        #expect(try asUnicycle.step(core, now: 3 * Self.step).status == .ok)
    }

    @Test func trialsStartEndAtMaxStepsAndStop() throws {
        let core = makeCore()
        let robot = VirtualRobot("r", routing: 1)
        _ = robot.hello(core, now: 0)
        _ = deploy(core, "r", TestPolicies.constant(.cartPole, version: 1, bias: 0))
        // An alias of the task is stored and announced under the task's name.
        let (reply, notices) = core.admin(.with { $0.startTrial = .with { $0.robotID = "r"; $0.task = "cartpole-swingup"; $0.maxSteps = 3 } }, now: 0)
        #expect(reply.ok && reply.trialID == 1)
        #expect(notices.count == 1 && notices[0].message.trialStart.trialID == 1 && notices[0].routingID == robot.routing)
        #expect(notices[0].message.trialStart.task == "cartpole-angle")
        // A second start while one runs is refused.
        #expect(!core.admin(.with { $0.startTrial = .with { $0.robotID = "r" } }, now: 0).reply.ok)
        var now: Int64 = 0
        for i in 1...3 {
            now += Self.step
            let d = try robot.step(core, now: now, trial: 1)
            #expect(d.endedTrial == (i == 3))
        }
        let stop = robot.routing.withUnsafeBytes { core.trialStop(for: $0) }
        #expect(stop?.message.trialStop.trialID == 1)
        #expect(core.status(now: now).robots[0].trialID == 0)
        // Next trial gets the next id; stop_trial ends it with a notice to the robot.
        let next = core.admin(.with { $0.startTrial = .with { $0.robotID = "r" } }, now: now).reply
        #expect(next.trialID == 2)
        let stopped = core.admin(.with { $0.stopTrial = .with { $0.robotID = "r"; $0.reason = "enough" } }, now: now)
        #expect(stopped.reply.ok && stopped.notices.first?.message.trialStop.reason == "enough")
        #expect(!core.admin(.with { $0.startTrial = .with { $0.robotID = "nobody" } }, now: now).reply.ok)
    }

    @Test func silentRobotsLoseTheirSessionAndReconnectsMove() throws {
        let core = makeCore()
        let robot = VirtualRobot("r", routing: 1)
        _ = robot.hello(core, now: 0)
        core.expire(now: 2 * Self.second)
        #expect(core.status(now: 2 * Self.second).robots.count == 1)
        core.expire(now: 4 * Self.second)
        #expect(core.status(now: 4 * Self.second).robots.isEmpty)
        #expect(try robot.step(core, now: 4 * Self.second).reason == .notRegistered)
        // The same robot id from a new connection replaces the old session.
        _ = robot.hello(core, now: 5 * Self.second)
        let moved = VirtualRobot("r", routing: 7)
        let w = moved.hello(core, now: 5 * Self.second)
        #expect(w.accepted)
        #expect(try robot.step(core, now: 6 * Self.second).reason == .notRegistered)
        #expect(try moved.step(core, now: 6 * Self.second).reason == .noPolicy)
        #expect(core.status(now: 6 * Self.second).robots.count == 1)
    }

    @Test func configurationFileIsReadAndCheckedStrictly() throws {
        let yaml = """
            robot_endpoint: tcp://0.0.0.0:7800
            max_state_age_ms: 30
            deadline_ms: 5
            robots:
              cartpole:
                safe_control: [0.5]
            """
        let c = try RuntimeConfiguration.load(yaml: yaml)
        #expect(c.robotEndpoint == "tcp://0.0.0.0:7800" && c.settings.maxStateAge == 30_000_000 && c.settings.deadline == 5_000_000)
        #expect(c.settings.safeControl(.cartPole) == [0.5] && c.security == nil)
        #expect(throws: RuntimeConfigurationError.self) { try RuntimeConfiguration.load(yaml: "max_state_age: 30") }
        #expect(throws: RuntimeConfigurationError.self) { try RuntimeConfiguration.load(yaml: "robots:\n  cartpole:\n    safe_control: [20]") }
        #expect(throws: RuntimeConfigurationError.self) { try RuntimeConfiguration.load(yaml: "robots:\n  tank: {}") }
        #expect(throws: (any Error).self) { try RuntimeConfiguration.load(yaml: "deadline_ms: fast") }
    }

    @Test func theExampleConfigurationLoads() throws {
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("keys"), withIntermediateDirectories: true)
        var keys: [String: CurveKeyPair] = [:]
        for name in ["runtime", "cartpole-01", "operator"] {
            let k = try CurveKeyPair.generate()
            keys[name] = k
            try KeyFile.text(publicKey: k.publicKey, secretKey: k.secretKey, comment: name)
                .write(to: dir.appendingPathComponent("keys/\(name).key"), atomically: true, encoding: .utf8)
            try KeyFile.text(publicKey: k.publicKey, secretKey: nil, comment: name)
                .write(to: dir.appendingPathComponent("keys/\(name).pub"), atomically: true, encoding: .utf8)
        }
        let text = try String(contentsOf: RepositoryPaths.root.appendingPathComponent("deploy/pipps-runtime.yaml"), encoding: .utf8)
        let c = try RuntimeConfiguration.load(yaml: text, relativeTo: dir)
        #expect(c.security?.serverSecretKey == keys["runtime"]?.secretKey)
        #expect(c.security?.robotKeys == [keys["cartpole-01"]!.publicKey])
        #expect(c.security?.operatorKeys == [keys["operator"]!.publicKey])
        #expect(c.robotEndpoint == "tcp://0.0.0.0:7700" && c.settings.sessionTimeout == 3_000_000_000)
        #expect(c.storePath == "/var/lib/pipps/store.sqlite")
        let relative = try RuntimeConfiguration.load(yaml: "store: runs/store.sqlite", relativeTo: dir)
        #expect(relative.storePath == dir.appendingPathComponent("runs/store.sqlite").path)
    }
}
