import Foundation
import Logging
import Robots
import Synchronization
import ZeroMQ
import TrialStore

/// What ``RuntimeCore`` tells a recorder, off the control path: robots registering, trials starting
/// and ending, policies going live.
public protocol RuntimeRecording: AnyObject {
    /// A robot registered; returns the index the control path uses for it.
    func robotRegistered(_ id: String, kind: RobotKind) -> UInt32
    func trialStarted(id: UInt64, robot: String, task: String, maxSteps: UInt32, policyVersion: UInt64)
    func trialEnded(id: UInt64, status: TrialStatus, reason: String)
    func policyDeployed(robot: String, version: UInt64, policy: Data, checksum: String)
    /// Steps committed to the store, and steps dropped because the queue was full.
    var counts: (recorded: UInt64, dropped: UInt64) { get }
}

/// Records every step the runtime serves into the ``TrialStore``, off the control path.
///
/// **Design: a bounded in-process queue and a writer thread** (not a PUSH/PULL socket to a recorder
/// process). The control thread copies each step into a preallocated ring (a single-producer,
/// single-consumer queue on two atomic indices: no lock, no allocation, a few hundred bytes copied);
/// a writer thread wakes every ``flushInterval`` seconds, takes everything queued and commits it to SQLite in
/// one transaction. An extra process would survive a runtime crash with its queue, but the runtime
/// is the only source of steps, so after a crash there is nothing more to receive; it would add a
/// second process to supervise and a socket whose high-water mark silently drops. Here a full ring is
/// never silent: the step is counted as dropped, reported in the status and logged.
///
/// What a crash costs: the steps queued since the last commit (at most ``flushInterval`` of them);
/// every committed step stays, and the trial is marked aborted when the runtime starts again
/// (``TrialStore/prepareForRuntime(nowNs:)``).
///
/// Events (robots, trials, deploys) go through a small locked list, each tagged with the number of
/// steps queued before it, so the writer stores everything in the order it happened.
public final class StepRecorder: RuntimeRecording, @unchecked Sendable {
    public static let maxStateValues = 16
    public static let maxControlValues = 4
    private static let stride = maxStateValues + maxControlValues

    struct Header {
        var robotIndex: UInt32 = 0
        var stateCount: UInt8 = 0
        var controlCount: UInt8 = 0
        var status: UInt8 = 0
        var reason: UInt8 = 0
        var trialID: UInt64 = 0
        var sequence: UInt64 = 0
        var robotTime: Int64 = 0
        var received: Int64 = 0
        var policyVersion: UInt64 = 0
        var latency: Int64 = 0
    }

    private struct PendingEvent {
        let mark: Int
        let event: RecorderBatch.Event
    }

    public let store: TrialStore
    public let capacity: Int
    public let flushInterval: Double
    private let logger: Logger
    private let headers: UnsafeMutableBufferPointer<Header>
    private let values: UnsafeMutableBufferPointer<Double>
    private let head = Atomic<Int>(0)
    private let tail = Atomic<Int>(0)
    private let recorded = Atomic<UInt64>(0)
    private let dropped = Atomic<UInt64>(0)
    private let events = Mutex<[PendingEvent]>([])
    private let robotNames = Mutex<[String]>([])
    /// Control thread only.
    private var robotIndices: [String: UInt32] = [:]
    /// Monotonic → unix nanoseconds.
    private let wallOffset: Int64
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?

    public init(store: TrialStore, capacity: Int = 65_536, flushInterval: Double = 0.05,
                logger: Logger = Logger(label: "pipps.recorder")) {
        precondition(capacity > 0 && flushInterval > 0)
        self.store = store
        self.capacity = capacity
        self.flushInterval = flushInterval
        self.logger = logger
        headers = .allocate(capacity: capacity)
        headers.initialize(repeating: Header())
        values = .allocate(capacity: capacity * Self.stride)
        values.initialize(repeating: 0)
        wallOffset = Int64(Date().timeIntervalSince1970 * 1e9) - MonotonicClock.nowNanoseconds
    }

    deinit {
        headers.deallocate()
        values.deallocate()
    }

    /// Starts the writer thread.
    public func start() {
        let t = Thread { [self] in writerLoop() }
        t.name = "pipps-recorder"
        thread = t
        t.start()
    }

    /// Stores what is queued and stops the writer; returns when it has finished.
    public func stop() {
        guard thread != nil, !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
    }

    public var counts: (recorded: UInt64, dropped: UInt64) {
        (recorded.load(ordering: .relaxed), dropped.load(ordering: .relaxed))
    }

    // MARK: - Control thread

    /// Queues one step (control thread; no allocation). A full queue drops and counts it.
    @inline(__always)
    public func record(robotIndex: UInt32, trialID: UInt64, sequence: UInt64, robotTime: Int64, received: Int64,
                       state: UnsafeBufferPointer<Double>, control: UnsafeBufferPointer<Double>, policyVersion: UInt64,
                       status: Int, reason: Int, latency: Int64) {
        let h = head.load(ordering: .relaxed)
        if h - tail.load(ordering: .acquiring) >= capacity {
            dropped.add(1, ordering: .relaxed)
            return
        }
        let slot = h % capacity
        let n = min(state.count, Self.maxStateValues), m = min(control.count, Self.maxControlValues)
        headers[slot] = Header(robotIndex: robotIndex, stateCount: UInt8(n), controlCount: UInt8(m), status: UInt8(truncatingIfNeeded: status),
                               reason: UInt8(truncatingIfNeeded: reason), trialID: trialID, sequence: sequence, robotTime: robotTime,
                               received: received, policyVersion: policyVersion, latency: latency)
        let base = slot * Self.stride
        for i in 0..<n { values[base + i] = state[i] }
        for j in 0..<m { values[base + Self.maxStateValues + j] = control[j] }
        head.store(h + 1, ordering: .releasing)
    }

