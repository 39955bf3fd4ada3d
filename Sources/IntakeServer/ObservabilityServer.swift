#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import IntakeStore
import Logging
import NIOCore
import NIOHTTP1
import SMTPNIO
import NIOPosix
import Prometheus
import ServiceLifecycle

/// The optional HTTP listener for operators: `GET /metrics` in the Prometheus text format and
/// `GET /healthz`, 200 when the store takes writes and 503 otherwise. Loopback by default.
final class ObservabilityServer: Service {
    private let host: String
    private let port: Int
    private let registry: PrometheusCollectorRegistry
    private let health: @Sendable () async -> String?
    private let beforeScrape: @Sendable () async -> Void
    private let group: any EventLoopGroup
    private let logger: Logger
    private let onListening: @Sendable (String) -> Void

    /// - Parameters:
    ///   - health: `nil` when healthy, else the reason.
    ///   - beforeScrape: updates gauges read at scrape time (database size).
    ///   - onListening: told the address it listens on (`host:port`).
    init(
        host: String, port: Int, registry: PrometheusCollectorRegistry, group: any EventLoopGroup, logger: Logger,
        health: @escaping @Sendable () async -> String?, beforeScrape: @escaping @Sendable () async -> Void,
        onListening: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.host = host
        self.port = port
        self.registry = registry
        self.group = group
        self.logger = logger
        self.health = health
        self.beforeScrape = beforeScrape
        self.onListening = onListening
    }

    func run() async throws {
        let responder = Responder(registry: registry, health: health, beforeScrape: beforeScrape)
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .acceptBackoff(logger: logger, listener: "metrics")
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(HTTPHandler(responder: responder))
                    }
                }
                .bind(host: host, port: port)
                .get()
        } catch {
            throw ListenError(host: host, port: port, keys: "metrics.host, metrics.port", error)
        }
        onListening("\(channel.localAddress?.ipAddress ?? host):\(channel.localAddress?.port ?? port)")
        logger.info(
            "HTTP listening",
            metadata: ["http.address": "\(channel.localAddress?.ipAddress ?? host)", "http.port": "\(channel.localAddress?.port ?? 0)"]
        )
        try? await gracefulShutdown()
        try? await channel.close()
    }

    /// Builds the responses; shared by the connections.
    struct Responder: Sendable {
        let registry: PrometheusCollectorRegistry
        let health: @Sendable () async -> String?
        let beforeScrape: @Sendable () async -> Void

        func respond(method: HTTPMethod, path: String) async -> (HTTPResponseStatus, String, String) {
            guard method == .GET || method == .HEAD else { return (.methodNotAllowed, "text/plain", "only GET\n") }
            switch path {
            case "/metrics":
                await beforeScrape()
                return (.ok, "text/plain; version=0.0.4", MetricHelp.adding(to: registry.emitToString()))
            case "/healthz":
                if let problem = await health() { return (.serviceUnavailable, "text/plain", "unhealthy: \(problem)\n") }
                return (.ok, "text/plain", "ok\n")
            default:
                return (.notFound, "text/plain", "not found; try /metrics or /healthz\n")
            }
        }
    }
}

/// One HTTP/1.1 connection: answers each request head with the responder's response.
private final class HTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: ObservabilityServer.Responder

    init(responder: ObservabilityServer.Responder) {
        self.responder = responder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        let responder = self.responder
        let promise = context.eventLoop.makePromise(of: (HTTPResponseStatus, String, String).self)
        promise.completeWithTask {
            await responder.respond(method: head.method, path: head.uri.split(separator: "?").first.map(String.init) ?? "/")
        }
        promise.futureResult.assumeIsolated().whenSuccess { status, contentType, body in
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: contentType)
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            headers.add(name: "Connection", value: "close")
            context.write(
                self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            if head.method != .HEAD {
                context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            }
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

/// A listener could not be opened: the address is in use, not on this host, or not an address.
/// Its description names the address and the configuration keys that set it.
public struct ListenError: Error, CustomStringConvertible {
    public var description: String

    /// The failure to listen on `host`:`port`, set by the configuration `keys`.
    init(host: String, port: Int, keys: String, _ error: any Error) {
        description = "cannot listen on \(host):\(port) (\(keys)): \(Self.reason(error))"
    }

    /// The failure to listen on the Unix socket `path`, set by the configuration `key`.
    init(socketPath path: String, key: String, _ error: any Error) {
        description = "cannot listen on \(path) (\(key)): \(Self.reason(error))"
    }

    private static func reason(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() }
        if error is SocketAddressError || error is SocketAddressError.UnknownHost { return "not an IP address or a known host name" }
        return "\(error)"
    }
}
