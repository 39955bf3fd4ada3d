#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CSQLiteWALBuffer
import GRDBSQLite
import Filing
import Foundation
import GRDB
import Synchronization

/// The SQLite database behind Intake: one `Sendable` value around a GRDB `DatabaseWriter`, with
/// methods named for what they do. SQLite runs in WAL mode with `synchronous=FULL`, so a committed
/// transaction survives a crash or power loss; the filing path's commits
/// (``fileDeferringSync(_:)``) do once a later ``syncWAL()`` has returned.
public struct IntakeDatabase: Sendable {
    /// The GRDB writer (a `DatabasePool`).
    public let writer: any DatabaseWriter
    /// The WAL's size, when the owner checkpoints.
    let wal: WALMonitor?
    /// A connection of its own for checkpoints beside the writer's commits, when the owner
    /// checkpoints.
    let checkpointConnection: DatabaseQueue?
    /// Where large raw messages are kept as files; `nil` for a database that keeps every raw
    /// message in itself.
    public let rawFolder: RawMessageFolder?
    /// The WAL file, for syncing commits made at `synchronous=NORMAL` (``syncWAL()``).
    let walFile: WALFile
    /// Dropbox users and organisations kept in memory between two changes.
    public let directory = DropboxDirectory()
    /// The size cap (`database.max_size`), in octets; 0 for none.
    let maxSize: Int
    /// The bounds of what one message files.
    public let filingLimits: FilingLimits
    /// Why the last filing commit failed as full, until one succeeds (``writeProblem()``).
    let standingFull = StandingFailure()
    /// Told of an fsync that failed in an admin change or a health probe, as the owner of the
    /// commits is of its own: what the WAL holds on disk is then uncertain for every commit.
    public let syncFailures = SyncFailureSignal()

