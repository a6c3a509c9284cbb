import LinearAlgebra
import Testing

/// Draws through the protocol extension, as an unspecialised generic caller makes them.
private func genericGaussians<G: RandomNumberGenerator>(_ count: Int, _ rng: inout G) -> [Double] {
    (0..<count).map { _ in rng.nextGaussian() }
}

private func genericUniforms<G: RandomNumberGenerator>(_ count: Int, _ rng: inout G) -> [Double] {
    (0..<count).map { _ in Double.random(in: 0..<1, using: &rng) }
}

/// A generator that is not a ``SeededGenerator``, to take `Matrix.gaussian`'s generic path.
private struct Wrapped: RandomNumberGenerator {
    var inner: SeededGenerator
    mutating func next() -> UInt64 { inner.next() }
}

@Suite("Random draws")
struct RandomTests {
    @Test("the standard library's unit uniform is the low 53 bits of next() times 2⁻⁵³")
    func uniformIsTheLowBits() {
        var a = SeededGenerator(seed: 5), b = SeededGenerator(seed: 5)
        let library = genericUniforms(100_000, &a)
        for (k, u) in library.enumerated() {
            let mine = Double(b.next() & 0x1F_FFFF_FFFF_FFFF) * 0x1p-53
            if u.bitPattern != mine.bitPattern { Issue.record("draw \(k): \(u) vs \(mine)"); return }
        }
    }

    @Test("SeededGenerator's own Gaussian draws equal the generic ones bit for bit, and leave the same state")
    func concreteGaussianMatchesGeneric() {
        var a = SeededGenerator(seed: 9), b = SeededGenerator(seed: 9)
        let generic = genericGaussians(50_000, &a)
        let concrete = (0..<50_000).map { _ in b.nextGaussian() }
        #expect(zip(generic, concrete).filter { $0.bitPattern != $1.bitPattern }.count == 0)
        #expect(a == b)

        var c = SeededGenerator(seed: 9), w = Wrapped(inner: SeededGenerator(seed: 9))
        let fast = Matrix.gaussian(rows: 70, columns: 30, using: &c)
        let slow = Matrix.gaussian(rows: 70, columns: 30, using: &w)
        #expect(zip(fast.storage, slow.storage).filter { $0.bitPattern != $1.bitPattern }.count == 0)
        #expect(zip(fast.storage, generic.prefix(2100)).filter { $0.bitPattern != $1.bitPattern }.count == 0)
        #expect(c == w.inner)
        // The draws are standard normal.
        let mean = generic.reduce(0, +) / Double(generic.count)
        let variance = generic.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(generic.count - 1)
        #expect(abs(mean) < 4 / Double(generic.count).squareRoot() && abs(variance - 1) < 0.03)
    }
}

@Suite("Allocator settings")
struct MemoryRetentionTests {
    /// This changes the allocator of the whole test process (as `pipps` does at start); nothing in
    /// the tests depends on how freed memory is kept.
    @Test("glibc takes the settings that keep freed memory")
    func settingsAreAccepted() {
        #if canImport(Glibc)
        #expect(retainFreedMemory())
        #endif
    }
}
