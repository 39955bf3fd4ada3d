import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SMTPCore
import SMTPNIO
import IntakeStore
import ServiceLifecycle

/// The composition root: builds the services from a configuration and runs them in one
/// `ServiceGroup` until SIGTERM or SIGINT asks them to stop gracefully.
public struct IntakeServer: Sendable {
    /// The configuration it runs with.
    public let configuration: IntakeConfiguration
    private let logger: Logger

    /// Creates a server; nothing starts before ``run(onListening:)``.
    public init(configuration: IntakeConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until shutdown. `onListening` receives the SMTP listener's bound address.
    public func run(onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }) async throws {
        let dataDirectory = configuration.dataDirectory
        let spoolDirectory = dataDirectory + "/spool"
        let temporaryDirectory = dataDirectory + "/tmp"
        do {
            for folder in [dataDirectory, temporaryDirectory, spoolDirectory + "/tmp", spoolDirectory + "/new"] {
                try DurableFiles.makeDirectory(folder)
            }
        } catch  where DurableFiles.isStorageFault(error.code, at: error.path) {
            throw IntakeTemporaryError("cannot create the data folder: \(error) (the disk failed, is full or went read-only)")
        } catch {
            throw IntakeConfigurationError("cannot create the data folder: \(error) (set data_dir to a writable folder)")
        }
        // A database elsewhere (database.path) gets its folder made too, as the data folder does.
        if configuration.delivery == .filing, configuration.databasePath != nil {
            let folder = (configuration.resolvedDatabasePath as NSString).deletingLastPathComponent
            do {
                if !folder.isEmpty { try DurableFiles.makeDirectory(folder) }
            } catch  where DurableFiles.isStorageFault(error.code, at: error.path) {
                throw IntakeTemporaryError("cannot create the database's folder: \(error) (the disk failed, is full or went read-only)")
            } catch {
                throw IntakeConfigurationError(
                    "cannot create the database's folder: \(error) (set database.path to a file in a writable folder)")
            }
        }
        // Before anything in the folder is touched: another daemon's sessions and filings use it.
        let lock = try DataFolderLock(folder: dataDirectory)
        defer { withExtendedLifetime(lock) {} }
        let openFiles = OpenFileLimit.raise()
        if openFiles > 0, openFiles < UInt64(configuration.limits.maxConnections) * 2 + 256 {
            logger.warning(
                "the open-file limit is low for smtp.max_connections: each session holds a file, and a message being spooled a second; raise LimitNOFILE or lower smtp.max_connections",
                metadata: ["limit": "\(openFiles)", "smtp.max_connections": "\(configuration.limits.maxConnections)"])
        }
        // Partial content of sessions cut off by a crash: never acknowledged, so never kept.
        DurableFiles.emptyFolder(temporaryDirectory)
        DurableFiles.emptyFolder(spoolDirectory + "/tmp")

        let threadPool = NIOThreadPool.singleton
        var ownedThreadPools: [NIOThreadPool] = []
        // fsyncs of concurrent sessions overlap on the disk: give them more threads than cores.
        func durableWrites() -> NIOThreadPool {
            let pool = NIOThreadPool(numberOfThreads: 16)
            pool.start()
            ownedThreadPools.append(pool)
            return pool
        }
        let metrics = IntakeMetrics()
        var health: @Sendable () async -> String? = { DurableFiles.writableProblem(dataDirectory) }
        var beforeScrape: @Sendable () async -> Void = {}
        let policy = DropboxRecipientPolicy(domains: configuration.dropboxDomains, hostname: configuration.hostname)
        let listeners = ListenerAddresses()
        let notifier = SystemdNotifier(logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        let receiver: any SMTPMessageReceiver
        switch configuration.delivery {
        case .filing:
            let database: IntakeDatabase
            do {
                database = try IntakeDatabase.open(
                    path: configuration.resolvedDatabasePath, maxSize: configuration.databaseMaxSize, ownerCheckpoints: true,
                    filingLimits: configuration.filingLimits)
            } catch  where error.isLockWait {
                throw IntakeTemporaryError("cannot open the database: \(error) (another program holds it locked; try again later)")
            } catch  where Self.isStorageFault(error, database: configuration.resolvedDatabasePath) {
                throw IntakeTemporaryError("cannot open the database: \(error) (the disk failed, is full or went read-only)")
            } catch {
                throw IntakeConfigurationError("cannot open the database: \(error) (check database.path and data_dir)")
            }
            // Before any session, what the WAL holds is copied into the database file and synced:
            // after an fsync failed (intaked stopped with 75), pages of the WAL may be in the
            // kernel's cache only, and recovery would build on them; this copy makes them durable,
            // or fails and intaked stops again.
            do {
                try await threadPool.runIfActive { try database.checkpointNow() }
            } catch let error as StoreError where Self.isStorageFault(error, database: configuration.resolvedDatabasePath) {
                throw IntakeTemporaryError("cannot checkpoint the database at start: \(error) (the disk failed, is full or went read-only)")
            } catch {
                throw IntakeConfigurationError("cannot checkpoint the database at start: \(error)")
            }
            // Before any session: a file kept for a message being filed is not named yet.
            do {
                let moved = try database.setAsideUnnamedRawFiles()
                if moved > 0, let folder = database.rawFolder?.unnamedPath {
                    logger.warning(
                        "raw message files that no message names were moved aside; a crash or an I/O error came between keeping them and committing their filing, and their senders, never answered 250, send them again",
                        metadata: ["raw.files": "\(moved)", "raw.folder": "\(folder)"])
                }
            } catch {
                logger.error("cannot sweep the raw folder; starting all the same", metadata: ["error": "\(error)"])
            }
            let queue = FilingQueue(
                database: database, metrics: metrics, checkpointPages: configuration.checkpointPages, logger: logger)
            services.append(.init(service: queue))
            // An fsync that fails in an admin change or a health probe leaves the WAL on disk as
            // uncertain as one of the queue's own: the same stop.
            database.syncFailures.onFailure { error in queue.stopOnSyncFailure(error) }
            let filing = FilingReceiver(
                policy: policy, database: database, queue: queue, durableWrites: durableWrites(), logger: logger, metrics: metrics
            )
            receiver = filing
            health = { [failures = filing.failures, durableWrites = filing.durableWrites] in
                if let problem = await database.writeProblem() { return problem }
                // A raw-file failure ends once a file can be kept where it could not; a daemon out
                // of service for its 503 may get no large message to show it.
                if let (folder, failure) = failures.startProbe(.rawFile) {
                    let kept = try? await durableWrites.runIfActive { RawMessageFolder.keepProblem(in: folder) == nil }
                    failures.endProbe(.rawFile, of: failure, worked: kept == true)
                }
                return failures.problem
            }
            beforeScrape = {
                metrics.databaseSize.record(await database.size())
                metrics.walPages.record(database.walFrames)
            }
            services.append(.init(service: try makeAdminService(database: database, listeners: listeners)))
        case .spool:
            receiver = SpoolReceiver(policy: policy, spoolDirectory: spoolDirectory, threadPool: durableWrites())
        case .discard:
            receiver = DiscardReceiver(policy: policy)
        }
        if configuration.delivery == .discard {
            logger.warning("delivery is discard: messages are accepted and dropped (benchmarks only)")
        }

        let tls = try makeTLSContext().map(TLSContextHolder.init)
        let listener = SMTPListener(
            configuration: .init(
                host: configuration.smtpHost,
                port: configuration.smtpPort,
                hostname: configuration.hostname,
                limits: configuration.limits,
                tlsContext: tls,
                temporaryDirectory: temporaryDirectory,
                memoryThreshold: configuration.memoryThreshold,
                shutdownGracePeriod: .seconds(configuration.shutdownGraceSeconds)
            ),
            receiver: receiver,
            group: MultiThreadedEventLoopGroup.singleton,
            threadPool: threadPool,
            logger: logger,
            metrics: metrics.smtp,
            onListening: { address in
                listeners.set("smtp", "\(address.ipAddress ?? configuration.smtpHost):\(address.port ?? configuration.smtpPort)")
                onListening(address)
                notifier.ready(
                    status: "receiving mail on \(address.ipAddress ?? configuration.smtpHost):\(address.port ?? configuration.smtpPort)"
                )
            }
        )
        // SIGHUP always has a handler (its default would end the daemon); it reloads TLS when set.
        services.append(.init(service: TLSReloadService(holder: tls, load: makeTLSContext, logger: logger)))
        if let port = configuration.metricsPort {
            services.append(
                .init(
                    service: ObservabilityServer(
                        host: configuration.metricsHost, port: port, registry: metrics.registry,
                        group: MultiThreadedEventLoopGroup.singleton,
                        logger: logger, health: health, beforeScrape: beforeScrape,
                        onListening: { address in listeners.set("metrics", address) }
                    )
                )
            )
        }
        let group = ServiceGroup(
            configuration: .init(
                // Stopped in reverse order: the listener first, then the filing queue it feeds.
                // The notifier last: it sees the shutdown first and says STOPPING=1.
                services: services + [.init(service: listener), .init(service: SystemdNotifierService(notifier: notifier))],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        logger.info(
            "Intake starting",
            metadata: [
                "data_dir": "\(dataDirectory)", "dropbox.domains": "\(configuration.dropboxDomains.joined(separator: ","))",
                "delivery": "\(configuration.delivery.rawValue)",
            ]
        )
        defer {
            for pool in ownedThreadPools { pool.shutdownGracefully { _ in } }
        }
        do {
            try await group.run()
        } catch let error as SMTPListenerBindError {
            throw ListenError(host: error.host, port: error.port, keys: "smtp.host, smtp.port", error.underlying)
        }
        logger.info("Intake stopped")
    }

    /// The admin socket's service, on the filing database.
    private func makeAdminService(database: IntakeDatabase, listeners: ListenerAddresses) throws -> AdminService {
        let handler = AdminCommandHandler(
            database: database, dropboxDomains: configuration.dropboxDomains, databasePath: configuration.resolvedDatabasePath,
            listeners: listeners, startedAt: Date(), logger: logger
        )
        return try AdminService(
            socketPath: configuration.resolvedAdminSocketPath, adminGroup: configuration.adminGroup, handler: handler,
            group: MultiThreadedEventLoopGroup.singleton, logger: logger
        )
    }

    @Sendable private func makeTLSContext() throws -> NIOSSLContext? {
        guard let certificatePath = configuration.tlsCertificatePath, let keyPath = configuration.tlsPrivateKeyPath else {
            return nil
        }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            return try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
        } catch {
            throw IntakeConfigurationError(
                "cannot load the TLS certificate \(certificatePath) and key \(keyPath): \(error) (check smtp.tls.certificate and smtp.tls.private_key)"
            )
        }
    }

    /// Whether a store error at start says the disk failed, is full or went read-only (exit 75,
    /// tried again), not that the database or its setting is wrong (exit 78): a database file
    /// that cannot be written for its permissions is read-only to SQLite too.
    static func isStorageFault(_ error: StoreError, database path: String) -> Bool {
        if error.isStorageFault { return true }
        return error.isReadOnly && DurableFiles.fileSystemWentReadOnly(at: path)
    }
}