    /// Opens (creating if needed) the database at `path` and migrates it. With `maxSize` > 0 the
    /// file may not grow past that many octets (SQLite's `max_page_count`): writes then fail as
    /// full, and succeed again once there is room.
    ///
    /// With `ownerCheckpoints`, commits no longer copy the WAL back into the database file
    /// themselves (SQLite's automatic checkpoint, which runs inside the commit that crosses 1,000
    /// pages, before it returns): the owner watches ``walPages`` and ``walFrames`` and calls
    /// ``checkpointBesideWriter()`` or ``checkpointNow()`` at moments of its choosing.
    public static func open(
        path: String, maxSize: Int = 0, ownerCheckpoints: Bool = false, filingLimits: FilingLimits = FilingLimits()
    ) throws(StoreError) -> IntakeDatabase {
        // Each commit's WAL frames written with one call, not two per frame (`CSQLiteWALBuffer`).
        let registered = intake_wal_buffer_register()
        guard registered == SQLITE_OK else {
            throw StoreError(DatabaseError(resultCode: ResultCode(rawValue: registered)), doing: "register the WAL write buffer")
        }
        let wal = ownerCheckpoints ? WALMonitor() : nil
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Each delivery's savepoint keeps the pages it changes in a statement journal; past
            // 64 KiB SQLite would move that journal to a temporary file, one more write of every
            // page a message with many contacts changes.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            if let wal {
                try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
                // A WAL that grew under load is cut back to this size when it starts over.
                try db.execute(sql: "PRAGMA journal_size_limit = \(64 * 1024 * 1024)")
                wal.install(on: db)
            }
        }
        try refuseEmptiedDatabase(path)
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            // The pool sets its writer's synchronous to NORMAL when it sets up WAL mode, after
            // `prepareDatabase`: in WAL mode that syncs the WAL only at checkpoints, and a power
            // cut could lose what was committed since. FULL again, so that every commit is
            // fsynced before it returns (but those of ``fileDeferringSync(_:)``, synced by
            // ``syncWAL()``); the writer keeps its connection for the pool's life.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            // Migrations this version does not know: a newer Intake wrote the file, and this
            // one would read and write it wrongly (a downgrade, or a backup of a newer one).
            let unknown = try pool.read { db in
                try Schema.migrator.appliedIdentifiers(db).subtracting(Schema.migrator.migrations)
            }
            guard unknown.isEmpty else {
                throw StoreError(
                    code: .invalid,
                    message:
                        "the database \(path) was migrated by a newer Intake (\(unknown.sorted().joined(separator: ", "))); run that version, or a backup from this one"
                )
            }
            try Schema.migrator.migrate(pool)
            // The size cap, on the writer (the one connection that adds pages), once the pool is
            // open and migrated: opening writes a page when the WAL is missing (GRDB makes it with
            // a table it drops), and a database already at its cap would not start at all, where
            // it should take no message and answer 452 until there is room.
            if maxSize > 0 {
                try pool.writeWithoutTransaction { db in
                    let pageSize = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
                    try db.execute(sql: "PRAGMA max_page_count = \(Room.maxPages(maxSize: maxSize, pageSize: pageSize))")
                }
            }
            let rawFolder = RawMessageFolder(databasePath: path)
            try rawFolder.create()
            let walFile = try WALFile(databasePath: path)
            var checkpointConnection: DatabaseQueue?
            if wal != nil {
                var checkpointConfiguration = Configuration()
                checkpointConfiguration.label = "checkpoint"
                checkpointConfiguration.prepareDatabase { db in
                    // The checkpoint's fsyncs of the WAL and of the database file.
                    try db.execute(sql: "PRAGMA synchronous = FULL")
                }
                checkpointConnection = try DatabaseQueue(path: path, configuration: checkpointConfiguration)
            }
            return IntakeDatabase(
                writer: pool, wal: wal, checkpointConnection: checkpointConnection, rawFolder: rawFolder,
                walFile: walFile, maxSize: maxSize, filingLimits: filingLimits)
        } catch {
            throw StoreError(error, doing: "open the database \(path)")
        }
    }

    /// Refuses a database file that exists and is empty while its raw folder holds messages:
    /// it was truncated or replaced, and filling it with an empty schema would answer every
    /// dropbox address `550 5.1.1` (no such user), which senders take as final.
    static func refuseEmptiedDatabase(_ path: String) throws(StoreError) {
        var status = stat()
        guard stat(path, &status) == 0, status.st_size == 0 else { return }
        let raw = RawMessageFolder(databasePath: path).path
        let kept = ((try? FileManager.default.subpathsOfDirectory(atPath: raw)) ?? []).filter { name in
            var entry = stat()
            return stat(raw + "/" + name, &entry) == 0 && (entry.st_mode & S_IFMT) == S_IFREG
        }
        guard kept.isEmpty else {
            throw StoreError(
                code: .invalid,
                message:
                    "the database \(path) is empty, but \(raw) holds \(kept.count) kept messages: it was truncated or replaced; restore it from a backup (intakectl backup), or move both aside to start afresh"
            )
        }
    }

    init(
        writer: any DatabaseWriter, wal: WALMonitor?, checkpointConnection: DatabaseQueue?, rawFolder: RawMessageFolder?,
        walFile: WALFile, maxSize: Int, filingLimits: FilingLimits
    ) {
        self.filingLimits = filingLimits
        self.writer = writer
        self.wal = wal
        self.checkpointConnection = checkpointConnection
        self.rawFolder = rawFolder
        self.walFile = walFile
        self.maxSize = maxSize
    }

    /// Runs `body` in one write transaction. The ``directory`` forgets what it holds inside the
    /// transaction and again right after it ends, before the writer runs anything else: every
    /// admin change goes through here.
    public func write<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws(StoreError) -> T {
        let directory = self.directory
        do {
            return try await writer.write { db in
                directory.forget()
                db.afterNextTransaction { _ in
                    directory.forget()
                } onRollback: { _ in
                    directory.forget()
                }
                return try body(db)
            }
        } catch let error as StoreError {
            throw error
        } catch {
            let failure = StoreError(error, doing: "write")
            if failure.isSyncFailure { syncFailures.report(failure) }
            throw failure
        }
    }

    /// Runs `body` on a consistent snapshot.
    public func read<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await writer.read(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(error, doing: "read")
        }
    }

    /// `nil` when the database takes writes; else why not. Rewrites the header's user_version
    /// with its own value, a real write through the WAL that changes nothing. That write needs no
    /// room, so a database that refuses messages as full (at `database.max_size`, or on a full
    /// disk) is reported by its last filing commit, until one succeeds.
    public func writeProblem() async -> String? {
        do {
            try await writer.write { db in
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                try db.execute(sql: "PRAGMA user_version = \(version)")
            }
        } catch {
            let failure = StoreError(error, doing: "write")
            if failure.isSyncFailure { syncFailures.report(failure) }
            return "\(failure)"
        }
        guard let full = standingFull.current else { return nil }
        // Room made since for what was refused (the cap raised, rows deleted, the disk cleaned
        // up): healthy again, without waiting for a message to be filed. Pages that cannot be
        // read leave the failure standing.
        if let pages = try? await writer.read({ db in try Room.pages(db) }) {
            let room = Room(maxSize: maxSize, folder: rawFolder?.path, pages: pages)
            if room.octets >= full.room + full.needed {
                standingFull.clear(full)
                return nil
            }
        }
        return "full: \(full.reason); messages are refused with 452 until there is room"
    }

    /// The database's size in octets (pages in use times the page size).
    public func size() async -> Int {
        (try? await writer.read { db in
            (try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0) * (try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0)
        }) ?? 0
    }

    /// The user whose dropbox token this is, if any, read from the database (the RCPT check asks
    /// the ``directory`` first).
    public func dropboxUser(token: String) async throws(StoreError) -> DropboxUser? {
        let token = token.lowercased()
        return try await read { db in try Self.user(db, token: token) }
    }

    static func user(_ db: Database, token: String) throws -> DropboxUser? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM user WHERE token = ?"), arguments: [token]) else {
            return nil
        }
        return try user(db, row: row)
    }

    static func user(_ db: Database, row: Row) throws -> DropboxUser {
        let id: Int64 = row["id"]
        let extra = try String.fetchAll(
            db.cachedStatement(sql: "SELECT email FROM user_address WHERE user_id = ? AND validated = 1 ORDER BY email"), arguments: [id])
        return DropboxUser(
            id: id, organisationID: row["organisation_id"], email: row["email"], name: row["name"], timeZone: row["timezone"],
            trustedAddresses: extra
        )
    }

    /// What the filing rules need about an organisation: its exclusions (not a user's own), and
    /// every address of its users, each user's own among them (the rules drop a user's own
    /// addresses first).
    static func organisationContext(_ db: Database, organisationID: Int64) throws -> OrganisationContext {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM organisation WHERE id = ?"), arguments: [organisationID])
        else {
            throw StoreError(code: .notFound, message: "the user's organisation is gone")
        }
        let members = try String.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT email FROM user WHERE organisation_id = ?
                    UNION SELECT a.email FROM user_address a JOIN user u ON u.id = a.user_id WHERE u.organisation_id = ?
                    """),
            arguments: [organisationID, organisationID]
        )
        let patterns = try String.fetchAll(
            db.cachedStatement(sql: "SELECT pattern FROM exclusion WHERE organisation_id = ? AND user_id IS NULL"),
            arguments: [organisationID]
        )
        return OrganisationContext(
            id: organisationID,
            name: row["name"],
            internalDomains: decodeList(row["internal_domains"]),
            memberAddresses: Set(members.map { $0.lowercased() }),
            exclusions: patterns.compactMap(ExclusionPattern.init),
            settings: try settings(db, organisationID: organisationID),
            dropboxDomains: []
        )
    }

    /// What the filing rules need about the user's organisation, the user's own exclusions
    /// included, read from `db` (the filing transaction takes it from the ``directory``).
    static func organisationContext(_ db: Database, user: DropboxUser, dropboxDomains: Set<String>) throws -> OrganisationContext {
        try organisationContext(
            db, user: user, in: organisationContext(db, organisationID: user.organisationID), dropboxDomains: dropboxDomains)
    }

    /// The user's context from their organisation's: its exclusions and the user's own.
    static func organisationContext(
        _ db: Database, user: DropboxUser, in organisation: OrganisationContext, dropboxDomains: Set<String>
    ) throws -> OrganisationContext {
        var context = organisation
        context.exclusions += try String.fetchAll(
            db.cachedStatement(sql: "SELECT pattern FROM exclusion WHERE organisation_id = ? AND user_id = ?"),
            arguments: [user.organisationID, user.id]
        ).compactMap(ExclusionPattern.init)
        context.dropboxDomains = dropboxDomains
        return context
    }

    /// The organisation's settings, defaults filled in.
    static func settings(_ db: Database, organisationID: Int64) throws -> OrganisationSettings {
        var settings = OrganisationSettings()
        for row in try Row.fetchAll(
            db.cachedStatement(sql: "SELECT key, value FROM setting WHERE organisation_id = ?"), arguments: [organisationID])
        {
            let value: String = row["value"]
            switch row["key"] as String {
            case "create_contacts": settings.createContacts = value == "true"
            case "company_from_domain": settings.companyFromDomain = value == "true"
            case "freemail_domains_extra": settings.freemailDomainsExtra = decodeList(value)
            default: break
            }
        }
        return settings
    }

    static func decodeList(_ json: String) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data(json.utf8))) ?? []
    }

    static func encodeList(_ list: [String]) -> String {
        var out = JSONText(capacity: 16 * list.count + 2)
        out.strings(list)
        return out.text
    }
}

extension Database {
    /// Runs a statement prepared once per connection: the filing path runs the same few statements
    /// for every message, and compiling them again each time is most of its cost.
    func executeCached(sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}

/// Where a failed fsync outside the filing commits is reported (``IntakeDatabase/syncFailures``):
/// its owner stops the process, as after one of its own.
public final class SyncFailureSignal: Sendable {
    private let handler = Mutex<(@Sendable (StoreError) -> Void)?>(nil)

    /// Calls `body` for each failed fsync reported from now on.
    public func onFailure(_ body: @escaping @Sendable (StoreError) -> Void) {
        handler.withLock { $0 = body }
    }

    func report(_ failure: StoreError) {
        handler.withLock { $0 }?(failure)
    }
}

/// A store failure with a code the admin API and the SMTP side can act on.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalid, notFound = "not_found", conflict, forbidden, unavailable, internalError = "internal"
        /// The database or the disk is full.
        case full
    }

    public var code: Code
    public var message: String
    /// An fsync failed (`SQLITE_IOERR_FSYNC`, `SQLITE_IOERR_DIR_FSYNC`, or the WAL's own sync):
    /// what the disk holds is uncertain, and a later fsync that succeeds would not say so (the
    /// kernel reports a failed write-back once).
    public var isSyncFailure: Bool
    /// Another connection holds a lock the call needed (`SQLITE_BUSY`, `SQLITE_LOCKED`): trying
    /// again later may succeed.
    public var isLockWait = false
    /// The disk failed or is full (`SQLITE_FULL`; `SQLITE_IOERR` reading, writing, syncing or
    /// truncating a file): no setting is wrong, and trying again later may succeed. Errors of
    /// locks and shared memory (a file system that cannot hold a WAL) are not such faults.
    public var isStorageFault = false
    /// SQLite could not write the database (`SQLITE_READONLY`): its file's permissions, or a
    /// file system that is read-only.
    public var isReadOnly = false

    public init(code: Code, message: String, isSyncFailure: Bool = false) {
        self.code = code
        self.message = message
        self.isSyncFailure = isSyncFailure
    }

    init(_ error: any Error, doing what: String) {
        if let error = error as? StoreError {
            self = error
            return
        }
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_FULL:
                self.init(code: .full, message: "the database or its disk is full (\(what))")
                isStorageFault = true
            case .SQLITE_CONSTRAINT:
                self.init(code: .conflict, message: error.message ?? "constraint failed")
            case .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_READONLY:
                self.init(
                    code: .unavailable, message: "the database is unavailable (\(what)): \(error.message ?? "\(error.resultCode)")",
                    isSyncFailure: error.extendedResultCode == .SQLITE_IOERR_FSYNC || error.extendedResultCode == .SQLITE_IOERR_DIR_FSYNC)
                isLockWait = error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED
                isStorageFault = [
                    .SQLITE_IOERR_READ, .SQLITE_IOERR_SHORT_READ, .SQLITE_IOERR_WRITE, .SQLITE_IOERR_FSYNC, .SQLITE_IOERR_DIR_FSYNC,
                    .SQLITE_IOERR_TRUNCATE, .SQLITE_IOERR_FSTAT, .SQLITE_IOERR_DELETE, .SQLITE_IOERR_CORRUPTFS,
                ].contains(error.extendedResultCode)
                isReadOnly = error.resultCode == .SQLITE_READONLY
            default:
                self.init(code: .internalError, message: "database error (\(what)): \(error.message ?? "\(error.resultCode)")")
            }
            return
        }
        self.init(code: .internalError, message: "\(what): \(error)")
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// A failure that stands until the next success, or until there is more room than when it
/// happened: why the last filing commit failed as full.
final class StandingFailure: Sendable {
    /// The commit failed as full, with `room` left (``Room/octets``), for messages of `needed`
    /// octets (their raw size, a bound on the room they take).
    struct Full: Sendable {
        var reason: String
        var room: Int
        var needed: Int
        /// Which failure this is: a later one is not cleared for an earlier one's room.
        fileprivate(set) var generation: UInt64 = 0
    }

    private let state = Mutex<(current: Full?, generations: UInt64)>((nil, 0))

    /// The failure, while it stands.
    var current: Full? { state.withLock { $0.current } }

    /// Records a failure, or with `nil` a success.
    func set(_ full: Full?) {
        state.withLock { state in
            state.generations += 1
            state.current = full.map { full in
                var numbered = full
                numbered.generation = state.generations
                return numbered
            }
        }
    }

    /// Clears `full`, unless a later failure has replaced it meanwhile.
    func clear(_ full: Full) {
        state.withLock { state in
            if state.current?.generation == full.generation { state.current = nil }
        }
    }
}

/// The room the database has to grow: under its size cap (`database.max_size`, free pages
/// included) and on its file system, whichever is less.
struct Room {
    /// Octets it can grow by.
    var octets: Int
    /// Whether the size cap, not the disk, is what limits it.
    var isCapped: Bool
    let maxSize: Int

    /// The pragmas whose values ``init(maxSize:folder:pages:)`` takes, in order. (Not
    /// `max_page_count`: only the writer's connection has the cap, and readers read these.)
    static let pagePragmas = ["page_count", "freelist_count", "page_size"]

    /// Reads the pages' values (``pagePragmas``) on `db`.
    static func pages(_ db: Database) throws -> [Int] {
        try pagePragmas.map { try Int.fetchOne(db, sql: "PRAGMA \($0)") ?? 0 }
    }

    /// The room left, from the database's pages (``pages(_:)``; `nil` when they could not be
    /// read) and the free space of the file system that holds `folder`.
    init(maxSize: Int, folder: String?, pages: [Int]?) {
        self.maxSize = maxSize
        var disk = Int.max
        var stats = statvfs()
        if let folder, statvfs(folder, &stats) == 0 { disk = Int(stats.f_bavail) * Int(stats.f_frsize) }
        var capped = Int.max
        if maxSize > 0, let pages, pages.count == 3, pages[2] > 0 {
            // The writer's max_page_count, as ``IntakeDatabase/open(path:maxSize:ownerCheckpoints:filingLimits:)``
            // sets it (SQLite keeps it no lower than the pages in use).
            let maxPages = max(pages[0], Self.maxPages(maxSize: maxSize, pageSize: pages[2]))
            capped = max(0, maxPages - pages[0] + pages[1]) * pages[2]
        }
        octets = min(disk, capped)
        isCapped = capped < disk
    }

    /// The page cap for `maxSize` octets.
    static func maxPages(maxSize: Int, pageSize: Int) -> Int {
        max(16, maxSize / pageSize)
    }

    /// Why SQLite found the database full.
    var fullReason: String {
        isCapped ? "the database has reached its size cap, database.max_size (\(maxSize) octets)" : "the database or its disk is full"
    }
}
