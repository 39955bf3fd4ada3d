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
    /// The descriptor, opened on the first sync; -1 before. SQLite takes no locks on the WAL
    /// file itself (its WAL locks are on the `-shm` file), so opening and closing this descriptor
    /// releases none of SQLite's locks.
    private let descriptor = Mutex<CInt>(-1)

    init(databasePath: String) {
        path = databasePath + "-wal"
    }

    deinit {
        descriptor.withLock { if $0 >= 0 { close($0) } }
    }

    /// Syncs the WAL's octets (fdatasync), opening it first if need be, or again if the file it
    /// had open was deleted (SQLite deletes the WAL when its last connection closes).
    func sync() throws(StoreError) {
        try descriptor.withLock { (fd: inout CInt) throws(StoreError) in
            if fd >= 0 {
                var status = stat()
                if fstat(fd, &status) != 0 || status.st_nlink == 0 {
                    close(fd)
                    fd = -1
                }
            }
            if fd < 0 {
                fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw failure("open") }
            }
            while fdatasync(fd) != 0 {
                guard errno == EINTR else { throw failure("fdatasync") }
            }
        }
    }

    private func failure(_ operation: String) -> StoreError {
        StoreError(
            code: .unavailable, message: "cannot sync the database's log \(path) (\(operation)): \(String(cString: strerror(errno)))")
    }
}
