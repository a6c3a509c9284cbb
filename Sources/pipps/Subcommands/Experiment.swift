import ArgumentParser

/// `pipps experiment NAME`: the paper's experiments, as tidy CSV files and PNG figures.
struct Experiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one of the paper's experiments; results go to tidy CSV files and PNG figures.",
        discussion: """
            Figures need the plotting environment (`make plot-env`); without it the CSV files are written \
            and the command prints how to draw the figures later. Build with `swift build -c release` for \
            any experiment of real size.
            """,
        subcommands: [ExperimentLearning.self, ExperimentCollect.self, ExperimentTask.self, ExperimentLandscape.self, ExperimentVariance.self, ExperimentResampling.self]
    )
}
