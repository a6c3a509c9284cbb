import ArgumentParser
import Foundation
import TrialStore

/// `pipps export mcap`: trials from the store as an MCAP file.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export stored trials.",
        subcommands: [MCAPExport.self]
    )

    struct MCAPExport: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mcap",
            abstract: "Write trials as an MCAP file (protobuf schemas embedded), for Foxglove and any MCAP reader.",
            discussion: """
                Channels /pipps/trial/header, /pipps/trial/step and /pipps/trial/end carry pipps.v1.TrialHeader, \
                TrialStep and TrialEnd (Proto/pipps/v1/trial.proto); log times are unix nanoseconds. Without \
                --trial, every trial (of --robot, if given) goes into the file.
                """
        )

        @Option(help: "The trial store.") var store: String
        @Option(help: "Trial id to export (repeatable); default: all.") var trial: [Int64] = []
        @Option(help: "Only trials of this robot (with no --trial).") var robot: String?
        @Option(name: .shortAndLong, help: "The MCAP file to write.") var output: String
        @Option(help: ArgumentHelp("Chunk size in bytes.", visibility: .hidden)) var chunkSize = 256 * 1024

        func validate() throws {
            guard (64...(64 << 20)).contains(chunkSize) else { throw ValidationError("--chunk-size must be 64 B … 64 MiB") }
        }

        func run() throws {
            let trialStore: TrialStore
            do { trialStore = try TrialStore(path: store) } catch { throw ValidationError("\(error)") }
            let ids = trial.isEmpty ? try trialStore.trials(robot: robot).map(\.id) : trial
            guard !ids.isEmpty else { throw ValidationError("no trials\(robot.map { " of \($0)" } ?? "") in \(store)") }
            let bytes: [UInt8]
            do { bytes = try TrialExport.mcap(store: trialStore, trials: ids, chunkSize: chunkSize) } catch { throw ValidationError("\(error)") }
            let url = URL(fileURLWithPath: output)
            try Data(bytes).write(to: url, options: .atomic)
            print("wrote \(url.path): \(ids.count) trial(s), \(bytes.count) bytes")
        }
    }
}
