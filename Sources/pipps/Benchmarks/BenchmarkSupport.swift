import Foundation
import LinearAlgebra
import ZeroMQ

/// Helpers shared by the `pipps bench` subcommands: samples, percentiles, JSON output.
enum BenchmarkSupport {
    /// Warns on stderr when the binary was built without optimisation: its numbers mean little.
    static func warnIfDebug() {
        #if DEBUG
        FileHandle.standardError.write(Data("""
            WARNING: this is a DEBUG build; benchmark numbers are not representative.
            Build with `swift build -c release` (or `make bench`) and run .build/release/pipps.\n
            """.utf8))
        #endif
    }

    static var buildConfiguration: String {
        #if DEBUG
        "debug"
        #else
        "release"
        #endif
    }

    /// Runs `body` `warmup` times untimed, then `repetitions` times, returning each run's seconds.
    static func seconds(warmup: Int = 1, repetitions: Int, _ body: () -> Void) -> [Double] {
        for _ in 0..<warmup { body() }
        return (0..<repetitions).map { _ in
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
    }

    /// The `q`-quantile (0…1) of `values` by linear interpolation between order statistics.
    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        precondition(!sorted.isEmpty, "quantile of nothing")
        let position = q * Double(sorted.count - 1)
        let lo = Int(position.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        let t = position - Double(lo)
        return sorted[lo] * (1 - t) + sorted[hi] * t
    }

    /// Median of the values.
    static func median(_ values: [Double]) -> Double { quantile(values.sorted(), 0.5) }

    /// Prints `object` as pretty JSON with sorted keys on stdout.
    static func printJSON(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// Peak resident memory of this process in MiB (VmHWM), or -1 where /proc is not there.
    static func peakMemoryMB() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return -1 }
        return kb / 1024
    }

    /// What every report says about where it ran.
    static func environment() -> [String: Any] {
        let v = Context.libraryVersion
        return [
            "build": buildConfiguration,
            "cpus": ProcessInfo.processInfo.activeProcessorCount,
            "libzmq": "\(v.major).\(v.minor).\(v.patch)",
            "openblas_threads": BLASThreads.current,
            "openblas": BLASThreads.configuration,
            "exp_kernel": fastExpKernel,
        ]
    }
}

/// Keeps a value observable so that the optimiser cannot delete the work that made it.
@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}
