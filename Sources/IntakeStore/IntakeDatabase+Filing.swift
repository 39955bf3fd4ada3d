import Filing
import GRDB

extension IntakeDatabase {
    /// Files several deliveries in one transaction (group commit): each in a savepoint of its own,
    /// so one that fails leaves the others whole. When the commit itself fails, every delivery
    /// fails and nothing of any of them is visible.
    public func file(_ deliveries: [Delivery]) async -> [Result<[RecipientResult], StoreError>] {
        let filed: Result<[(result: Result<[RecipientResult], StoreError>, storedRaw: Bool)], any Error>
        do {
            filed = .success(
                try await writer.write { [directory, filingLimits] db in
                    try Self.fileBatch(deliveries, in: db, directory: directory, limits: filingLimits)
                })
        } catch {
            filed = .failure(error)
        }
        return cleanUp(after: filed, of: deliveries)
    }

    /// The same, on the calling thread, but the commit does not wait for the disk: the writer
    /// runs this one transaction at `synchronous=NORMAL`, so the commit writes the WAL and
    /// returns, and the batch is durable only once a ``syncWAL()`` that began after it has
    /// returned. Nobody may be told that a delivery is filed before that. Other readers (the admin
    /// API, a backup) may see the batch before it is durable: what they see is consistent
    /// (SQLite's NORMAL guarantees it), but a power cut may undo it, and its senders, never
    /// answered 250, then send it again. Blocks the calling thread: for a thread of its own (never
    /// a Swift concurrency or event-loop thread).
    public func fileDeferringSync(_ deliveries: [Delivery]) -> [Result<[RecipientResult], StoreError>] {
        let filed = Result { [directory] in
            try writer.writeWithoutTransaction { db in
                try db.executeCached(sql: "PRAGMA synchronous = NORMAL")
                // Every other write through the writer commits durably. Setting it fails only
                // inside a transaction, which only a failed rollback leaves open: the batch has
                // failed then, and the next one fails setting NORMAL.
                defer { try? db.executeCached(sql: "PRAGMA synchronous = FULL") }
                var filed: [(result: Result<[RecipientResult], StoreError>, storedRaw: Bool)] = []
                try db.inTransaction {
                    filed = try Self.fileBatch(deliveries, in: db, directory: directory, limits: filingLimits)
                    return .commit
                }
                return filed
            }
        }
        return cleanUp(after: filed, of: deliveries)
    }

    /// Each delivery's result once its batch's transaction has ended, its kept raw file removed
    /// where no committed row names it.
    private func cleanUp(
        after filed: Result<[(result: Result<[RecipientResult], StoreError>, storedRaw: Bool)], any Error>, of deliveries: [Delivery]
    ) -> [Result<[RecipientResult], StoreError>] {
        switch filed {
        case .success(let filed):
            standingFull.set(nil)
            return removeUnnamedRawFiles(deliveries, filed)
        case .failure(let error):
            removeRawFiles(ofRolledBack: deliveries, error)
            var failure = StoreError(error, doing: "commit")
            if failure.code == .full {
                // On the commit thread (or, in tests, a task that waits for the commit anyway).
                let pages = try? writer.read { db in try Room.pages(db) }
                let room = Room(maxSize: maxSize, folder: rawFolder?.path, pages: pages)
                failure.message = "\(room.fullReason) (commit)"
                let needed = max(4096, deliveries.reduce(0) { $0 + $1.raw.count })
                standingFull.set(StandingFailure.Full(reason: room.fullReason, room: room.octets, needed: needed))
            }
            return deliveries.map { _ in .failure(failure) }
        }
    }

    /// Makes every commit that ended before this call durable: syncs the WAL file (fdatasync).
    /// For commits made by ``fileDeferringSync(_:)``; any other commit is durable when it ends.
    /// Blocks the calling thread.
    public func syncWAL() throws(StoreError) {
        try walFile.sync()
    }

    /// Removes the delivery's raw file from the raw folder, if it was kept there: for a delivery
    /// that no committed row names.
    public func removeKeptFile(of delivery: Delivery) {
        if case .kept(let sha256, _) = delivery.raw { rawFolder?.remove(sha256) }
    }

    /// After a transaction that failed as a whole: removes the batch's kept raw files when SQLite
    /// rolled it back (full, busy, out of memory, interrupted), so that a full database does not
    /// fill the disk with files of messages the sender retries. After an I/O error the files
    /// stay: the commit may have reached the disk.
    private func removeRawFiles(ofRolledBack deliveries: [Delivery], _ error: any Error) {
        guard let error = error as? DatabaseError, error.resultCode != .SQLITE_IOERR, error.resultCode != .SQLITE_CORRUPT else { return }
        for delivery in deliveries { removeKeptFile(of: delivery) }
    }

    /// After the commit: removes the kept raw files that no committed row names (a duplicate, a
    /// refusal, a delivery that failed alone). When the commit itself fails, the files stay: a
    /// commit that failed late may still be on disk. No two deliveries keep the same file: each
    /// message begins with the Received field this server adds, which names its own SMTP id.
    private func removeUnnamedRawFiles(
        _ deliveries: [Delivery], _ filed: [(result: Result<[RecipientResult], StoreError>, storedRaw: Bool)]
    ) -> [Result<[RecipientResult], StoreError>] {
        for (delivery, outcome) in zip(deliveries, filed) where !outcome.storedRaw { removeKeptFile(of: delivery) }
        return filed.map(\.result)
    }

    /// The body of the group-commit transaction.
    private static func fileBatch(
        _ deliveries: [Delivery], in db: Database, directory: DropboxDirectory, limits: FilingLimits
    ) throws -> [(result: Result<[RecipientResult], StoreError>, storedRaw: Bool)] {
        try directory.confirm(db)
        var results: [(result: Result<[RecipientResult], StoreError>, storedRaw: Bool)] = []
        for delivery in deliveries {
            do {
                var filed: (results: [RecipientResult], storedRaw: Bool) = ([], false)
                try db.inSavepoint {
                    filed = try Self.fileNamingRaw(delivery, in: db, directory: directory, limits: limits)
                    return .commit
                }
                results.append((.success(filed.results), filed.storedRaw))
            } catch let error as DatabaseError where Self.abortsTransaction(error) {
                // SQLite has rolled the whole transaction back: the batch fails as one.
                throw error
            } catch {
                results.append((.failure(StoreError(error, doing: "file message \(delivery.smtpID)")), false))
            }
        }
        return results
    }

    /// Errors after which SQLite rolls back the whole transaction, savepoints included.
    static func abortsTransaction(_ error: DatabaseError) -> Bool {
        switch error.resultCode {
        case .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_NOMEM, .SQLITE_BUSY, .SQLITE_CORRUPT, .SQLITE_INTERRUPT: return true
        default: return false
        }
    }

    /// Files one delivery in a transaction of its own.
    public func file(_ delivery: Delivery) async -> Result<[RecipientResult], StoreError> {
        await file([delivery])[0]
    }
}
