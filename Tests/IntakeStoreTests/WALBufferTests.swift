import CSQLiteWALBuffer
import Foundation
import GRDB
import IntakeStore
import Testing

/// The WAL write buffer (`CSQLiteWALBuffer`) under a real database: what a commit appends reaches
/// the file before any other connection can see the commit, whatever its size, and in few writes.
@Suite struct WALBufferTests {
    /// The WAL writes, their octets, and the barriers that found frames still kept (none
    /// expected), made on this thread so far.
    static func counts() -> (writes: Int64, octets: Int64, barrierWrites: Int64) {
        var writes: Int64 = 0
        var octets: Int64 = 0
        var barrierWrites: Int64 = 0
        intake_wal_buffer_thread_counts(&writes, &octets, &barrierWrites)
        return (writes, octets, barrierWrites)
    }

    /// A new empty folder for a database of a test's own.
    static func temporaryFolder() throws -> String {
        let folder = NSTemporaryDirectory() + "intake-walbuffer-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    /// A commit of 200 pages and more: without the buffer, two writes per page (its frame's header,
    /// then the page). With it, one write per 120 KiB of frames, and one more as slack: a frame
    /// part that does not fit starts the next buffer, so each runs a little short of 120 KiB. No
    /// barrier finds frames kept: the commit's last page wrote them. Counted on the writer's
    /// thread, where the commit runs.
    @Test func aLargeCommitIsWrittenInFewCalls() async throws {
        let database = try StoreTests.database()
        try await database.writer.write { db in try db.execute(sql: "CREATE TABLE scratch (id INTEGER PRIMARY KEY, data BLOB)") }
        let (written, octets, barrierWrites) = try await database.writer.writeWithoutTransaction { db in
            let before = Self.counts()
            try db.inTransaction {
                for id in 1...200 { try db.execute(sql: "INSERT INTO scratch VALUES (?, randomblob(3000))", arguments: [id]) }
                return .commit
            }
            let after = Self.counts()
            return (after.writes - before.writes, after.octets - before.octets, after.barrierWrites - before.barrierWrites)
        }
        #expect(barrierWrites == 0)
        let frames = octets / (24 + 4096)
        #expect(frames >= 200)
        #expect(written <= (octets + 120 * 1024 - 1) / (120 * 1024) + 1)
        let count = try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM scratch") }
        #expect(count == 200)
    }

    /// Commits of every size from one page to several buffers' worth (the buffer holds 120 KiB;
    /// SQLite's unix VFS writes at most 128 KiB per call), each at `synchronous=NORMAL` as the
    /// filing path commits, each read back at once through another connection, then all of them
    /// again through a new connection, which checks the database whole. Each commit's frames are
    /// written by its last page, not by the barrier before SQLite publishes it.
    @Test func everyCommitIsReadableAtOnceFromAnotherConnection() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/intake.sqlite"
        var sizes: [Int] = []
        do {
            let database = try IntakeDatabase.open(path: path)
            try await database.writer.write { db in try db.execute(sql: "CREATE TABLE scratch (id INTEGER PRIMARY KEY, data BLOB)") }
            for (id, size) in [1, 2_000, 4_000, 30_000, 122_880, 131_072, 131_072 - 24, 262_144, 600_000, 5, 1_000_000].enumerated() {
                let barrierWrites = try await database.writer.writeWithoutTransaction { db in
                    let before = Self.counts().barrierWrites
                    try db.execute(sql: "PRAGMA synchronous = NORMAL")
                    try db.inTransaction {
                        try db.execute(sql: "INSERT INTO scratch VALUES (?, zeroblob(?))", arguments: [id, size])
                        try db.execute(sql: "UPDATE scratch SET data = randomblob(?) WHERE id = ?", arguments: [size, id])
                        return .commit
                    }
                    try db.execute(sql: "PRAGMA synchronous = FULL")
                    return Self.counts().barrierWrites - before
                }
                #expect(barrierWrites == 0)
                sizes.append(size)
                let seen = try await database.read { db in
                    try Int.fetchOne(db, sql: "SELECT length(data) FROM scratch WHERE id = ?", arguments: [id])
                }
                #expect(seen == size)
            }
        }
        let reopened = try DatabaseQueue(path: path)
        let (integrity, lengths) = try await reopened.read { db in
            (
                try String.fetchOne(db, sql: "PRAGMA integrity_check"),
                try Int.fetchAll(db, sql: "SELECT length(data) FROM scratch ORDER BY id")
            )
        }
        #expect(integrity == "ok")
        #expect(lengths == sizes)
    }

