import Foundation
import LinearAlgebra
import Policies
import Robots
import SwiftProtobuf

/// Why a wire-format policy could not be turned into a usable one.
public struct PolicyConversionError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "invalid policy: \(message)" }
}

extension Pipps_V1_RobotKind {
    public init(_ kind: RobotKind) {
        switch kind {
        case .cartPole: self = .cartPole
        case .unicycle: self = .unicycle
        }
    }

    /// The domain robot kind, `nil` for unspecified or unknown values.
    public var robotKind: RobotKind? {
        switch self {
        case .cartPole: .cartPole
        case .unicycle: .unicycle
        default: nil
        }
    }
}

extension Pipps_V1_Policy {
    /// The wire form of `policy`.
    public init(_ policy: any Policy, version: UInt64, robotKind: RobotKind, learningRound: UInt64 = 0, createdUnixNanoseconds: Int64 = 0) {
        self.init()
        self.version = version
        self.robotKind = Pipps_V1_RobotKind(robotKind)
        stateDimension = UInt32(policy.stateDimension)
        controlDimension = UInt32(policy.controlDimension)
        angleIndices = policy.transform.angleIndices.map { UInt32($0) }
        inputDimension = UInt32(policy.transform.inputDimension)
        controlLimits = policy.controlLimits
        self.learningRound = learningRound
        createdUnixNs = createdUnixNanoseconds
        switch policy {
        case let rbf as RBFPolicy:
            self.rbf = Pipps_V1_RBFNetwork.with {
                $0.basisCount = UInt32(rbf.basisCount)
                $0.centres = rbf.centres.storage
                $0.widths = rbf.widthMode == .shared ? [exp(rbf.logWidths[0])] : rbf.logWidths.map { exp($0) }
                $0.weights = rbf.weights.storage
            }
        case let linear as LinearPolicy:
            self.linear = Pipps_V1_LinearPolicy.with {
                $0.weights = linear.weights.storage
                $0.bias = linear.bias
            }
        default:
            preconditionFailure("Pipps_V1_Policy: no wire form for \(type(of: policy))")
        }
    }

    /// The policy these parameters describe, after checking every dimension and value.
    ///
    /// A single width in an RBF network means one width shared by every input dimension.
    /// - Throws: ``PolicyConversionError`` naming what is wrong.
    public func makePolicy() throws -> any Policy {
        guard version > 0 else { throw PolicyConversionError("version must be positive") }
        let d = Int(stateDimension), m = Int(controlDimension)
        guard d > 0, m > 0 else { throw PolicyConversionError("state and control dimensions must be positive") }
        guard controlLimits.count == m else { throw PolicyConversionError("\(controlLimits.count) control limits for \(m) controls") }
        guard controlLimits.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw PolicyConversionError("control limits must be positive and finite") }
        let angles = angleIndices.map { Int($0) }
        guard angles.allSatisfy({ (0..<d).contains($0) }), Set(angles).count == angles.count else {
            throw PolicyConversionError("angle indices \(angles) do not fit a state of \(d)")
        }
        let transform = InputTransform(stateDimension: d, angleIndices: angles)
        let e = transform.inputDimension
        guard inputDimension == 0 || Int(inputDimension) == e else {
            throw PolicyConversionError("input dimension \(inputDimension), expected \(e)")
        }
        if let kind = robotKind.robotKind, StateRepresentation(kind).dimension != d {
            throw PolicyConversionError("a \(kind.rawValue) policy takes \(StateRepresentation(kind).dimension) state values, not \(d)")
        }
        switch parameters {
        case .rbf(let net):
            let b = Int(net.basisCount)
            guard b > 0 else { throw PolicyConversionError("an RBF network needs basis functions") }
            guard net.centres.count == b * e else { throw PolicyConversionError("\(net.centres.count) centre values, expected \(b)×\(e)") }
            guard net.weights.count == b * m else { throw PolicyConversionError("\(net.weights.count) weights, expected \(b)×\(m)") }
            guard net.widths.count == e || net.widths.count == 1 else { throw PolicyConversionError("\(net.widths.count) widths, expected \(e) or 1") }
            guard net.widths.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw PolicyConversionError("widths must be positive and finite") }
            guard (net.centres + net.weights).allSatisfy(\.isFinite) else { throw PolicyConversionError("non-finite centres or weights") }
            return RBFPolicy(
                transform: transform, controlLimits: controlLimits,
                centres: Matrix(rows: b, columns: e, storage: net.centres),
                logWidths: net.widths.map { log($0) },
                weights: Matrix(rows: b, columns: m, storage: net.weights),
                widthMode: net.widths.count == 1 && e > 1 ? .shared : .perDimension)
        case .linear(let lin):
            guard lin.weights.count == m * e else { throw PolicyConversionError("\(lin.weights.count) weights, expected \(m)×\(e)") }
            guard lin.bias.count == m else { throw PolicyConversionError("\(lin.bias.count) biases, expected \(m)") }
            guard (lin.weights + lin.bias).allSatisfy(\.isFinite) else { throw PolicyConversionError("non-finite weights or bias") }
            return LinearPolicy(transform: transform, controlLimits: controlLimits, weights: Matrix(rows: m, columns: e, storage: lin.weights), bias: lin.bias)
        case nil:
            throw PolicyConversionError("no parameters (neither rbf nor linear)")
        }
    }
}

/// Policy files: a serialised `pipps.v1.Policy`, binary (any extension) or JSON (`.json`).
public enum PolicyFile {
    /// Why a policy file could not be read, in one line that names the file.
    public struct ReadError: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// Reads a policy: JSON when the name ends in `.json`, binary protobuf otherwise.
    public static func read(_ url: URL) throws -> Pipps_V1_Policy {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ReadError(description: "no policy file at \(url.path)")
        }
        guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: url.path) else {
            throw ReadError(description: "cannot read the policy file \(url.path)")
        }
        let json = url.pathExtension.lowercased() == "json"
        let policy: Pipps_V1_Policy
        do {
            policy = json ? try Pipps_V1_Policy(jsonUTF8Data: data) : try Pipps_V1_Policy(serializedBytes: data)
        } catch {
            throw ReadError(description: "\(url.path) is not a pipps.v1.Policy in \(json ? "JSON" : "binary protobuf (a name ending in .json is read as JSON)") (\(error))")
        }
        // Binary protobuf decodes some byte strings into an empty message: a policy has parameters.
        guard policy.parameters != nil else {
            throw ReadError(description: "\(url.path) is not a pipps.v1.Policy (it has no parameters)")
        }
        return policy
    }

    public static func write(_ policy: Pipps_V1_Policy, to url: URL) throws {
        let data: Data
        if url.pathExtension.lowercased() == "json" {
            var options = JSONEncodingOptions()
            options.alwaysPrintInt64sAsNumbers = true
            data = try policy.jsonUTF8Data(options: options)
        } else {
            data = try policy.serializedData()
        }
        try data.write(to: url, options: .atomic)
    }
}
