// swift-tools-version: 6.0
import PackageDescription

/// Settings every target of ours shares: Swift 6 mode plus the upcoming features that keep
/// module boundaries honest.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// The modules, and the one direction their arrows point:
//
//   AllianceCompute (the command: flags, files, wiring)
//     ├─▶ FastCGIBridge ─▶ FastCGI ─▶ CFastCGI (libfcgi)
//     │        └────────▶ ComputeAPI ─▶ ComputeCore ─▶ CPCRE2, CLibCrypto
//     ├─▶ JSONFileStore ─▶ InMemoryStore ─▶ ComputeCore  (and CGlibcExtras: renameat2)
//     └─▶ ComputeAPI, InMemoryStore, ComputeCore
//
// ComputeCore holds the rules and the `InventoryStore` contract; each store implements it;
// ComputeAPI knows neither libfcgi nor files. ComputeTesting holds the test doubles.
let package = Package(
    name: "alliance-compute",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "alliance-compute", targets: ["AllianceCompute"]),
        .executable(name: "alliance-fuzz", targets: ["AllianceFuzz"]),
        .executable(name: "alliance-microbench", targets: ["AllianceMicrobench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // libfcgi (Debian: libfcgi-dev). Only the FastCGI target imports it.
        .systemLibrary(
            name: "CFastCGI",
            pkgConfig: "fcgi",
            providers: [.apt(["libfcgi-dev"])]
        ),
        // OpenSSL's libcrypto (Debian: libssl-dev): SHA-256, PBKDF2 and constant-time comparison
        // for tokens, passwords and application credentials (ComputeCore's `Secrets`).
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // libpq (Debian: libpq-dev): the PostgreSQL client. Only PostgresStore imports it.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // PCRE2 (Debian: libpcre2-dev): Nova's name filter, with match and heap limits.
        .systemLibrary(
            name: "CPCRE2",
            pkgConfig: "libpcre2-8",
            providers: [.apt(["libpcre2-dev"])]
        ),
        // glibc's renameat2 (no package: glibc provides it), which Swift's Glibc module leaves out.
        .systemLibrary(name: "CGlibcExtras"),
        // The transport: listening sockets, the accept threads, CGI params in, "Status:" responses out.
        .target(
            name: "FastCGI",
            dependencies: [
                "CFastCGI",
                "ComputeCore",  // Locked: a pthread mutex ThreadSanitizer sees, unlike Mutex
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The domain: servers, flavors, networks, validation, the business rules (`Inventory`)
        // and the contract every store implements (`InventoryStore`).
        .target(
            name: "ComputeCore",
            dependencies: ["CLibCrypto", "CPCRE2", .product(name: "CoreMetrics", package: "swift-metrics")],
            swiftSettings: strictSettings
        ),
        // A store that keeps the inventory in memory, indexed, over a durable persistence.
        .target(
            name: "InMemoryStore",
            dependencies: ["ComputeCore"],
            swiftSettings: strictSettings
        ),
        // The store for several API hosts: the inventory, tokens and quotas in PostgreSQL, every
        // rule enforced by the database; its records in the JSON-file store's format.
        .target(
            name: "PostgresStore",
            dependencies: [
                "CLibPQ",
                "ComputeCore",
                "JSONFileStore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Transport-free HTTP API: request/response values, router and policies, handlers,
        // views, faults.
        .target(
            name: "ComputeAPI",
            dependencies: [
                "ComputeCore",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The embedded store's persistence: one JSON file per record in a locked data
        // directory, their record format; the tokens and quota overrides the CLI keeps beside.
        .target(
            name: "JSONFileStore",
            dependencies: [
                "CGlibcExtras",
                "ComputeCore",
                "InMemoryStore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The thin seam between FastCGI and the API: CGI parameters in, CGI response out.
        .target(
            name: "FastCGIBridge",
            dependencies: [
                "ComputeAPI",
                "FastCGI",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The `alliance-compute` command: composition root, flags, logging, signals.
        .executableTarget(
            name: "AllianceCompute",
            dependencies: [
                "ComputeAPI",
                "ComputeCore",
                "FastCGI",
                "FastCGIBridge",
                "InMemoryStore",
                "JSONFileStore",
                "PostgresStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strictSettings
        ),
        // Test doubles: persistence in memory (with failure injection), fixed tokens, a clock
        // and identifiers tests control. For tests, the fuzzer and the microbenchmark only.
        .target(
            name: "ComputeTesting",
            dependencies: ["ComputeCore", "InMemoryStore", "JSONFileStore"],
            swiftSettings: strictSettings
        ),
        // One request from arbitrary bytes through the adapter and the API, with the checks a
        // fuzzer trips on. Shared by the libFuzzer target and the corpus replay test.
        .target(
            name: "FuzzHarness",
            dependencies: [
                "ComputeAPI",
                "ComputeCore",
                "ComputeTesting",
                "FastCGI",
                "FastCGIBridge",
                "InMemoryStore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // `alliance-microbench`: the worker's CPU cost per request in process, for profiling.
        .executableTarget(
            name: "AllianceMicrobench",
            dependencies: [
                "ComputeAPI",
                "ComputeCore",
                "ComputeTesting",
                "FastCGI",
                "FastCGIBridge",
                "InMemoryStore",
                "JSONFileStore",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(name: "CLibFuzzer"),
        // `alliance-fuzz`: built with -sanitize=fuzzer (deploy/fuzz) it is a libFuzzer target;
        // built normally it replays the files it is given.
        .executableTarget(
            name: "AllianceFuzz",
            dependencies: ["CLibFuzzer", "FuzzHarness"],
            swiftSettings: strictSettings + [.unsafeFlags(["-parse-as-library"])]
        ),
        .testTarget(
            name: "ComputeCoreTests",
            dependencies: ["ComputeCore", "ComputeTesting", "InMemoryStore"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "InMemoryStoreTests",
            dependencies: ["ComputeTesting", "InMemoryStore"],
            swiftSettings: strictSettings
        ),
        // The `InventoryStore` contract, run against every store.
        .testTarget(
            name: "InventoryStoreTests",
            dependencies: [
                "ComputeCore",
                "ComputeTesting",
                "InMemoryStore",
                "JSONFileStore",
                "PostgresStore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ComputeAPITests",
            dependencies: [
                "ComputeAPI",
                "ComputeCore",
                "ComputeTesting",
                "InMemoryStore",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JSONFileStoreTests",
            dependencies: [
                "ComputeCore",
                "ComputeTesting",
                "InMemoryStore",
                "JSONFileStore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FastCGIBridgeTests",
            dependencies: [
                "ComputeAPI",
                "FastCGI",
                "FastCGIBridge",
                "FuzzHarness",
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            resources: [.copy("FuzzCorpus")],
            swiftSettings: strictSettings
        ),
    ]
)
