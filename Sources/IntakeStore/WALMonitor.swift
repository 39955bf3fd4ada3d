import GRDB
import GRDBSQLite
import Synchronization

/// Keeps how many pages the database's write-ahead log holds and how many of them no checkpoint
/// has copied yet, from what SQLite reports after each commit (its WAL hook, which SQLite's own
/// automatic checkpoint uses too) and after each checkpoint, so that the owner of the commits can
/// choose when to checkpoint. It also makes the checkpoints of the writer's connection and of the
/// checkpoint connection take turns.
/// - SeeAlso: https://sqlite.org/wal.html#automatic_checkpoint, `sqlite3_wal_hook`.
final class WALMonitor: Sendable {
    private struct Counts {
        /// Pages in the WAL after the last commit.
        var frames = 0
        /// Of those, the pages a checkpoint already copied.
        var copied = 0
    }

    private let counts = Mutex(Counts())
    /// Held for the whole of a checkpoint: two at once would find SQLite's checkpoint lock taken.
    private let checkpointing = Mutex(())

    /// Pages written to the WAL that no checkpoint has copied yet.
    var pages: Int { counts.withLock { $0.frames - $0.copied } }

    /// Pages in the WAL, copied or not: its length since it last started over.
    var frames: Int { counts.withLock { $0.frames } }

    /// Runs `body`, a checkpoint, once no other checkpoint runs.
    func exclusively<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        try checkpointing.withLock { _ throws(E) in try body() }
    }

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

    /// Records what a checkpoint copied (SQLite's counts: pages in the WAL, pages copied). A
    /// checkpoint beside the writer may end after further commits, which its counts do not know
    /// of; and counts longer than the WAL now is belong to a WAL that has since started over.
    func checkpointed(walPages: Int, copied: Int) {
        guard walPages >= 0, copied >= 0 else { return }
        counts.withLock { counts in
            guard walPages <= counts.frames || counts.frames == 0 else { return }
            counts.frames = max(counts.frames, walPages)
            counts.copied = max(counts.copied, min(copied, walPages))
        }
    }
}
