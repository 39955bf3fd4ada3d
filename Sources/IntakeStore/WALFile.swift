#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The database's write-ahead log as a file of its own, for syncing it apart from the commits:
/// a commit made with the writer at `synchronous=NORMAL` writes its frames into the WAL without
/// waiting for the disk, and a later ``sync()`` makes every commit that ended before it began
/// durable (fsync works on the file, whichever descriptor wrote it). SQLite at NORMAL still
/// syncs the WAL before a checkpoint copies any of it, so the database file never holds a page
/// that the WAL on disk does not.
/// - SeeAlso: https://sqlite.org/pragma.html#pragma_synchronous, https://sqlite.org/wal.html
final class WALFile: Sendable {
    let path: String
    /// The descriptor; -1 before ``open()``. SQLite takes no locks on the WAL
    /// file itself (its WAL locks are on the `-shm` file), so opening and closing this descriptor
    /// releases none of SQLite's locks.
    private let descriptor = Mutex<CInt>(-1)

    init(databasePath: String) {
        path = databasePath + "-wal"
    }

    deinit {
        descriptor.withLock { if $0 >= 0 { close($0) } }
    }

    /// Opens the WAL file, which must exist (a connection in WAL mode is open).
    func open() throws(StoreError) {
        try descriptor.withLock { (fd: inout CInt) throws(StoreError) in try reopen(&fd) }
    }

    /// Syncs the WAL's octets (fdatasync), opening the file again first if the one it had open
    /// was deleted (SQLite deletes the WAL when its last connection closes).
    func sync() throws(StoreError) {
        try descriptor.withLock { (fd: inout CInt) throws(StoreError) in
            var status = stat()
            if fd < 0 || fstat(fd, &status) != 0 || status.st_nlink == 0 { try reopen(&fd) }
            while fdatasync(fd) != 0 {
                guard errno == EINTR else { throw failure("fdatasync") }
            }
        }
    }

    private func reopen(_ fd: inout CInt) throws(StoreError) {
        if fd >= 0 { close(fd) }
        fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open") }
    }

    private func failure(_ operation: String) -> StoreError {
        StoreError(
            code: .unavailable, message: "cannot sync the database's WAL \(path) (\(operation)): \(String(cString: strerror(errno)))",
            isSyncFailure: true)
    }
}
