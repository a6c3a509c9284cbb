import Foundation
import LinearAlgebra
import Messages
import Policies
import Robots
import TestSupport
import Testing

@Suite("Policies to and from the wire")
struct PolicyConversionTests {
    @Test(arguments: [RBFPolicy.WidthMode.perDimension, .shared])
    func rbfRoundTrip(mode: RBFPolicy.WidthMode) throws {
        var rng = SeededGenerator(seed: 1)
        var policy = RBFPolicy.random(transform: InputTransform(stateDimension: 4, angleIndices: [3]), controlLimits: [10],
                                      basisCount: 50, centreMean: [0, 0, 0, 0], centreStandardDeviations: [1, 1, 1, 1],
                                      widthMode: mode, using: &rng)
        policy.logWidths = policy.logWidths.map { _ in 0.2 * rng.nextGaussian() }
        let wire = Pipps_V1_Policy(policy, version: 3, robotKind: .cartPole, learningRound: 2)
        #expect(wire.inputDimension == 5 && wire.angleIndices == [3] && wire.rbf.basisCount == 50)
        let bytes: [UInt8] = try wire.serializedBytes()
        let back = try Pipps_V1_Policy(serializedBytes: bytes).makePolicy()
        let rbf = try #require(back as? RBFPolicy)
        #expect(rbf.widthMode == mode)
        #expect(isApproximatelyEqual(rbf.centres, policy.centres, relative: 0) && rbf.weights == policy.weights)
        let states = Matrix.gaussian(rows: 20, columns: 4, using: &rng)
        let a = policy.evaluate(states: states).controls, b = rbf.evaluate(states: states).controls
        #expect(isApproximatelyEqual(a, b, relative: 1e-14, absolute: 1e-14))
    }

    @Test func sha256MatchesTheStandardVectors() {
        // FIPS 180-4 examples and a two-block message.
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func linearRoundTripThroughAFile() throws {
        var rng = SeededGenerator(seed: 2)
        let policy = LinearPolicy.random(transform: InputTransform(stateDimension: 10), controlLimits: [10, 50], using: &rng)
        let dir = try RepositoryPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["policy.pb", "policy.json"] {
            let url = dir.appendingPathComponent(name)
            try PolicyFile.write(Pipps_V1_Policy(policy, version: 7, robotKind: .unicycle), to: url)
            let back = try #require(try PolicyFile.read(url).makePolicy() as? LinearPolicy)
            #expect(back == policy, "\(name)")
        }
    }

    @Test func badPoliciesAreRefusedWithAReason() throws {
        var rng = SeededGenerator(seed: 3)
        let good = Pipps_V1_Policy(
            RBFPolicy.random(transform: InputTransform(stateDimension: 4, angleIndices: [3]), controlLimits: [10], basisCount: 3,
                             centreMean: [0, 0, 0, 0], centreStandardDeviations: [1, 1, 1, 1], using: &rng),
            version: 1, robotKind: .cartPole)
        _ = try good.makePolicy()
        func refused(_ change: (inout Pipps_V1_Policy) -> Void, _ reason: String) {
            var p = good
            change(&p)
            do {
                _ = try p.makePolicy()
                Issue.record("accepted a policy with \(reason)")
            } catch let e as PolicyConversionError {
                #expect(e.description.contains(reason), "\(e)")
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
        refused({ $0.version = 0 }, "version")
        refused({ $0.rbf.weights[0] = .nan }, "non-finite")
        refused({ $0.rbf.centres.removeLast() }, "centre values")
        refused({ $0.controlLimits = [-1] }, "control limits")
        refused({ $0.controlLimits = [10, 10] }, "control limits for")
        refused({ $0.rbf.widths[0] = 0 }, "widths")
        refused({ $0.angleIndices = [7] }, "angle indices")
        refused({ $0.robotKind = .unicycle }, "takes 10 state values")
        refused({ $0.parameters = nil }, "no parameters")
    }
}
