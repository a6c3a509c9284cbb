import Foundation
import LinearAlgebra
import Messages
import Robots
import SwiftProtobuf
import ZeroMQ

/// The firmware loop of one simulated robot (see ``FirmwareSim``).
struct SimulatedRobot {
    let kind: RobotKind
    let task: Task
    let robotID: String
    let lockstep: Bool
    let watchdog: Int64
    let fixedInitial: [Double]?
    private let context: Context
    private let socket: Socket
    private var rng: SeededGenerator
    private var traceHandle: FileHandle?

    // Counters for the summary.
    private var watchdogTrips = 0, lateControls = 0, sendFailures = 0, registrations = 0, refusals = 0
    private var fallbacks: [String: Int] = [:]
    private var trialsStarted = 0, trialsStopped = 0

    init(kind: RobotKind, task: Task, robotID: String, endpoint: String, keys: CurveKeyPair?, serverPublicKey: String?,
         seed: UInt64, fixedInitial: [Double]?, lockstep: Bool, watchdogNanoseconds: Int64, trace: String?) throws {
        self.kind = kind
        self.task = task
        self.robotID = robotID
        self.lockstep = lockstep
        watchdog = watchdogNanoseconds
        self.fixedInitial = fixedInitial
        rng = SeededGenerator(seed: seed)
        context = try Context()
        socket = try Socket(context, .dealer)
        if let keys, let serverPublicKey { try socket.makeCurveClient(keys, serverPublicKey: serverPublicKey) }
        // Messages are not queued for a runtime that is not connected: a state is useful now or never.
        try socket.setImmediate(true)
        try socket.setSendHighWaterMark(100)
        try socket.connect(endpoint)
        if let trace {
            _ = FileManager.default.createFile(atPath: trace, contents: nil)  // a failure shows as the nil handle below
            guard let h = FileHandle(forWritingAtPath: trace) else { throw ValidationErrorText("cannot write --trace \(trace)") }
            traceHandle = h
            let names = kind.stateNames
            let header = (["t", "trial"] + names + names.map { "obs_" + $0 } + kind.controlNames + ["status", "reason"]).joined(separator: ",")
            h.write(Data((header + "\n").utf8))
        }
    }

    private mutating func initialState() -> [Double] {
        fixedInitial ?? task.initialState.sample(using: &rng)
    }

    private func send(_ message: Pipps_V1_RobotMessage) -> Bool {
        guard let bytes: [UInt8] = try? message.serializedBytes() else { return false }
        return (try? socket.send(bytes, flags: .dontWait)) ?? false
    }

    private func hello() -> Bool {
        send(.with {
            $0.hello = .with {
                $0.robotID = robotID
                $0.kind = Pipps_V1_RobotKind(kind)
                $0.stateDimension = UInt32(kind.stateDimension)
                $0.controlDimension = UInt32(kind.controlDimension)
                $0.controlPeriodUs = UInt32(kind.controlPeriod * 1e6)
                $0.firmwareVersion = "firmware-sim 0.1.0"
                $0.protocolVersion = WireProtocol.version
            }
        })
    }

    /// What the loop learns from one runtime message.
    private enum Event {
        case welcome(accepted: Bool, reason: String)
        case control(Pipps_V1_Control)
        case trialStart(UInt64)
        case trialStop
        case other
    }

    /// Receives one message within `deadline` (monotonic ns), or `nil`.
    private func receive(until deadline: Int64, poller: Poller) throws -> Event? {
        let left = max(Int((deadline - MonotonicClock.nowNanoseconds + 999_999) / 1_000_000), 0)
        guard try poller.poll(timeoutMilliseconds: left) > 0, let bytes = try socket.receive(dontWait: true) else { return nil }
        guard let message = try? Pipps_V1_RuntimeMessage(serializedBytes: bytes) else { return .other }
        switch message.body {
        case .welcome(let w): return .welcome(accepted: w.accepted, reason: w.reason)
        case .control(let c): return .control(c)
        case .trialStart(let t): return .trialStart(t.trialID)
        case .trialStop: return .trialStop
        case .error(let e):
            FileHandle.standardError.write(Data("firmware-sim: runtime says: \(e.message)\n".utf8))
            return .other
        default: return .other
        }
    }

