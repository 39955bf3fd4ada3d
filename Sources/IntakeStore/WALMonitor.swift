import GRDB
import GRDBSQLite
import Synchronization

/// Keeps the number of pages in the database's write-ahead log, as SQLite reports it after each
/// commit (its WAL hook, which SQLite's own automatic checkpoint uses too), so that the owner of
/// the commits can choose when to checkpoint.
/// - SeeAlso: https://sqlite.org/wal.html#automatic_checkpoint, `sqlite3_wal_hook`.
final class WALMonitor: Sendable {
    private let frames = Atomic<Int>(0)

    /// Pages in the WAL after the last commit (0 after the WAL started over).
    var pages: Int { frames.load(ordering: .relaxed) }

    /// Installs the hook on a connection. The hook replaces SQLite's automatic checkpoint, which
    /// is therefore off on this connection.
    func install(on db: Database) {
        let hook: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafePointer<CChar>?, Int32) -> Int32 = {
            context, _, _, pages in
            guard let context else { return SQLITE_OK }
            Unmanaged<WALMonitor>.fromOpaque(context).takeUnretainedValue().frames.store(Int(pages), ordering: .relaxed)
            return SQLITE_OK
        }
        // Unretained: the connection's configuration keeps this monitor alive as long as the pool.
        sqlite3_wal_hook(db.sqliteConnection, hook, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Records what a checkpoint left in the WAL.
    func checkpointed(walPages: Int, copied: Int) {
        if walPages >= 0 && copied >= walPages { frames.store(0, ordering: .relaxed) }
    }
}
