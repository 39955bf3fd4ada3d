import Logging
import NIOSSL
import SMTPNIO
import ServiceLifecycle
import UnixSignals

/// Reloads the TLS certificate and key on SIGHUP without dropping a session: handshakes that start
/// afterwards use the new certificate. A certificate that fails to load is logged and the old one
/// stays in use. Without TLS configured, SIGHUP is logged and ignored (never the default action,
/// which would end the daemon).
struct TLSReloadService: Service {
    let holder: TLSContextHolder?
    let load: @Sendable () throws -> NIOSSLContext?
    let logger: Logger

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        for await _ in hangups.cancelOnGracefulShutdown() {
            guard let holder else {
                logger.notice("SIGHUP: no TLS certificate configured, nothing to reload")
                continue
            }
            do {
                if let context = try load() {
                    holder.replace(with: context)
                    logger.notice("TLS certificate reloaded")
                }
            } catch {
                logger.error("TLS certificate not reloaded; the previous one stays in use", metadata: ["error": "\(error)"])
            }
        }
    }
}
