import GRDB
import GRDBSQLite
import Synchronization

/// Keeps how many pages the database's write-ahead log gained since the last checkpoint, from
/// what SQLite reports after each commit (its WAL hook, which SQLite's own automatic checkpoint
/// uses too), so that the owner of the commits can choose when to checkpoint.
/// - SeeAlso: https://sqlite.org/wal.html#automatic_checkpoint, `sqlite3_wal_hook`.
final class WALMonitor: Sendable {
    private struct Counts {
        /// Pages in the WAL after the last commit.
        var frames = 0
        /// Of those, the pages a checkpoint already copied.
        var copied = 0
    }

    private let counts = Mutex(Counts())

    /// Pages written to the WAL since the last checkpoint.
    var pages: Int { counts.withLock { $0.frames - $0.copied } }

    /// Installs the hook on a connection. The hook replaces SQLite's automatic checkpoint, which
    /// is therefore off on this connection.
    func install(on db: Database) {
        let hook: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafePointer<CChar>?, Int32) -> Int32 = {
            context, _, _, frames in
            guard let context else { return SQLITE_OK }
            Unmanaged<WALMonitor>.fromOpaque(context).takeUnretainedValue().committed(frames: Int(frames))
            return SQLITE_OK
        }
        // Unretained: the connection's configuration holds the closure that holds this monitor,
        // so it lives as long as the connection.
        sqlite3_wal_hook(db.sqliteConnection, hook, Unmanaged.passUnretained(self).toOpaque())
    }

    private func committed(frames: Int) {
        counts.withLock { counts in
            // Fewer pages than before: the WAL started over, nothing of it is copied yet.
            if frames < counts.frames { counts.copied = 0 }
            counts.frames = frames
        }
    }

    /// Records what a checkpoint copied (SQLite's counts: pages in the WAL, pages copied).
    func checkpointed(walPages: Int, copied: Int) {
        guard walPages >= 0, copied >= 0 else { return }
        counts.withLock { counts in
            counts.frames = walPages
            counts.copied = min(copied, walPages)
        }
    }
}
