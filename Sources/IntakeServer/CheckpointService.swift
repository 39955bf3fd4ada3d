import IntakeStore
import Logging
import ServiceLifecycle

/// Checkpoints the database's WAL periodically (`database.checkpoint_interval_ms`), off the commit
/// path, so no filing commit pays for copying the WAL into the database file (a checkpoint inside
/// a commit was the tail of the filing latency).
struct CheckpointService: Service {
    let database: IntakeDatabase
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: interval)
            do {
                try await database.checkpoint()
            } catch {
                logger.warning("WAL checkpoint failed; the next one retries", metadata: ["error": "\(error)"])
            }
        }
        try? await database.checkpoint()
    }
}
