// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "Intake",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "intaked", targets: ["intaked"]),
        .executable(name: "intakectl", targets: ["intakectl"]),
        .library(name: "SMTPCore", targets: ["SMTPCore"]),
        .library(name: "MailParser", targets: ["MailParser"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        // The same YAML parser swift-configuration reads the file with; intaked lists the file's keys with it.
        .package(url: "https://github.com/jpsim/Yams", "5.4.0"..<"7.0.0"),
    ],
    targets: [
        .target(
            name: "SMTPCore",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .target(
            name: "SMTPNIO",
            dependencies: [
                "SMTPCore",
                "CGlibcExtras",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "MailParser",
            swiftSettings: strict
        ),
        .target(
            name: "Filing",
            dependencies: ["MailParser"],
            swiftSettings: strict
        ),
        .target(
            name: "IntakeStore",
            dependencies: [
                "Filing", "MailParser", "CSQLiteWALBuffer", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "AdminAPI",
            swiftSettings: strict
        ),
        .target(name: "CGlibcExtras"),
        .target(name: "CSQLiteWALBuffer", linkerSettings: [.linkedLibrary("sqlite3")]),
        .target(
            name: "IntakeServer",
            dependencies: [
                "AdminAPI",
                "CGlibcExtras",
                .product(name: "Crypto", package: "swift-crypto"),
                "SMTPCore",
                "SMTPNIO",
                "MailParser",
                "Filing",
                "IntakeStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "intaked",
            dependencies: [
                "IntakeServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "intakectl",
            dependencies: [
                "AdminAPI",
                "MailParser",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SMTPCoreTests",
            dependencies: ["SMTPCore", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SMTPNIOTests",
            dependencies: [
                "SMTPNIO",
                "SMTPCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MailParserTests",
            dependencies: ["MailParser"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "FilingTests",
            dependencies: ["Filing", "MailParser"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AdminAPITests",
            dependencies: ["AdminAPI"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "IntakeStoreTests",
            dependencies: ["IntakeStore", "Filing", "MailParser", "CSQLiteWALBuffer"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "IntakeEndToEndTests",
            dependencies: [
                "intaked", "intakectl", "AdminAPI", "IntakeStore", "Filing", "MailParser", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            exclude: ["Scripts"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
