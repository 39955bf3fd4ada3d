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

    /// Whether the WAL holds pages no checkpoint has copied, as SQLite's WAL index says; without
    /// a checkpoint connection (not opened with `ownerCheckpoints`), `false`.
    public func walHoldsUncopiedPages() -> Bool {
        checkpointConnection?.writeWithoutTransaction { db in Self.walIndexHoldsUncopiedFrames(db) } ?? false
    }

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
    ///
    /// It never starts while the WAL is copied whole: a commit may then start the WAL over, and a
    /// checkpoint on another connection that starts as it does can lose committed pages in SQLite
    /// 3.7.0 to 3.51.2 (the WAL-reset bug, https://sqlite.org/wal.html#walresetbug). Once the WAL
    /// holds pages not copied, only a checkpoint can copy them, and checkpoints take turns, so no
    /// commit starts the WAL over before this one has recorded what it copied; one may do so in
    /// its last steps (its own sync of the database file), which read nothing of the WAL.
    public func checkpointBesideWriter() throws(StoreError) {
        guard let checkpointConnection else { return try checkpointNow() }
        try exclusively { () throws(StoreError) in
            do {
                try checkpointConnection.writeWithoutTransaction { db in
                    guard Self.walIndexHoldsUncopiedFrames(db) else { return }
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
        guard let file = databaseFile(db), let sync = file.pointee.pMethods?.pointee.xSync else {
            throw DatabaseError(resultCode: .SQLITE_NOTFOUND, message: "no file handle for the database file")
        }
        let synced = sync(file, SQLITE_SYNC_NORMAL)
        guard synced == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: synced), message: "cannot sync the database file")
        }
    }

    /// Whether SQLite's WAL index (the `-shm` file, as the connection maps it) says the WAL holds
    /// frames no checkpoint has copied: its header's `mxFrame` above its checkpoint information's
    /// `nBackfill`. `false` when it cannot tell (no index mapped, or its two header copies differ
    /// because a commit is updating them). The copied count is read first: a WAL that starts over
    /// between the two reads shows no more frames than the copied count of before, or frames of a
    /// commit that has ended.
    /// - SeeAlso: https://sqlite.org/walformat.html#the_wal_index_file_format
    static func walIndexHoldsUncopiedFrames(_ db: Database) -> Bool {
        guard let file = databaseFile(db), let methods = file.pointee.pMethods, methods.pointee.iVersion >= 2,
            let map = methods.pointee.xShmMap, let barrier = methods.pointee.xShmBarrier
        else { return false }
        var region: UnsafeMutableRawPointer?
        let mapped = withUnsafeMutablePointer(to: &region) { pointer in
            pointer.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: 1) { map(file, 0, 32 * 1024, 0, $0) }
        }
        guard mapped == SQLITE_OK, let region else { return false }
        // Two 48-octet copies of the header, then the checkpoint information; native byte order.
        let copied = region.load(fromByteOffset: 96, as: UInt32.self)
        barrier(file)
        let frames = region.load(fromByteOffset: 16, as: UInt32.self)
        barrier(file)
        let framesAgain = region.load(fromByteOffset: 48 + 16, as: UInt32.self)
        return frames == framesAgain && frames > copied
    }

    /// The connection's own handle of the database file (its VFS object), or `nil`.
    private static func databaseFile(_ db: Database) -> UnsafeMutablePointer<sqlite3_file>? {
        var file: UnsafeMutablePointer<sqlite3_file>?
        guard sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_FILE_POINTER, &file) == SQLITE_OK else { return nil }
        return file
    }

    private func exclusively<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        guard let wal else { return try body() }
        return try wal.exclusively(body)
    }
}
