import Dispatch
import Foundation
import Synchronization

/// A flag that ends a poll loop: set by another thread, or by SIGINT/SIGTERM through
/// ``setOnSignals(_:)``. Poll loops check it between polls.
public final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func set() { flag.store(true, ordering: .relaxed) }

    public var isSet: Bool { flag.load(ordering: .relaxed) }

    /// Turns off the default action of `signals` (ending the process) and sets the flag when one
    /// arrives, so that the program can shut down cleanly. Keep the returned sources while that
    /// should hold; cancel them to stop listening.
    public func setOnSignals(_ signals: [Int32] = [SIGINT, SIGTERM]) -> [any DispatchSourceSignal] {
        signals.map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in set() }
            source.resume()
            return source
        }
    }
}
