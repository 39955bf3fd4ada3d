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

/// Where a delivery's raw message is while it waits for its transaction: in memory when small;
/// for a large one, already kept durably in the database's raw folder (the transaction only names
/// it), or, when that folder is on another file system, in the file the SMTP session spooled it
/// to, which the transaction copies into the database in pieces (SQLite's incremental BLOB I/O).
/// Either way a large message is never held in memory whole while it queues.
public enum RawMessage: Sendable {
    /// The message's octets.
    case bytes(Data)
    /// A file holding exactly `size` octets, which stays in place until the delivery is filed.
    case file(path: String, size: Int)
    /// The durable file of SHA-256 `sha256` in the database's ``RawMessageFolder``, of `size`
    /// octets.
    case kept(sha256: String, size: Int)

    /// The size in octets.
    public var count: Int {
        switch self {
        case .bytes(let data): return data.count
        case .file(_, let size), .kept(_, let size): return size
        }
    }

    /// The octets read per step when copying a file into the database.
    static let copyChunk = 256 * 1024

    /// The `size` octets of a spooled message's file.
    public static func contents(of path: String, size: Int) throws -> [UInt8] {
        var contents: [UInt8] = []
        try read(path, size: size, into: &contents)
        return contents
    }

    /// The `size` octets of a spooled message's file, read into `buffer` (whose storage is reused
    /// when it is large enough and not shared).
    public static func read(_ path: String, size: Int, into buffer: inout [UInt8]) throws {
        let descriptor = try openForReading(path)
        defer { close(descriptor) }
        try read(descriptor, path: path, size: size, into: &buffer)
    }

    /// The same, read through `descriptor`, open for reading on the file `path` (which may since
    /// have been renamed): positional reads, so the descriptor's offset does not matter.
    public static func read(_ descriptor: CInt, path: String, size: Int, into buffer: inout [UInt8]) throws {
        if buffer.count > size {
            buffer.removeLast(buffer.count - size)
        } else if buffer.count < size {
            buffer.append(contentsOf: repeatElement(0, count: size - buffer.count))
        }
        guard size > 0 else { return }
        try buffer.withUnsafeMutableBytes { bytes in
            try readExactly(descriptor, into: bytes.baseAddress!, count: size, path: path, offset: 0)
        }
    }

    /// Copies the file into the BLOB column `column` of row `row` of `table`, which must already
    /// hold a zero-filled BLOB of the file's size (`zeroblob(size)`).
    static func copy(file path: String, size: Int, into db: Database, table: String, column: String, row: Int64) throws {
        let descriptor = try openForReading(path)
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
            let piece = min(buffer.count, size - offset)
            try readExactly(descriptor, into: buffer.baseAddress!, count: piece, path: path, offset: offset)
            let written = sqlite3_blob_write(blob, buffer.baseAddress, Int32(piece), Int32(offset))
            guard written == SQLITE_OK else {
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: written), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
            offset += piece
        }
    }

    private static func openForReading(_ path: String) throws -> CInt {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw StoreError(code: .unavailable, message: "cannot open the received message \(path): \(String(cString: strerror(errno)))")
        }
        return descriptor
    }

    /// Reads exactly `count` octets (the file's octets from `offset` on) into `buffer`, with
    /// positional reads.
    private static func readExactly(_ descriptor: CInt, into buffer: UnsafeMutableRawPointer, count: Int, path: String, offset: Int) throws
    {
        var done = 0
        while done < count {
            let got = pread(descriptor, buffer + done, count - done, off_t(offset + done))
            if got < 0, errno == EINTR { continue }
            guard got > 0 else {
                let reason = got == 0 ? "it ended early" : String(cString: strerror(errno))
                throw StoreError(
                    code: .unavailable, message: "cannot read the received message \(path) at octet \(offset + done): \(reason)")
            }
            done += got
        }
    }
}
