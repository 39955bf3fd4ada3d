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

    var limits: SMTPLimits { stateMachineConfiguration.limits }
}