    /// A transaction that spills frames (a page cache of 10 pages, 40 pages written) and rolls
    /// back: its frames, kept unwritten, are dropped when it lets go of the write lock. Were they
    /// written later, they would land over the frames another connection committed meanwhile at the
    /// same offsets (the WAL was copied whole, so both begin at its start).
    @Test func framesOfATransactionThatRollsBackNeverReachTheFile() throws {
        #expect(intake_wal_buffer_register() == 0)
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/intake.sqlite"
        let first = try DatabaseQueue(path: path)
        let second = try DatabaseQueue(path: path)
        try first.writeWithoutTransaction { db in
            try db.execute(
                sql: """
                    PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; PRAGMA synchronous = NORMAL; PRAGMA cache_size = 10;
                    CREATE TABLE spilled (data BLOB); CREATE TABLE committed (id INTEGER PRIMARY KEY, value INTEGER, pad BLOB);
                    PRAGMA wal_checkpoint(TRUNCATE);
                    """)
            try db.inTransaction {
                for _ in 1...40 { try db.execute(sql: "INSERT INTO spilled VALUES (randomblob(3500))") }
                return .rollback
            }
        }
        try second.write { db in
            for value in 1...30 { try db.execute(sql: "INSERT INTO committed (value, pad) VALUES (?, zeroblob(3000))", arguments: [value]) }
        }
        // The first connection reads the WAL again and closes; the second closes last, copying the
        // WAL into the database file; a new connection checks what is there.
        #expect(try first.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM committed") } == 30)
        try first.close()
        try second.close()
        let (integrity, sum) = try DatabaseQueue(path: path).read { db in
            (try String.fetchOne(db, sql: "PRAGMA integrity_check"), try Int.fetchOne(db, sql: "SELECT sum(value) FROM committed"))
        }
        #expect(integrity == "ok")
        #expect(sum == 465)
    }

    /// A transaction that spills frames and reads one of them back, on a file system with room for
    /// the WAL's header and no more: the read writes the kept frames first, meets `ENOSPC`, and
    /// fails as a full disk (SQLITE_FULL, the filing path's 452), not as a broken one; so does the
    /// rest of the transaction. Mounting a small `tmpfs` needs root.
    @Test(.enabled(if: Self.canMountTmpfs, "mounting a small tmpfs needs root with CAP_SYS_ADMIN"))
    func keptFramesMeetingAFullDiskFailAsFull() throws {
        #expect(intake_wal_buffer_register() == 0)
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try #require(Self.run("/bin/mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", folder) == 0)
        defer { _ = Self.run("/bin/umount", "--lazy", folder) }
        let database = try DatabaseQueue(path: folder + "/intake.sqlite")
        try database.writeWithoutTransaction { db in
            try db.execute(
                sql: """
                    PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = 10;
                    CREATE TABLE spilled (id INTEGER PRIMARY KEY, data BLOB);
                    PRAGMA wal_checkpoint(TRUNCATE);
                    """)
        }
        // Fill the file system, then free two blocks: the WAL's header and its first frame.
        let filler = folder + "/filler"
        let descriptor = open(filler, O_WRONLY | O_CREAT, 0o600)
        try #require(descriptor >= 0)
        let block = [UInt8](repeating: 0, count: 4096)
        var filled = 0
        while true {
            let written = block.withUnsafeBytes { write(descriptor, $0.baseAddress, 4096) }
            if written == 4096 {
                filled += 4096
                continue
            }
            if written < 0 { #expect(errno == ENOSPC) }
            break
        }
        #expect(ftruncate(descriptor, off_t(filled - 2 * 4096)) == 0)
        close(descriptor)

        var failure: DatabaseError?
        do {
            try database.writeWithoutTransaction { db in
                try db.inTransaction {
                    // 16 pages of their own, more than the page cache holds: spilled, and kept.
                    for id in 1...16 { try db.execute(sql: "INSERT INTO spilled VALUES (?, randomblob(3500))", arguments: [id]) }
                    _ = try Data.fetchOne(db, sql: "SELECT data FROM spilled WHERE id = 1")
                    return .commit
                }
            }
        } catch let error as DatabaseError {
            failure = error
        }
        #expect(failure?.resultCode == .SQLITE_FULL, "\(String(describing: failure))")
        try database.close()
    }

    /// Whether this process may mount a tmpfs (root, and not in a container without
    /// CAP_SYS_ADMIN): tried once on a folder of its own.
    static let canMountTmpfs: Bool = {
        guard getuid() == 0, let folder = try? temporaryFolder() else { return false }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        guard run("/bin/mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", folder) == 0 else { return false }
        return run("/bin/umount", folder) == 0
    }()

    /// Runs a program and returns its exit status.
    static func run(_ path: String, _ arguments: String...) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        do { try process.run() } catch { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
