import ArgumentParser

/// `pipps bench NAME`: benchmarks, as JSON on stdout.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a benchmark and print its results as JSON.",
        discussion: "Build with `swift build -c release` first; a debug build warns that its numbers mean little.",
        subcommands: [BenchZMQ.self, BenchLinalg.self, BenchPolicy.self, BenchGP.self, BenchGradient.self, BenchLearning.self, BenchRuntime.self]
    )
}
