import Foundation
import LinearAlgebra
import Optimizers

/// How GP hyperparameters are trained.
public struct GPTrainingOptions: Sendable, Equatable {
    /// L-BFGS iterations per start.
    public var maxIterations: Int = 150
    /// Extra starts from randomly perturbed initial hyperparameters (the best start wins).
    public var restarts: Int = 1
    /// Standard deviation of the perturbation of the log hyperparameters for a restart.
    public var restartSpread: Double = 0.5
    /// PILCO's penalties: length-scales more than `lengthScaleRatio` times the inputs' standard
    /// deviation, or below it by that factor, and signal-to-noise ratios above `signalToNoiseRatio`,
    /// are discouraged by `((log ratio)/log limit)^power`.
    public var lengthScaleRatio: Double = 100
    public var signalToNoiseRatio: Double = 1000
    public var penaltyPower: Double = 30
    /// Seed for the restarts' perturbations.
    public var seed: UInt64 = 1

    public init() {}
}

/// What happened while training one output.
public struct GPTrainingReport: Sendable, Equatable {
    /// Penalised negative log marginal likelihood at the optimum.
    public var objective: Double
    /// Optimiser iterations and evaluations over all starts.
    public var iterations: Int
    public var evaluations: Int
    /// Jitter that had to be added to the kernel matrix at the optimum (0 when none).
    public var jitter: Double
    /// Human-readable warnings (jitter, failed starts).
    public var warnings: [String]
}

/// Trains one output's hyperparameters by maximising the marginal likelihood with PILCO's
/// initialisation and penalties (`gp/train.m`, `gp/hypCurb.m`).
public struct HyperparameterTrainer: Sendable {
    public var options: GPTrainingOptions

    public init(options: GPTrainingOptions = GPTrainingOptions()) { self.options = options }

    /// PILCO's initial guess: ℓ_e = std of input e, s = std of the targets, σn = s / 10.
    public static func initialGuess(inputs: Matrix, targets: [Double]) -> GPHyperparameters {
        let inputSD = columnStandardDeviations(inputs).map { max($0, 1e-3) }
        let targetSD = max(standardDeviation(targets), 1e-6)
        return GPHyperparameters(logLengthScales: inputSD.map { log($0) }, logSignal: log(targetSD), logNoise: log(targetSD / 10))
    }

    /// The penalty and its gradient (added to the negative log likelihood).
    func penalty(_ h: [Double], logInputSD: [Double]) -> (Double, [Double]) {
        let e = logInputSD.count, p = options.penaltyPower
        var value = 0.0
        var g = [Double](repeating: 0, count: h.count)
        let ls = log(options.lengthScaleRatio), snr = log(options.signalToNoiseRatio)
        for c in 0..<e {
            let u = (h[c] - logInputSD[c]) / ls
            value += pow(u, p)
            g[c] = p * pow(u, p - 1) / ls
        }
        let u = (h[e] - h[e + 1]) / snr
        value += pow(u, p)
        g[e] += p * pow(u, p - 1) / snr
        g[e + 1] -= p * pow(u, p - 1) / snr
        return (value, g)
    }

    /// Trains from `start` (or PILCO's initial guess) and `options.restarts` perturbed starts.
    public func train(inputs: Matrix, targets: [Double], start: GPHyperparameters? = nil) -> (GPHyperparameters, GPTrainingReport) {
        let likelihood = MarginalLikelihood(inputs: inputs, targets: targets)
        let logInputSD = columnStandardDeviations(inputs).map { log(max($0, 1e-3)) }
        let initial = start ?? Self.initialGuess(inputs: inputs, targets: targets)
        let optimizer = LBFGS(maxIterations: options.maxIterations, maxEvaluations: 3 * options.maxIterations)
        func objective(_ v: [Double]) -> (Double, [Double]) {
            guard let (f, g, _) = try? likelihood.negativeLogLikelihood(GPHyperparameters(vector: v), jitter: .standard) else {
                return (.infinity, Array(repeating: 0, count: v.count))
            }
            let (pf, pg) = penalty(v, logInputSD: logInputSD)
            return (f + pf, zip(g, pg).map { $0 + $1 })
        }
        var rng = SeededGenerator(seed: options.seed)
        var starts = [initial.vector]
        for _ in 0..<options.restarts {
            starts.append(initial.vector.map { $0 + options.restartSpread * rng.nextGaussian() })
        }
        var best: LBFGS.Result?
        var iterations = 0, evaluations = 0
        var warnings: [String] = []
        for (i, x0) in starts.enumerated() {
            let result = optimizer.minimize(x0, objective)
            iterations += result.iterations
            evaluations += result.evaluations
            if !result.value.isFinite {
                warnings.append("start \(i): the kernel matrix was not positive definite even with jitter; start skipped")
                continue
            }
            if best == nil || result.value < best!.value { best = result }
        }
        guard let best else {
            // Every start failed: keep the initial guess with heavy noise, which is always well-posed.
            var safe = initial
            safe.logNoise = max(initial.logNoise, initial.logSignal)
            warnings.append("training failed from every start; using the initial guess with noise raised to the signal level")
            return (safe, GPTrainingReport(objective: .infinity, iterations: iterations, evaluations: evaluations, jitter: 0, warnings: warnings))
        }
        let h = GPHyperparameters(vector: best.x)
        let jitter = (try? likelihood.negativeLogLikelihood(h, jitter: .standard, gradient: false).jitter) ?? 0
        if jitter > 0 { warnings.append(String(format: "kernel matrix needed jitter %.3g on its diagonal", jitter)) }
        return (h, GPTrainingReport(objective: best.value, iterations: iterations, evaluations: evaluations, jitter: jitter, warnings: warnings))
    }
}

func standardDeviation(_ v: [Double]) -> Double {
    v.count > 1 ? meanAndSampleVariance(v).variance.squareRoot() : 0
}

func columnStandardDeviations(_ m: Matrix) -> [Double] {
    (0..<m.columns).map { standardDeviation(m.column($0)) }
}
