import GRDB
import GRDBSQLite

/// Checkpoints: copying what the write-ahead log holds back into the database file, so that the
/// WAL can start over and stays short.
///
/// SQLite copies a WAL page by page and syncs the database file only when it has copied the
/// whole WAL; the next write transaction that finds it all copied starts the WAL over from its
/// beginning. A PASSIVE checkpoint may run on another connection while the writer commits: it
/// then copies what was committed when it began.
/// - SeeAlso: https://sqlite.org/wal.html#ckpt, https://sqlite.org/c3ref/wal_checkpoint_v2.html
extension IntakeDatabase {
    /// Pages written to the WAL that no checkpoint has copied yet; 0 unless opened with
    /// `ownerCheckpoints`.
    public var walPages: Int { wal?.pages ?? 0 }

    /// Pages in the WAL, copied or not, since it last started over; 0 unless opened with
    /// `ownerCheckpoints`.
    public var walFrames: Int { wal?.frames ?? 0 }

    /// Copies what the WAL holds back into the database file (a PASSIVE checkpoint) on the
    /// calling thread, through the writer's connection, and returns once it is durable. Run
    /// between two commits of the only writer, it copies everything, and the next commit starts
    /// the WAL over. Waits for a checkpoint beside the writer to end first. Blocks the calling
    /// thread: never call it from a Swift concurrency or event-loop thread.
    public func checkpointNow() throws(StoreError) {
        try exclusively { () throws(StoreError) in
            do {
                try writer.writeWithoutTransaction { db in
                    let (walPages, copied) = try db.checkpoint(.passive)
                    wal?.checkpointed(walPages: walPages, copied: copied)
                }
            } catch {
                throw StoreError(error, doing: "checkpoint")
            }
        }
    }

    /// Copies what the WAL holds back into the database file (a PASSIVE checkpoint) through a
    /// connection of its own, while the writer goes on committing, so that no commit waits for
    /// the copying. It copies what was committed when it began; should it find the WAL copied
    /// whole at its end, it syncs the database file, and the writer's next commit starts the WAL
    /// over. A checkpoint that meets the writer updating the WAL's index returns and leaves the
    /// copying to the next. Without a checkpoint connection (not opened with `ownerCheckpoints`)
    /// it is ``checkpointNow()``. Blocks the calling thread: never call it from a Swift
    /// concurrency or event-loop thread.
    public func checkpointBesideWriter() throws(StoreError) {
        guard let checkpointConnection else { return try checkpointNow() }
        try exclusively { () throws(StoreError) in
            do {
                try checkpointConnection.writeWithoutTransaction { db in
                    let (walPages, copied) = try db.checkpoint(.passive)
                    // SQLite syncs the database file only after copying the WAL whole; syncing
                    // each pass's pages now leaves little for that sync, which runs between two
                    // commits.
                    try Self.syncDatabaseFile(db)
                    wal?.checkpointed(walPages: walPages, copied: copied)
                }
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
                return
            } catch {
                throw StoreError(error, doing: "checkpoint")
            }
        }
    }

    /// Syncs the database file through the connection's own file handle (SQLite's VFS), so that
    /// no other descriptor of the file is opened and closed: closing one would release the locks
    /// SQLite holds on it.
    private static func syncDatabaseFile(_ db: Database) throws {
        var file: UnsafeMutablePointer<sqlite3_file>?
        let code = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_FILE_POINTER, &file)
        guard code == SQLITE_OK, let file, let sync = file.pointee.pMethods?.pointee.xSync else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "no file handle for the database file")
        }
        let synced = sync(file, SQLITE_SYNC_NORMAL)
        guard synced == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: synced), message: "cannot sync the database file")
        }
    }

    private func exclusively<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        guard let wal else { return try body() }
        return try wal.exclusively(body)
    }
}
