#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The database's write-ahead log as a file of its own, for syncing it apart from the commits:
/// a commit made with the writer at `synchronous=NORMAL` writes its frames into the WAL without
/// waiting for the disk, and a later ``sync()`` makes every commit that ended before it began
/// durable (fsync works on the file, whichever descriptor wrote it). SQLite at NORMAL still
/// syncs the WAL before a checkpoint copies any of it, so the database file never holds a page
/// that the WAL on disk does not.
/// - SeeAlso: https://sqlite.org/pragma.html#pragma_synchronous, https://sqlite.org/wal.html
final class WALFile: Sendable {
    let path: String
    /// The WAL's descriptor, open for the database's life: SQLite deletes the WAL only when its
    /// last connection closes, and the writer's stays open as long as this. SQLite takes no locks
    /// on the WAL file itself (its WAL locks are on the `-shm` file), so this descriptor releases
    /// none of SQLite's locks when it closes.
    private let descriptor: CInt

    /// Opens the WAL of the database at `databasePath`, which must exist (a connection in WAL
    /// mode is open). Opened before any commit that it syncs: the kernel reports a write-back
    /// error to the descriptors open when it happened.
    init(databasePath: String) throws(StoreError) {
        path = databasePath + "-wal"
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.failure("open", path) }
    }

    deinit {
        close(descriptor)
    }

    /// Syncs the WAL's octets (fdatasync).
    func sync() throws(StoreError) {
        while fdatasync(descriptor) != 0 {
            guard errno == EINTR else { throw Self.failure("fdatasync", path) }
        }
    }

    private static func failure(_ operation: String, _ path: String) -> StoreError {
        StoreError(
            code: .unavailable, message: "cannot sync the database's WAL \(path) (\(operation)): \(String(cString: strerror(errno)))",
            isSyncFailure: true)
    }
}
