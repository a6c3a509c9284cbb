import ArgumentParser
import LinearAlgebra
import ZeroMQ

/// `pipps demo`: the main job. Until the end-to-end issue lands it runs what exists and says so.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the main job (for now: a tour of what is built; see README.md, Status)."
    )

    func run() throws {
        print("PIPPS-Swift demo")
        print("The full learn-deploy loop (firmware-sim + runtime + scheduler) is not built yet;")
        print("this demo runs the parts that exist.\n")
        let v = Context.libraryVersion
        print("libzmq \(v.major).\(v.minor).\(v.patch), CURVE \(Context.has("curve") ? "available" : "missing")")
        print("BLAS: \(BLASThreads.configuration), \(BLASThreads.current) thread(s)")
    }
}
