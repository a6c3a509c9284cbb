import ArgumentParser
import Robots

/// `firmware-sim ROBOT`: a simulated robot that speaks the wire protocol as hardware would.
@main
struct FirmwareSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "firmware-sim",
        abstract: "A simulated cart-pole or unicycle that streams its noisy state to a PIPPS runtime."
    )

    @Argument(help: "The robot to simulate: \(RobotKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var robot: String

    func validate() throws {
        guard RobotKind(rawValue: robot) != nil else {
            throw ValidationError("unknown robot '\(robot)'; choose one of \(RobotKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        throw ValidationError("firmware-sim's control loop is not built yet (issue 8); see README.md, Status")
    }
}
