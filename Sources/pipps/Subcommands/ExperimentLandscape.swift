import ArgumentParser
import Foundation
import Learning
import LinearAlgebra
import PolicyGradient

/// Options shared by the experiments on PIPPS §4.1's setup (``LandscapeSetup``).
struct LandscapeOptions: ParsableArguments {
    @Option(help: "Seed of the setup (random trials, GP, policy, direction) and of the fixed random numbers.")
    var seed: UInt64 = 0

    @Option(help: "Random cart-pole trials the GP is trained on.")
    var randomTrials = 10

    @Option(help: "RBF basis functions of the policy.")
    var basis = 50

    @Option(help: "Observation noise multiplier k of the trials.")
    var noise = 1.0

    @Option(help: "Perturbations Δ along the direction: a comma-separated list, or START:STOP:COUNT for evenly spaced values (default: landscape 0:30:31, variance 0,30, resampling 0:30:16).")
    var deltas: String?

    @Option(name: .shortAndLong, help: "Results directory (default: results/NAME).")
    var output: String?

    @Flag(help: "Do not draw figures.")
    var noFigures = false

    func deltaValues(default fallback: String) throws -> [Double] {
        let deltas = self.deltas ?? fallback
        let parts = deltas.split(separator: ":")
        if parts.count == 3 {
            guard let a = Double(parts[0]), let b = Double(parts[1]), let n = Int(parts[2]), n >= 2, a.isFinite, b.isFinite else {
                throw ValidationError("--deltas: '\(deltas)' is not START:STOP:COUNT with COUNT ≥ 2")
            }
            return (0..<n).map { a + (b - a) * Double($0) / Double(n - 1) }
        }
        let values = deltas.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0?.isFinite == true }) else { throw ValidationError("--deltas: '\(deltas)' is not a list of numbers") }
        return values.map { $0! }
    }

    func validate() throws {
        _ = try deltaValues(default: "0")
        guard randomTrials >= 1, basis >= 1 else { throw ValidationError("--random-trials and --basis must be at least 1") }
        guard noise >= 0, noise.isFinite else { throw ValidationError("--noise must be a non-negative number") }
    }

    /// Builds the setup, saying what it does.
    func setup() throws -> LandscapeSetup {
        BLASThreads.set(1)
        FileHandle.standardError.write(Data("training the GP on \(randomTrials) random cart-pole trials (seed \(seed))…\n".utf8))
        return try LandscapeSetup.cartPole(seed: seed, randomTrials: randomTrials, basisCount: basis, noiseMultiplier: noise)
    }

    var settingsColumns: String { "seed,random_trials,basis,noise" }
    var settingsValues: String { "\(seed),\(randomTrials),\(basis),\(noise)" }

    func directory(_ name: String) throws -> URL {
        let url = URL(fileURLWithPath: output ?? "results/\(name)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func write(_ name: String, _ text: String, in directory: URL) throws {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        print("table: \(url.path)")
    }
}

/// Progress of a fixed list of steps on stderr (a line redrawn in place on a terminal).
func stepProgress(_ label: String) -> (Int, Int) -> Void {
    let interactive = isatty(STDERR_FILENO) == 1
    let start = DispatchTime.now().uptimeNanoseconds
    return { done, total in
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let left = elapsed / Double(done) * Double(total - done)
        let text = "\(label): \(done)/\(total) · \(SweepProgress.duration(elapsed)) elapsed · about \(SweepProgress.duration(left)) left"
        if interactive {
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(text)\(done == total ? "\n" : "")".utf8))
        } else if done == total || done % max(total / 10, 1) == 0 {
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }
}

func parseEstimators(_ text: String) throws -> [EstimatorSpec] {
    try text.split(separator: ",").map { name in
        guard let spec = EstimatorSpec(name: String(name).trimmingCharacters(in: .whitespaces)) else {
            throw ValidationError("unknown estimator '\(name)'; known: \(EstimatorSpec.names.joined(separator: ", "))")
        }
        return spec
    }
}

func directionalTable(_ rows: [DirectionalPoint], particles: Int, options: LandscapeOptions) -> String {
    var lines = ["delta,estimator,particles,\(options.settingsColumns),value,value_se,value_low,value_high,gradient,gradient_se,gradient_low,gradient_high"]
    for r in rows {
        let v = 1.96 * r.valueStandardError, g = 1.96 * r.gradientStandardError
        lines.append("\(r.delta),\(r.estimator),\(particles),\(options.settingsValues),\(r.value),\(r.valueStandardError),\(r.value - v),\(r.value + v),"
                     + "\(r.gradient),\(r.gradientStandardError),\(r.gradient - g),\(r.gradient + g)")
    }
    return lines.joined(separator: "\n") + "\n"
}

/// `pipps experiment landscape`: PIPPS Figure 2.
struct ExperimentLandscape: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "landscape",
        abstract: "The value and its gradient along a random direction, random numbers fixed (PIPPS Figure 2).",
        discussion: """
            landscape.csv: the objective and dJ/dΔ by each estimator at each Δ, with 95% intervals from the \
            particles (1.96·√(Var/P)). landscape_slice.csv: the value over a grid of first states (cart \
            position × pole angle) at the first and last Δ (Figure 2b/2c).
            """
    )

    @OptionGroup var options: LandscapeOptions

    @Option(help: "Particles (PIPPS: 1000).")
    var particles = 1000

    @Option(help: "Comma-separated estimators.")
    var estimators = "rp,biw-lr,tp"

    @Option(help: "Grid points per side of the value slice (0: no slice).")
    var grid = 41

    func validate() throws {
        _ = try parseEstimators(estimators)
        guard particles >= 2 else { throw ValidationError("--particles must be at least 2") }
        guard grid == 0 || grid >= 2 else { throw ValidationError("--grid must be 0 or at least 2") }
    }

    func run() throws {
        let deltas = try options.deltaValues(default: "0:30:31"), specs = try parseEstimators(estimators)
        let setup = try options.setup()
        let dir = try options.directory("landscape")
        let rows = ValueLandscape.directional(setup, estimators: specs, deltas: deltas, particles: particles, seed: options.seed,
                                              progress: stepProgress("landscape"))
        try options.write("landscape.csv", directionalTable(rows, particles: particles, options: options), in: dir)
        if grid > 0 {
            var lines = ["delta,position,angle,value,particles,\(options.settingsColumns)"]
            for delta in Set([deltas.first!, deltas.last!]).sorted() {
                for r in ValueLandscape.valueSlice(setup, delta: delta, gridSize: grid, seed: options.seed) {
                    lines.append("\(delta),\(r.position),\(r.angle),\(r.value),4,\(options.settingsValues)")
                }
            }
            try options.write("landscape_slice.csv", lines.joined(separator: "\n") + "\n", in: dir)
        }
        if !options.noFigures { Figures.draw("landscape", directory: dir) }
    }
}

