import Foundation

/// A small, fast, repeatable random number generator (xoshiro256**, seeded through SplitMix64).
///
/// Every stochastic function of this package takes `using rng: inout some RandomNumberGenerator`;
/// commands pass one of these seeded from `--seed`, tests one with a fixed seed, so that every run
/// with the same seed sees the same numbers. Not for cryptography.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    private var s0, s1, s2, s3: UInt64

    /// A generator whose whole stream is determined by `seed`.
    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }
}

extension RandomNumberGenerator {
    /// A standard normal draw (Box–Muller; one of the pair is discarded for simplicity and
    /// statelessness).
    public mutating func nextGaussian() -> Double {
        // u1 in (0, 1] so that log(u1) is finite.
        let u1 = 1 - Double.random(in: 0..<1, using: &self)
        let u2 = Double.random(in: 0..<1, using: &self)
        return boxMuller(u1, u2)
    }
}

/// The Box–Muller transform of two unit uniforms, u1 in (0, 1] and u2 in [0, 1), to one standard
/// normal draw.
@inline(__always)
func boxMuller(_ u1: Double, _ u2: Double) -> Double {
    (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
}

extension SeededGenerator {
    /// ``RandomNumberGenerator/nextGaussian()`` for this generator, bit for bit the same draws (the
    /// standard library's `Double.random(in: 0..<1)` is the low 53 bits of `next()` times 2⁻⁵³; tested) but
    /// with no generic dispatch: a call through an unspecialised generic costs some ten times more.
    public mutating func nextGaussian() -> Double {
        let u1 = 1 - Double(next() & 0x1F_FFFF_FFFF_FFFF) * 0x1p-53
        let u2 = Double(next() & 0x1F_FFFF_FFFF_FFFF) * 0x1p-53
        return boxMuller(u1, u2)
    }
}

extension Matrix {
    /// A matrix of independent standard normal draws.
    ///
    /// With a ``SeededGenerator`` (what every command and test passes) the draws are made by its
    /// concrete ``SeededGenerator/nextGaussian()``: the same numbers, without the generic calls that
    /// an unspecialised caller would otherwise make per draw.
    public static func gaussian<G: RandomNumberGenerator>(rows: Int, columns: Int, using rng: inout G) -> Matrix {
        var m = Matrix(rows: rows, columns: columns)
        if var seeded = rng as? SeededGenerator {
            m.storage.withUnsafeMutableBufferPointer { out in
                for i in out.indices { out[i] = seeded.nextGaussian() }
            }
            rng = seeded as! G
        } else {
            for i in m.storage.indices { m.storage[i] = rng.nextGaussian() }
        }
        return m
    }

    /// A random symmetric positive definite matrix `G Gᵀ + ridge·I` with `G` standard normal `[n × n]`.
    public static func randomSPD(order n: Int, ridge: Double = 1e-3, using rng: inout some RandomNumberGenerator) -> Matrix {
        let g = gaussian(rows: n, columns: n, using: &rng)
        var a = g.multiplied(by: g, .none, .transposed)
        a.symmetrize()
        a.addToDiagonal(ridge * Double(n))
        return a
    }
}
