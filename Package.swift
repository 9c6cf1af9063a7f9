// swift-tools-version: 6.0
import PackageDescription

/// Settings every target of ours shares: Swift 6 mode plus the upcoming features that keep
/// module boundaries honest.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "alliance-compute",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "alliance-compute", targets: ["AllianceCompute"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.3.0"),
    ],
    targets: [
        // libfcgi (Debian: libfcgi-dev). Only the FastCGI target imports it.
        .systemLibrary(
            name: "CFastCGI",
            pkgConfig: "fcgi",
            providers: [.apt(["libfcgi-dev"])]
        ),
        // The transport: listening sockets, the accept threads, CGI params in, "Status:" responses out.
        .target(
            name: "FastCGI",
            dependencies: [
                "CFastCGI",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The domain: servers, flavors, networks, validation and the transactional inventory.
        .target(
            name: "ComputeCore",
            swiftSettings: strictSettings
        ),
        // Transport-free HTTP API: request/response values, router, handlers, views, faults.
        .target(
            name: "ComputeAPI",
            dependencies: [
                "ComputeCore",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Durable record persistence: one JSON file per record in a locked data directory.
        .target(
            name: "JSONFileStore",
            dependencies: [
                "ComputeCore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The `alliance-compute` command: composition root, flags, logging, signals, the adapter.
        .executableTarget(
            name: "AllianceCompute",
            dependencies: [
                "ComputeAPI",
                "ComputeCore",
                "FastCGI",
                "JSONFileStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ComputeCoreTests",
            dependencies: ["ComputeCore"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ComputeAPITests",
            dependencies: [
                "ComputeAPI",
                "ComputeCore",
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JSONFileStoreTests",
            dependencies: [
                "JSONFileStore",
                "ComputeCore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AllianceComputeTests",
            dependencies: [
                "AllianceCompute",
                "ComputeAPI",
                "FastCGI",
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
