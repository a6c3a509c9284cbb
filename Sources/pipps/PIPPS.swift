import ArgumentParser
import LinearAlgebra

/// The `pipps` command: one binary, one file per subcommand under `Subcommands/`.
@main
struct PIPPS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipps",
        abstract: "Learn robot controllers from a handful of trials (PIPPS) and run them over ZeroMQ.",
        version: "0.1.0",
        subcommands: [Demo.self, Serve.self, Admin.self, Keys.self, Learn.self, Cycle.self, Export.self, Simulate.self, Experiment.self, Bench.self]
    )

    /// Keeps freed memory in the process (see ``retainFreedMemory()``), then parses and runs.
    static func main() {
        retainFreedMemory()
        main(nil)
    }
}
