import Foundation
import LinearAlgebra

extension GaussianProcessModel {
    /// What defines a trained model: data, hyperparameters and inducing inputs. The predictor is
    /// rebuilt from it deterministically, so a saved model reproduces the same predictions.
    public struct Snapshot: Codable, Sendable, Equatable {
        public var format = "pipps.gp.v1"
        public var inputs: Matrix
        public var targets: Matrix
        public var hyperparameters: [GPHyperparameters]
        public var inducingInputs: Matrix?
    }

    public var snapshot: Snapshot {
        Snapshot(inputs: inputs, targets: targets, hyperparameters: hyperparameters, inducingInputs: inducingInputs)
    }

    public init(snapshot: Snapshot, parallel: Bool = true) throws {
        guard snapshot.format == "pipps.gp.v1" else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "unknown GP model format '\(snapshot.format)'"))
        }
        try self.init(inputs: snapshot.inputs, targets: snapshot.targets, hyperparameters: snapshot.hyperparameters,
                      inducingInputs: snapshot.inducingInputs, parallel: parallel)
    }

    /// Writes the snapshot as JSON.
    public func save(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(snapshot).write(to: url, options: .atomic)
    }

    /// Reads a model written by ``save(to:)``.
    public static func load(from url: URL) throws -> GaussianProcessModel {
        try GaussianProcessModel(snapshot: JSONDecoder().decode(Snapshot.self, from: Data(contentsOf: url)))
    }
}
