import Foundation

/// Draws an experiment's figures from its CSV files with `scripts/plot_experiments.py` (matplotlib in
/// the virtual environment that `make plot-env` creates). Figures are optional: without the script or
/// the environment the CSV files stand alone and the command says how to draw them later.
enum Figures {
    /// The repository's root: the current directory if it has the script, else the one the binary
    /// was built in (`.build/<config>/pipps` → three levels up).
    static var root: URL? {
        let fm = FileManager.default
        let candidates = [URL(fileURLWithPath: fm.currentDirectoryPath),
                          URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
                              .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()]
        return candidates.first { fm.fileExists(atPath: $0.appendingPathComponent("scripts/plot_experiments.py").path) }
    }

    /// Runs the plot script for `experiment` on `directory`; prints what it made or why not.
    static func draw(_ experiment: String, directory: URL) {
        guard let root else {
            FileHandle.standardError.write(Data("figures: scripts/plot_experiments.py not found (run from the repository); CSV files are in \(directory.path)\n".utf8))
            return
        }
        let script = root.appendingPathComponent("scripts/plot_experiments.py").path
        let python = ProcessInfo.processInfo.environment["PIPPS_PYTHON"] ?? root.appendingPathComponent(".venv-plot/bin/python3").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            FileHandle.standardError.write(Data("figures: no plotting environment at \(python); run `make plot-env`, then `\(python) \(script) \(experiment) \(directory.path)`\n".utf8))
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, experiment, directory.path]
        do {
            try process.run()
            process.waitUntilExit()
            if process.terminationStatus != 0 {
                FileHandle.standardError.write(Data("figures: the plot script exited with status \(process.terminationStatus)\n".utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("figures: cannot run \(python): \(error)\n".utf8))
        }
    }
}
