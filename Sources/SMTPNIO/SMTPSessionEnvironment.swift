import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SMTPCore

/// What every session of a listener shares: configuration, the receiver, TLS and the thread pool.
struct SMTPSessionEnvironment: Sendable {
    var stateMachineConfiguration: SMTPServerStateMachine.Configuration
    var receiver: any SMTPMessageReceiver
    var tlsContext: TLSContextHolder?
    var threadPool: NIOThreadPool
    var temporaryDirectory: String
    var memoryThreshold: Int
    var logger: Logger
    var metrics: SMTPMetrics
    /// Whether the server is under load for a session from an address (``ConnectionTracker``).
    var underLoad: @Sendable (String) -> Bool = { _ in false }

    var limits: SMTPLimits { stateMachineConfiguration.limits }
}
