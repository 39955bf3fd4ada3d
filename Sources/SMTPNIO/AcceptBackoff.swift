#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOPosix

extension ServerBootstrap {
    /// The bootstrap with ``AcceptBackoff`` on the listening channel: it stops accepting for a
    /// second when `accept` fails for want of file descriptors or memory, and logs it as
    /// `listener`'s.
    public func acceptBackoff(logger: Logger, listener: String) -> ServerBootstrap {
        serverChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(AcceptBackoff(logger: logger, listener: listener))
            }
        }
    }
}

/// Stops a listening channel's accepting for a second when `accept` fails for want of file
/// descriptors or memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`), and logs such failures, at
/// most once every ten seconds. NIO leaves the listening socket registered for readability after
/// a failed accept, and with connections waiting it is readable at once again: without this the
/// event loop tried again without pause, at full CPU, and the other listeners on the loop
/// (`/healthz`, the admin socket) went unanswered. It turns the channel's `autoRead` off, which
/// takes the socket out of the event loop's interest, and on again a second later.
final class AcceptBackoff: ChannelInboundHandler {
    typealias InboundIn = Any

    private static let pause = TimeAmount.seconds(1)
    private let logger: Logger
    private let listener: String
    private var lastLogged: NIODeadline?
    private var unlogged = 0
    private var paused = false

    init(logger: Logger, listener: String) {
        self.logger = logger
        self.listener = listener
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? IOError, [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(error.errnoCode) else {
            context.fireErrorCaught(error)
            return
        }
        log(error)
        guard !paused, let options = context.channel.syncOptions else { return }
        paused = true
        try? options.setOption(.autoRead, value: false)
        context.eventLoop.assumeIsolated().scheduleTask(in: Self.pause) {
            self.paused = false
            try? context.channel.syncOptions?.setOption(.autoRead, value: true)
        }
    }

    private func log(_ error: IOError) {
        unlogged += 1
        let now = NIODeadline.now()
        if let lastLogged, now - lastLogged < .seconds(10) { return }
        logger.error(
            "cannot accept connections; trying again in a second (raise the open-file limit, LimitNOFILE, or lower the connection caps)",
            metadata: ["listener": "\(listener)", "error": "\(error)", "failures": "\(unlogged)"])
        lastLogged = now
        unlogged = 0
    }
}
