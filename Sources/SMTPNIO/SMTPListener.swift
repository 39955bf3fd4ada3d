import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SMTPCore
import ServiceLifecycle

/// The SMTP listener as a service: it accepts connections, enforces the connection caps and runs a
/// session per connection, until graceful shutdown.
///
/// At shutdown it stops accepting, asks every session to finish (idle ones are answered
/// `421 4.3.2` and closed; one reading or delivering a message finishes it first) and closes what
/// is still open once the grace period is over.
public final class SMTPListener: Service {
    /// How the listener is set up.
    public struct Configuration: Sendable {
        /// The address to listen on.
        public var host: String
        /// The port to listen on; 0 picks a free one.
        public var port: Int
        /// The name the server greets with.
        public var hostname: String
        /// The limits enforced.
        public var limits: SMTPLimits
        /// TLS for STARTTLS; `nil` when no certificate is configured.
        public var tlsContext: TLSContextHolder?
        /// The folder for message content too large to keep in memory.
        public var temporaryDirectory: String
        /// Message content above this many octets goes to a file.
        public var memoryThreshold: Int
        /// How long sessions busy with a message may take to finish at shutdown.
        public var shutdownGracePeriod: Duration

        /// Creates a configuration.
        public init(
            host: String, port: Int, hostname: String, limits: SMTPLimits, tlsContext: TLSContextHolder?,
            temporaryDirectory: String, memoryThreshold: Int = 64 * 1024, shutdownGracePeriod: Duration = .seconds(30)
        ) {
            self.host = host
            self.port = port
            self.hostname = hostname
            self.limits = limits
            self.tlsContext = tlsContext
            self.temporaryDirectory = temporaryDirectory
            self.memoryThreshold = memoryThreshold
            self.shutdownGracePeriod = shutdownGracePeriod
        }
    }

    private let configuration: Configuration
    private let receiver: any SMTPMessageReceiver
    private let group: any EventLoopGroup
    private let threadPool: NIOThreadPool
    private let logger: Logger
    private let metrics: SMTPMetrics
    private let onListening: @Sendable (SocketAddress) -> Void

    /// Creates a listener; `onListening` is called with the bound address once it accepts.
    public init(
        configuration: Configuration,
        receiver: any SMTPMessageReceiver,
        group: any EventLoopGroup,
        threadPool: NIOThreadPool,
        logger: Logger,
        metrics: SMTPMetrics = SMTPMetrics(),
        onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) {
        self.metrics = metrics
        self.configuration = configuration
        self.receiver = receiver
        self.group = group
        self.threadPool = threadPool
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let limits = configuration.limits
        let tracker = ConnectionTracker(maxTotal: limits.maxConnections, maxPerAddress: limits.maxConnectionsPerIP)
        let environment = SMTPSessionEnvironment(
            stateMachineConfiguration: .init(
                hostname: configuration.hostname, limits: limits, startTLSAvailable: configuration.tlsContext != nil
            ),
            receiver: receiver,
            tlsContext: configuration.tlsContext,
            threadPool: threadPool,
            temporaryDirectory: configuration.temporaryDirectory,
            memoryThreshold: configuration.memoryThreshold,
            logger: logger,
            metrics: metrics,
            underLoad: { address in tracker.underLoad(from: address) }
        )
        let hostname = configuration.hostname
        let logger = self.logger
        let metrics = self.metrics
        let serverChannel: any Channel
        do {
            serverChannel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .acceptBackoff(logger: logger, listener: "smtp")
                // At the TCP level: `.socketOption(.tcp_nodelay)` is SOL_SOCKET's option 1,
                // SO_DEBUG, which only root may set; everyone else's connections failed.
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                // A client that sends its last commands and shuts down its side (a half-close) still
                // gets every reply it is owed; the session closes once they are written.
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                // One read per readiness: a session that waits stops reading after at most one more
                // read, so its input buffer stays near 64 KiB (with four, twenty sessions receiving
                // 2 MB messages peaked 3 MB higher and spent 14 CPU seconds per 1,000 messages, not 10).
                .childChannelOption(.maxMessagesPerRead, value: 1)
                .childChannelInitializer { channel in
                    let address = channel.remoteAddress?.ipAddress ?? "unknown"
                    guard tracker.admit(channel, address: address) else {
                        logger.notice("connection refused: too many connections", metadata: ["smtp.peer": "\(address)"])
                        metrics.connectionsRefused.increment()
                        let refusal = SMTPReply(421, EnhancedStatusCode(4, 7, 0), "\(hostname) too many connections; try again later")
                        metrics.sent(refusal)
                        return channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(RefusingHandler(refusal: refusal))
                        }
                    }
                    channel.closeFuture.whenComplete { _ in tracker.release(channel, address: address) }
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            SMTPSessionHandler(environment: environment, sessionID: SMTPIdentifiers.sessionID())
                        )
                    }
                }
                .bind(host: configuration.host, port: configuration.port)
                .get()
        } catch {
            throw SMTPListenerBindError(host: configuration.host, port: configuration.port, underlying: error)
        }

        if let address = serverChannel.localAddress {
            logger.info(
                "SMTP listening",
                metadata: ["smtp.address": "\(address.ipAddress ?? configuration.host)", "smtp.port": "\(address.port ?? 0)"]
            )
            onListening(address)
        }

        try? await gracefulShutdown()

        logger.info("SMTP shutting down", metadata: ["smtp.sessions": "\(tracker.count)"])
        try? await serverChannel.close()
        for channel in tracker.channels {
            channel.pipeline.fireUserInboundEventTriggered(SMTPShutdownEvent())
        }
        let deadline = ContinuousClock.now + configuration.shutdownGracePeriod
        while tracker.count > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let remaining = tracker.channels
        if !remaining.isEmpty {
            logger.warning("closing sessions still open after the grace period", metadata: ["smtp.sessions": "\(remaining.count)"])
            // A message still arriving gets 421 4.3.2; give the replies a moment to leave.
            for channel in remaining { channel.pipeline.fireUserInboundEventTriggered(SMTPShutdownEvent(graceElapsed: true)) }
            let closing = ContinuousClock.now + .milliseconds(200)
            while tracker.count > 0 && ContinuousClock.now < closing {
                try? await Task.sleep(for: .milliseconds(10))
            }
            for channel in tracker.channels { try? await channel.close() }
        }
        logger.info("SMTP stopped")
    }
}

/// Answers a connection over the caps with its refusal (`421 4.7.0`) and closes it.
private final class RefusingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let refusal: SMTPReply

    init(refusal: SMTPReply) {
        self.refusal = refusal
    }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 96)
        refusal.write(to: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

/// The SMTP listener could not bind its address: the address is in use, not on this host, or
/// not an address. `underlying` is NIO's error.
public struct SMTPListenerBindError: Error {
    public var host: String
    public var port: Int
    public var underlying: any Error
}
