import ArgumentParser
import Foundation
import LinearAlgebra

/// The `pipps` command: one binary, one file per subcommand under `Subcommands/`.
@main
struct PIPPS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipps",
        abstract: "Learn robot controllers from a handful of trials (PIPPS) and run them over ZeroMQ.",
        version: "0.1.0",
        subcommands: [Demo.self, Serve.self, Admin.self, Keys.self, Learn.self, Trials.self, Cycle.self, Export.self, Simulate.self, Experiment.self, Bench.self]
    )

    /// Keeps freed memory in the process (see ``retainFreedMemory()``), then parses and runs.
    ///
    /// Errors found while parsing and validating print the subcommand's usage (argument-parser's
    /// way); a `ValidationError` thrown while a command runs is about its input data (a file, a
    /// store), so it prints one line, `Error: …`, and exits with status 64, without a usage.
    static func main() {
        retainFreedMemory()
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            try command.run()
        } catch let error as ValidationError {
            FileHandle.standardError.write(Data("Error: \(error.message)\n".utf8))
            Foundation.exit(64)
        } catch {
            exit(withError: error)
        }
    }
}