    private func enqueue(_ event: RecorderBatch.Event) {
        let mark = head.load(ordering: .relaxed)
        events.withLock { $0.append(PendingEvent(mark: mark, event: event)) }
    }

    private var nowUnix: Int64 { MonotonicClock.nowNanoseconds + wallOffset }

    public func robotRegistered(_ id: String, kind: RobotKind) -> UInt32 {
        let index: UInt32
        if let known = robotIndices[id] {
            index = known
        } else {
            index = robotNames.withLock { names in
                names.append(id)
                return UInt32(names.count - 1)
            }
            robotIndices[id] = index
        }
        enqueue(.robot(id: id, kind: kind.rawValue, atNs: nowUnix))
        return index
    }

    public func trialStarted(id: UInt64, robot: String, task: String, maxSteps: UInt32, policyVersion: UInt64) {
        enqueue(.trialStarted(id: Int64(id), robot: robot, task: task, maxSteps: Int(maxSteps), policyVersion: Int64(policyVersion), atNs: nowUnix))
    }

    public func trialEnded(id: UInt64, status: TrialStatus, reason: String) {
        enqueue(.trialEnded(id: Int64(id), status: status, reason: reason, atNs: nowUnix))
    }

    public func policyDeployed(robot: String, version: UInt64, policy: Data, checksum: String) {
        enqueue(.policyDeployed(robot: robot, version: Int64(version), policy: policy, checksum: checksum, atNs: nowUnix))
    }

    // MARK: - Writer thread

    private func writerLoop() {
        var pending: RecorderBatch?
        var failures = 0
        while true {
            let last = stopping.load(ordering: .acquiring)
            if pending == nil { pending = drain() }
            if let batch = pending, !batch.isEmpty {
                do {
                    try store.write(batch)
                    recorded.add(UInt64(batch.stepCount), ordering: .relaxed)
                    pending = nil
                    storeOutcomes(of: batch)
                    if failures > 0 { logger.notice("recorder: the store accepts writes again", metadata: ["failures": "\(failures)"]) }
                    failures = 0
                } catch {
                    // Kept and retried: the ring buffers new steps meanwhile (and counts drops when full).
                    failures += 1
                    if failures == 1 || failures % 100 == 0 {
                        logger.error("recorder: cannot write to the store; retrying", metadata: ["error": "\(error)", "failures": "\(failures)"])
                    }
                    if last && failures > 1 {  // shutting down: one retry (a store lock waits up to 10 s each)
                        logger.critical("recorder: giving up at shutdown; steps not stored", metadata: ["steps": "\(batch.stepCount)"])
                        dropped.add(UInt64(batch.stepCount), ordering: .relaxed)
                        pending = nil
                    }
                }
            } else {
                pending = nil
            }
            if last && pending == nil && head.load(ordering: .acquiring) == tail.load(ordering: .relaxed) && events.withLock({ $0.isEmpty }) { break }
            if !last { Thread.sleep(forTimeInterval: flushInterval) }
            else if pending != nil { Thread.sleep(forTimeInterval: 0.05) }
        }
        finished.signal()
    }

    /// The cost and success of the trials a committed batch completed (their steps are all in the
    /// store: they were queued before the end). Off the control path, on this writer thread.
    private func storeOutcomes(of batch: RecorderBatch) {
        let completed = batch.items.compactMap { item -> Int64? in
            if case .event(.trialEnded(let id, .complete, _, _)) = item { return id }
            return nil
        }
        guard !completed.isEmpty else { return }
        do { try TrialOutcomes.fill(store, trials: completed) } catch {
            logger.error("recorder: cannot store a trial's cost", metadata: ["trials": "\(completed)", "error": "\(error)"])
        }
    }

    /// Everything queued so far, events and steps in order; frees the ring slots.
    private func drain() -> RecorderBatch {
        // `head` is read under the lock: an event queued after it (and the steps after that event)
        // then all go into the next batch, so no step is stored before an event that preceded it.
        let (taken, end) = events.withLock { list -> ([PendingEvent], Int) in
            let all = list
            list.removeAll(keepingCapacity: true)
            return (all, head.load(ordering: .acquiring))
        }
        var position = tail.load(ordering: .relaxed)
        let names = robotNames.withLock { $0 }
        var batch = RecorderBatch()
        batch.items.reserveCapacity(end - position + taken.count)
        func steps(upTo mark: Int) {
            while position < mark {
                let slot = position % capacity
                let h = headers[slot]
                let base = slot * Self.stride
                let state = (0..<Int(h.stateCount)).map { values[base + $0] }
                let control = (0..<Int(h.controlCount)).map { values[base + Self.maxStateValues + $0] }
                let robot = Int(h.robotIndex) < names.count ? names[Int(h.robotIndex)] : "robot-\(h.robotIndex)"
                batch.items.append(.step(StoredStep(
                    robotID: robot, trialID: Int64(bitPattern: h.trialID), sequence: h.sequence, robotTimeNs: h.robotTime,
                    receivedNs: h.received + wallOffset, state: state, control: control, policyVersion: h.policyVersion,
                    status: Int(h.status), reason: Int(h.reason), latencyNs: h.latency)))
                position += 1
            }
        }
        for pendingEvent in taken {
            steps(upTo: pendingEvent.mark)
            batch.items.append(.event(pendingEvent.event))
        }
        steps(upTo: end)
        tail.store(end, ordering: .releasing)
        return batch
    }
}
