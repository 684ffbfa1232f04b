// swift-tools-version:6.0
// The auction service: see README.md for the map and docs/ARCHITECTURE.md for how the parts fit.
import PackageDescription

/// System libraries come from Debian packages (`make deps` installs them).
func systemLibrary(_ name: String, pkgConfig: String, apt: [String]) -> Target {
    .systemLibrary(name: name, pkgConfig: pkgConfig, providers: [.apt(apt)])
}

let package = Package(
    name: "auction",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "auctiond", targets: ["auctiond"]),
        .executable(name: "tender-sandbox", targets: ["tender-sandbox"]),
        .executable(name: "auction-loadtest", targets: ["auction-loadtest"]),
        .executable(name: "auction-store-benchmark", targets: ["auction-store-benchmark"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // C libraries, each imported by exactly one Swift wrapper module.
        systemLibrary("CLibWebSockets", pkgConfig: "libwebsockets", apt: ["libwebsockets-dev"]),
        systemLibrary("CHiredis", pkgConfig: "hiredis", apt: ["libhiredis-dev"]),
        systemLibrary("COpenSSL", pkgConfig: "openssl", apt: ["libssl-dev"]),
        // The little C Swift cannot import: lws macros and composite option flags, and the libev loop lws runs on.
        .target(name: "CShims", dependencies: ["CLibWebSockets"], linkerSettings: [.linkedLibrary("ev")]),
        // hiredis's reply reader with a bound on the arrays it allocates for.
        .target(name: "CHiredisShims", dependencies: ["CHiredis"]),
        // ThreadSanitizer's lock annotations (weak: nothing outside a TSan build), and the one lock.
        .target(name: "CThreadSanitizer"),
        .target(name: "Locking", dependencies: ["CThreadSanitizer"]),

        // Thin wrappers: the only places that touch C pointers.
        .target(name: "RedisClient", dependencies: ["CHiredis", "CHiredisShims"]),
        .target(name: "CryptoPrimitives", dependencies: ["COpenSSL"]),
        // The thread that owns an lws context and the context's recipe, shared by the server and the client pool.
        .target(name: "LWSCore", dependencies: ["CLibWebSockets", "CShims", "Locking"]),
        .target(name: "WebServer", dependencies: ["CLibWebSockets", "CShims", "LWSCore"]),
        // lws's client role, for the load generator.
        .target(name: "WebSocketClient", dependencies: ["CLibWebSockets", "CShims", "LWSCore"]),

        // The product.
        .target(name: "AuctionCore"),
        // The WebSocket messages of PROTOCOL.md, typed, for the server and its clients alike.
        .target(name: "AuctionProtocol", dependencies: ["AuctionCore"]),
        .target(
            name: "AuctionStore",
            dependencies: ["AuctionCore", "AuctionProtocol", "CryptoPrimitives", "RedisClient"]),
        .target(name: "TenderAPI", dependencies: ["AuctionCore", "CryptoPrimitives", "Locking"]),
        // The long-running parts, each on a ServiceLoop, started and stopped in order by one owner.
        .target(
            name: "AuctionRuntime",
            dependencies: [
                "AuctionCore", "AuctionStore", "CryptoPrimitives", "Locking", "RedisClient", "TenderAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Yams", package: "Yams"),
            ]),
        .target(
            name: "AuctionServer",
            dependencies: [
                "AuctionCore", "AuctionProtocol", "AuctionRuntime", "AuctionStore", "WebServer", "CryptoPrimitives", "Locking",
                "RedisClient", "TenderAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Yams", package: "Yams"),
            ]),
        .executableTarget(
            name: "auctiond",
            dependencies: [
                "AuctionServer", "AuctionRuntime", "AuctionStore", "TenderAPI", "AuctionCore", "RedisClient", "WebServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Yams", package: "Yams"),
            ]),
        .target(name: "TenderSandbox", dependencies: ["AuctionCore", "CryptoPrimitives", "WebServer"]),
        .executableTarget(
            name: "tender-sandbox",
            dependencies: [
                "TenderSandbox", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // The load generator (loadtest/, docs/PERFORMANCE.md): profiles, the simulated people over
        // lws's client role, measurements, reconciliation with Redis and the API, the report.
        .target(
            name: "LoadGenerator",
            dependencies: [
                "AuctionCore", "AuctionProtocol", "AuctionStore", "AuctionTesting", "Locking", "RedisClient", "WebServer",
                "WebSocketClient", .product(name: "Yams", package: "Yams"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]),
        .executableTarget(
            name: "auction-loadtest",
            dependencies: [
                "AuctionTesting", "LoadGenerator", "RedisClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Measures the bid script on a real Redis (loadtest/store-benchmark.sh; docs/PERFORMANCE.md).
        .executableTarget(
            name: "auction-store-benchmark",
            dependencies: [
                "AuctionStore", "AuctionCore", "AuctionTesting", "Locking", "RedisClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Test helpers shared by every test target: real processes, free ports, a WebSocket client.
        .target(name: "AuctionTesting", dependencies: ["RedisClient", "AuctionCore", "AuctionProtocol"]),

        .testTarget(name: "RedisClientTests", dependencies: ["RedisClient", "AuctionTesting"]),
        .testTarget(name: "AuctionProtocolTests", dependencies: ["AuctionProtocol", "AuctionCore", "AuctionTesting", "RedisClient"]),
        .testTarget(name: "CryptoPrimitivesTests", dependencies: ["CryptoPrimitives"]),
        // The client pool's tests run it against the server's fixture.
        .testTarget(name: "WebServerTests", dependencies: ["WebServer", "WebSocketClient", "LWSCore", "Locking", "AuctionTesting"]),
        .testTarget(
            name: "AuctionCoreTests", dependencies: ["AuctionCore", "AuctionTesting"],
            resources: [.copy("Resources")]),
        .testTarget(
            name: "AuctionStoreTests",
            dependencies: ["AuctionStore", "AuctionRuntime", "AuctionCore", "AuctionTesting", "Locking", "RedisClient"]),
        .testTarget(
            name: "AuctionRuntimeTests",
            dependencies: [
                "AuctionRuntime", "AuctionCore", "AuctionStore", "AuctionTesting", "Locking", "RedisClient", "TenderAPI",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "TenderAPITests", dependencies: ["TenderAPI", "AuctionCore", "AuctionTesting", "CryptoPrimitives", "Locking"]),
        .testTarget(
            name: "AuctionServerTests",
            dependencies: [
                "AuctionServer", "AuctionRuntime", "AuctionStore", "AuctionCore", "AuctionTesting", "CryptoPrimitives", "Locking",
                "RedisClient",
            ]),
        .testTarget(name: "TenderSandboxTests", dependencies: ["TenderSandbox"]),
        .testTarget(name: "LoadGeneratorTests", dependencies: ["LoadGenerator", "AuctionTesting", "AuctionServer", "AuctionCore"]),
    ],
    swiftLanguageModes: [.v6]
)
