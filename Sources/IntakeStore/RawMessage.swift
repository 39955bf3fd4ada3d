#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import GRDB
import GRDBSQLite

/// Where a delivery's raw message is while it waits for its transaction: in memory when small, or
/// in the file the SMTP session spooled it to, which the filing transaction copies into the
/// database in pieces (SQLite's incremental BLOB I/O), so that a large message is never held in
/// memory whole while it queues.
public enum RawMessage: Sendable {
    /// The message's octets.
    case bytes(Data)
    /// A file holding exactly `size` octets, which stays in place until the delivery is filed.
    case file(path: String, size: Int)

    /// The size in octets.
    public var count: Int {
        switch self {
        case .bytes(let data): return data.count
        case .file(_, let size): return size
        }
    }

    /// The octets read per step when copying a file into the database.
    static let copyChunk = 256 * 1024

    /// Copies the file into the BLOB column `column` of row `row` of `table`, which must already
    /// hold a zero-filled BLOB of the file's size (`zeroblob(size)`).
    static func copy(file path: String, size: Int, into db: Database, table: String, column: String, row: Int64) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw StoreError(code: .unavailable, message: "cannot open the received message \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var blob: OpaquePointer?
        let opened = sqlite3_blob_open(db.sqliteConnection, "main", table, column, row, 1, &blob)
        defer { sqlite3_blob_close(blob) }
        guard opened == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: opened), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: min(copyChunk, max(size, 1)), alignment: 16)
        defer { buffer.deallocate() }
        var offset = 0
        while offset < size {
            let wanted = min(buffer.count, size - offset)
            let got = read(descriptor, buffer.baseAddress, wanted)
            if got < 0, errno == EINTR { continue }
            guard got > 0 else {
                let reason = got == 0 ? "it ended early" : String(cString: strerror(errno))
                throw StoreError(code: .unavailable, message: "cannot read the received message \(path) at octet \(offset): \(reason)")
            }
            let written = sqlite3_blob_write(blob, buffer.baseAddress, Int32(got), Int32(offset))
            guard written == SQLITE_OK else {
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: written), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
            offset += got
        }
    }
}