    /// Runs until `steps` control steps (0: until stopped); returns the summary.
    mutating func run(steps: Int, stop: StopFlag) throws -> [String: Any] {
        let poller = try Poller([(socket, .readable)])
        let period = Int64(kind.controlPeriod * 1e9)
        let plant = kind.plant
        let m = kind.controlDimension, limits = kind.controlLimits
        let safe = [Double](repeating: 0, count: m)
        var state = initialState()
        var trialID: UInt64 = 0, pendingTrial: UInt64?
        var sequence: UInt64 = 0, step = 0
        var lastHello = Int64.min / 2

        // Register before the first step.
        while !stop.isSet {
            let now = MonotonicClock.nowNanoseconds
            if now - lastHello > 500_000_000 { _ = hello(); lastHello = now }
            if case .welcome(let accepted, let reason)? = try receive(until: now + 100_000_000, poller: poller) {
                guard accepted else { throw ValidationErrorText("the runtime refused registration: \(reason)") }
                registrations += 1
                break
            }
        }
        var nextTick = MonotonicClock.nowNanoseconds
        while !stop.isSet && (steps == 0 || step < steps) {
            let observed = task.observationNoise.observe(state, using: &rng)
            sequence += 1
            let sent = MonotonicClock.nowNanoseconds
            let ok = send(.with {
                $0.state = .with {
                    $0.robotID = robotID
                    $0.trialID = trialID
                    $0.sequence = sequence
                    $0.robotTimeNs = sent
                    $0.state = observed
                }
            })
            if !ok { sendFailures += 1 }
            var control = safe, status = "WATCHDOG", reason = ""
            var answered = false
            while ok && !answered, let event = try receive(until: sent + watchdog, poller: poller) {
                switch event {
                case .control(let c) where c.sequence == sequence:
                    answered = true
                    status = c.status == .ok ? "OK" : (c.status == .stopped ? "STOPPED" : "FALLBACK")
                    if c.status != .ok {
                        reason = c.reason.protoName
                        fallbacks[reason, default: 0] += 1
                    }
                    // The firmware's own guard: wrong size or non-finite → safe control; clamp to limits.
                    if c.control.count == m, c.control.allSatisfy(\.isFinite) {
                        control = zip(c.control, limits).map { min(max($0, -$1), $1) }
                    }
                    if c.reason == .notRegistered {
                        let now = MonotonicClock.nowNanoseconds
                        if now - lastHello > 200_000_000 { _ = hello(); lastHello = now }
                    }
                case .control:
                    lateControls += 1
                case .welcome(let accepted, let why):
                    if accepted { registrations += 1 } else { refusals += 1; FileHandle.standardError.write(Data("firmware-sim: registration refused: \(why)\n".utf8)) }
                case .trialStart(let id):
                    pendingTrial = id
                case .trialStop:
                    trialID = 0
                    trialsStopped += 1
                case .other:
                    break
                }
            }
            if !answered { watchdogTrips += 1 }
            if let h = traceHandle {
                let t = Double(step) * kind.controlPeriod
                let row = ["\(t)", "\(trialID)"] + state.map { "\($0)" } + observed.map { "\($0)" } + control.map { "\($0)" } + [status, reason]
                h.write(Data((row.joined(separator: ",") + "\n").utf8))
            }
            state = plant.step(state, control: control, duration: kind.controlPeriod)
            step += 1
            if let id = pendingTrial {
                state = initialState()
                trialID = id
                trialsStarted += 1
                pendingTrial = nil
            }
            if !lockstep {
                nextTick += period
                let wait = nextTick - MonotonicClock.nowNanoseconds
                if wait > 0 { usleep(useconds_t(wait / 1000)) } else if wait < -period { nextTick = MonotonicClock.nowNanoseconds }
            }
        }
        _ = send(.with { $0.goodbye = .with { $0.reason = stop.isSet ? "stopped" : "steps done" } })
        try? traceHandle?.close()
        try? socket.setLinger(milliseconds: 200)  // let the Goodbye leave
        socket.close()
        context.terminate()
        return [
            "robot": robotID, "steps": step, "watchdog_trips": watchdogTrips, "late_controls": lateControls,
            "send_failures": sendFailures, "registrations": registrations, "fallbacks": fallbacks,
            "trials_started": trialsStarted, "trials_stopped": trialsStopped, "final_state": state,
        ]
    }
}

struct ValidationErrorText: Error, CustomStringConvertible {
    let description: String
    init(_ text: String) { description = text }
}