/// `pipps experiment variance`: PIPPS Figure 3.
struct ExperimentVariance: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "variance",
        abstract: "Estimator variance against the number of particles at a calm and a chaotic policy (PIPPS Figure 3).",
        discussion: "variance.csv: per Δ, estimator and P, the variance of dJ/dΔ over --repetitions independent evaluations."
    )

    @OptionGroup var options: LandscapeOptions

    @Option(help: "Comma-separated particle counts.")
    var particles = "10,25,50,100,250"

    @Option(help: "Independent evaluations per point.")
    var repetitions = 30

    @Option(help: "Comma-separated estimators.")
    var estimators = "rp,lr,biw-lr,tp"

    func particleCounts() throws -> [Int] {
        let values = particles.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 2 }) else { throw ValidationError("--particles: a list of counts ≥ 2") }
        return values.map { $0! }
    }

    func validate() throws {
        _ = try particleCounts()
        _ = try parseEstimators(estimators)
        guard repetitions >= 2 else { throw ValidationError("--repetitions must be at least 2") }
    }

    func run() throws {
        let deltas = try options.deltaValues(default: "0,30"), specs = try parseEstimators(estimators), counts = try particleCounts()
        let setup = try options.setup()
        let dir = try options.directory("variance")
        let rows = ValueLandscape.variance(setup, estimators: specs, deltas: deltas, particleCounts: counts, repetitions: repetitions,
                                           seed: options.seed, progress: stepProgress("variance"))
        var lines = ["delta,estimator,particles,repetitions,\(options.settingsColumns),variance,estimated_variance,trace_variance"]
        for r in rows {
            lines.append("\(r.delta),\(r.estimator),\(r.particles),\(r.repetitions),\(options.settingsValues),\(r.variance),\(r.estimatedVariance),\(r.traceVariance)")
        }
        try options.write("variance.csv", lines.joined(separator: "\n") + "\n", in: dir)
        if !options.noFigures { Figures.draw("variance", directory: dir) }
    }
}

/// `pipps experiment resampling`: the resampling paper's Figures 3 and 4.
struct ExperimentResampling: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resampling",
        abstract: "Gradients along Δθ with partial and mixture-of-Gaussians resampling (resampling paper Figures 3 and 4).",
        discussion: """
            resampling.csv: dJ/dΔ with 95% intervals at each Δ, random numbers fixed, for partial:R (R = 0 is \
            full Gaussian resampling, R = 1 none) and mog:K:M (K components fitted by M EM iterations).
            """
    )

    @OptionGroup var options: LandscapeOptions

    @Option(help: "Particles (divisible by every K).")
    var particles = 300

    @Option(help: "Comma-separated ratios R of partial resampling.")
    var ratios = "0,0.25,0.5,0.75,1"

    @Option(help: "Comma-separated mixtures K:M.")
    var mixtures = "1:1,2:1,2:5,5:5"

    func specs() throws -> [EstimatorSpec] {
        let names = ratios.split(separator: ",").map { "partial:\($0.trimmingCharacters(in: .whitespaces))" }
            + mixtures.split(separator: ",").map { "mog:\($0.trimmingCharacters(in: .whitespaces))" }
        let specs = try parseEstimators(names.joined(separator: ","))
        for spec in specs {
            if case .mixtureResampling(let k, _) = spec.method, particles % k != 0 || particles / k < 2 {
                throw ValidationError("--particles \(particles) is not divisible by K = \(k) with at least 2 per component")
            }
        }
        return specs
    }

    func validate() throws {
        _ = try specs()
        guard particles >= 2 else { throw ValidationError("--particles must be at least 2") }
    }

    func run() throws {
        let deltas = try options.deltaValues(default: "0:30:16"), specs = try specs()
        let setup = try options.setup()
        let dir = try options.directory("resampling")
        let rows = ValueLandscape.directional(setup, estimators: specs, deltas: deltas, particles: particles, seed: options.seed,
                                              progress: stepProgress("resampling"))
        try options.write("resampling.csv", directionalTable(rows, particles: particles, options: options), in: dir)
        if !options.noFigures { Figures.draw("resampling", directory: dir) }
    }
}
