// swift-tools-version:6.1
//
// PIPPS-Swift: learning robot controllers from a handful of trials (PIPPS, Parmas et al. 2018)
// and running them on the robot over ZeroMQ. See README.md and ../shared/ARCHITECTURE.md.

import PackageDescription

/// Settings shared by every Swift target of this package.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// Optimised numerics even in debug builds would hide debug checks; keep the defaults and rely on
/// `swift build -c release` for benchmarks (the bench command warns loudly in debug builds).
let package = Package(
    name: "PIPPS",
    platforms: [.macOS(.v14)],
    products: [
        // MARK: - Public products
        .executable(name: "pipps", targets: ["pipps"]),
        .executable(name: "firmware-sim", targets: ["firmware-sim"]),
        .library(name: "LinearAlgebra", targets: ["LinearAlgebra"]),
        .library(name: "Robots", targets: ["Robots"]),
        .library(name: "Policies", targets: ["Policies"]),
        .library(name: "GaussianProcess", targets: ["GaussianProcess"]),
        .library(name: "Optimizers", targets: ["Optimizers"]),
        .library(name: "PolicyGradient", targets: ["PolicyGradient"]),
        .library(name: "MomentMatching", targets: ["MomentMatching"]),
        .library(name: "Learning", targets: ["Learning"]),
        .library(name: "Messages", targets: ["Messages"]),
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
        .library(name: "ControlRuntime", targets: ["ControlRuntime"]),
        .library(name: "TrialStore", targets: ["TrialStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // MARK: - System libraries (Debian: libzmq3-dev, libopenblas-dev, liblapacke-dev)
        .systemLibrary(
            name: "CZeroMQ",
            // zmq.h is in /usr/include; libzmq.pc's private requirements only add flags SwiftPM
            // refuses (-isystem), so no pkg-config here.
            providers: [.apt(["libzmq3-dev"])]
        ),
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // glibc's mallopt (retainFreedMemory in LinearAlgebra).
        .systemLibrary(name: "CMalloc"),
        .systemLibrary(
            name: "CLAPACKE",
            pkgConfig: "lapacke",
            providers: [.apt(["liblapacke-dev"])]
        ),

        // MARK: - Numerics and learning
        // The exponential loop of the kernels: AVX2/FMA where the CPU has them, chosen at run time.
        // Optimised in debug builds too (it is a leaf with no checks to keep), and without fused
        // multiply-adds in its portable form so that it rounds as the Swift scalar form does.
        .target(name: "CFastMath", cSettings: [.unsafeFlags(["-O2", "-ffp-contract=off"])]),
        .target(name: "LinearAlgebra", dependencies: ["CBLAS", "CLAPACKE", "CFastMath", "CMalloc"], swiftSettings: strict),
        .target(name: "Optimizers", swiftSettings: strict),
        .target(name: "Robots", dependencies: ["LinearAlgebra"], swiftSettings: strict),
        .target(name: "Policies", dependencies: ["LinearAlgebra"], swiftSettings: strict),
        .target(
            name: "GaussianProcess",
            dependencies: ["LinearAlgebra", "Optimizers"],
            swiftSettings: strict
        ),
        .target(
            name: "PolicyGradient",
            dependencies: ["GaussianProcess", "Policies", "Robots", "LinearAlgebra"],
            swiftSettings: strict
        ),
        .target(
            name: "MomentMatching",
            dependencies: ["GaussianProcess", "Policies", "Robots", "LinearAlgebra"],
            swiftSettings: strict
        ),
        .target(
            name: "Learning",
            dependencies: [
                "LinearAlgebra", "Robots", "Policies", "GaussianProcess", "Optimizers",
                "PolicyGradient", "MomentMatching",
            ],
            swiftSettings: strict
        ),

        // MARK: - Wire, transport, runtime and storage
        .target(
            name: "Messages",
            dependencies: [
                "Robots", "Policies", "LinearAlgebra",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["pipps.desc"],
            swiftSettings: strict
        ),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"], swiftSettings: strict),
        .target(
            name: "ControlRuntime",
            dependencies: [
                "ZeroMQ", "Messages", "Policies", "Robots", "TrialStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TrialStore",
            dependencies: [
                "Messages", "Robots",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),

        // MARK: - Executables
        .executableTarget(
            name: "pipps",
            dependencies: [
                "LinearAlgebra", "Robots", "Policies", "GaussianProcess", "Optimizers",
                "PolicyGradient", "MomentMatching", "Learning", "Messages", "ZeroMQ",
                "ControlRuntime", "TrialStore", "CZeroMQ", "CBLAS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "firmware-sim",
            dependencies: [
                "Robots", "ZeroMQ", "Messages", "LinearAlgebra",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Firmware-sim",
            swiftSettings: strict
        ),

        // MARK: - Tests (TestSupport is not a product)
        .target(name: "TestSupport", swiftSettings: strict),
        // Counts the heap allocations of one thread (wraps glibc's malloc for the test process).
        .target(name: "CAllocationCounter"),
        .testTarget(
            name: "LinearAlgebraTests",
            dependencies: ["LinearAlgebra", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RobotsTests",
            dependencies: ["Robots", "LinearAlgebra", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PoliciesTests",
            dependencies: ["Policies", "LinearAlgebra", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GaussianProcessTests",
            dependencies: ["GaussianProcess", "Optimizers", "Robots", "LinearAlgebra", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PolicyGradientTests",
            dependencies: ["PolicyGradient", "GaussianProcess", "Policies", "Robots", "LinearAlgebra", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LearningTests",
            dependencies: ["Learning", "PolicyGradient", "GaussianProcess", "Policies", "Robots", "LinearAlgebra", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MomentMatchingTests",
            dependencies: ["MomentMatching", "GaussianProcess", "Policies", "Robots", "LinearAlgebra", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "OptimizersTests",
            dependencies: ["Optimizers", "LinearAlgebra", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MessagesTests",
            dependencies: ["Messages", "Policies", "Robots", "LinearAlgebra", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "Messages", "Policies", "Robots", "LinearAlgebra", "TestSupport", "ControlRuntime", "ZeroMQ", "TrialStore",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ControlRuntimeTests",
            dependencies: [
                "ControlRuntime", "ZeroMQ", "Messages", "Policies", "Robots", "LinearAlgebra", "TestSupport",
                "CAllocationCounter",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TrialStoreTests",
            dependencies: ["TrialStore", "Messages", "Robots", "TestSupport", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                           .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ZeroMQTests",
            dependencies: ["ZeroMQ", "TestSupport"],
            swiftSettings: strict
        ),
    ]
)
