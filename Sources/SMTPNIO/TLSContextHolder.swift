import NIOSSL
import Synchronization

/// The TLS context STARTTLS uses, replaceable while the server runs: a reloaded certificate is
/// used by every handshake that starts after the swap; sessions already under TLS keep theirs.
public final class TLSContextHolder: Sendable {
    private let current: Mutex<NIOSSLContext>

    /// Holds `context` until it is replaced.
    public init(_ context: NIOSSLContext) {
        current = Mutex(context)
    }

    /// The context for the next handshake.
    public var context: NIOSSLContext {
        current.withLock { $0 }
    }

    /// Swaps in a new context.
    public func replace(with context: NIOSSLContext) {
        current.withLock { $0 = context }
    }
}
