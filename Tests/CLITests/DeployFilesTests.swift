import Foundation
import TestSupport
import Testing

/// The systemd units in deploy/systemd: `systemd-analyze verify` accepts them without a warning
/// (with the built binaries in place of /usr/local/bin), and every option they pass exists.
@Suite("deploy/systemd units")
struct DeployFilesTests {
    static let units = ["pipps-runtime.service", "pipps-cycle@.service", "firmware-sim@.service"]

    @Test func systemdAnalyzeVerifiesTheUnits() throws {
        let analyze = "/usr/bin/systemd-analyze"
        try #require(FileManager.default.isExecutableFile(atPath: analyze), "systemd-analyze missing: scripts/install-deps installs systemd")
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let binaries = RepositoryPaths.root.appendingPathComponent(".build/debug").path + "/"
        var paths: [String] = []
        for unit in Self.units {
            let text = try String(contentsOf: RepositoryPaths.root.appendingPathComponent("deploy/systemd/\(unit)"), encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/", with: binaries)
            // Templates are verified as an instance.
            let name = unit.replacingOccurrences(of: "@.service", with: unit.hasPrefix("firmware") ? "@cartpole.service" : "@cp-01.service")
            let url = dir.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            paths.append(url.path)
        }
        let r = try runProcess(analyze, ["verify"] + paths)
        #expect(r.status == 0 && r.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(r.output)")
    }

    @Test func everyOptionInTheUnitsExists() throws {
        for unit in Self.units {
            let text = try String(contentsOf: RepositoryPaths.root.appendingPathComponent("deploy/systemd/\(unit)"), encoding: .utf8)
            let exec = text.replacingOccurrences(of: "\\\n", with: " ").split(separator: "\n").first { $0.hasPrefix("ExecStart=") }
            let words = try #require(exec).dropFirst("ExecStart=".count).split(separator: " ").map(String.init)
            let binary = (words[0] as NSString).lastPathComponent
            let subcommand = binary == "pipps" ? [words[1]] : []
            let help = try runProcess(binary == "pipps" ? Binaries.pipps : Binaries.firmwareSim, subcommand + ["--help"])
            for option in words.filter({ $0.hasPrefix("--") }) {
                #expect(help.output.contains(option + " ") || help.output.contains(option + "\n"), "\(unit): \(binary) \(subcommand) has no \(option)")
            }
        }
    }
}
