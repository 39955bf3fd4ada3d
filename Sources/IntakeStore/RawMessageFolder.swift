#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The folder beside the database where large raw messages are kept as files, each named by the
/// SHA-256 of its content (`<database>-raw/ab/abcdef…`), so that a 2 MB message costs one
/// sequential write, not a copy through the WAL and another into the database file.
///
/// A file is made durable (fsync of the file, then of its folder) before the commit of the row
/// that names it (`message.raw_sha256`), so a committed message never names a missing file.
/// Files are never changed once kept. A file that no row names after its delivery's transaction
/// (a duplicate, a refusal, a rolled-back transaction) is removed; one left by a crash between
/// keeping and committing, by an I/O error at the commit, or kept for a message that could not be
/// read back (the two run at once) is moved to `unnamed/` at the next start
/// (``IntakeDatabase/setAsideUnnamedRawFiles()``): another delivery may name the same file.
public struct RawMessageFolder: Sendable {
    /// The folder's path.
    public let path: String

    /// The raw folder of the database at `databasePath`.
    public init(databasePath: String) {
        self.path = databasePath + "-raw"
    }

    /// The path of the file with content `sha256` (64 lower-case hex digits).
    public func file(_ sha256: String) -> String {
        "\(subfolder(sha256))/\(sha256)"
    }

    /// The subfolder of the file with content `sha256`: its first two hex digits.
    public func subfolder(_ sha256: String) -> String {
        "\(path)/\(sha256.prefix(2))"
    }

    /// Why keeping a file failed.
    public enum KeepFailure: Error, Sendable {
        /// The file is on another file system than the folder: store it in the database.
        case otherFileSystem
        /// A file operation failed (`ENOSPC` when the disk is full).
        case failed(operation: String, path: String, errno: CInt)

        /// Whether the disk (or a quota) is full.
        public var isOutOfSpace: Bool {
            if case .failed(_, _, let code) = self { return code == ENOSPC || code == EDQUOT }
            return false
        }
    }

    /// Moves the file at `source`, whose content has SHA-256 `sha256`, to its place in the folder
    /// and makes it durable. Blocks on fsync: never call it from an event loop or Swift
    /// concurrency thread.
    ///
    /// The rename comes first: one fsync of the file then commits its data and its new name
    /// together on a journalling file system, and the folder's fsync has nothing left to do.
    ///
    /// `descriptor` is the file's own, open since it was written: the file is synced through it,
    /// so that an error in writing back its content is reported (a descriptor opened afterwards
    /// could miss one once the kernel has let go of the file).
    public func keep(_ source: String, sha256: String, descriptor: CInt) throws(KeepFailure) {
        let destination = file(sha256)
        let folder = subfolder(sha256)
        var madeFolder = false
        if rename(source, destination) != 0 {
            let code = errno
            // ENOENT with the source in place: the subfolder is gone (``create()`` makes them all).
            guard code == ENOENT, access(source, F_OK) == 0 else { throw Self.failure("rename", source, code) }
            guard mkdir(folder, 0o750) == 0 || errno == EEXIST else { throw Self.failure("mkdir", folder, errno) }
            madeFolder = true
            guard rename(source, destination) == 0 else { throw Self.failure("rename", source, errno) }
        }
        do {
            try Self.sync(descriptor, destination)
            try Self.sync(folder, directory: true)
            if madeFolder { try Self.sync(path, directory: true) }
        } catch {
            // Not durable: no row will name it.
            unlink(destination)
            throw error
        }
    }

    /// Creates the folder and its 256 subfolders (`00` to `ff`) where missing, durably, so that
    /// keeping a file never has to create one.
    public func create() throws(KeepFailure) {
        if mkdir(path, 0o750) == 0 {
            try Self.sync((path as NSString).deletingLastPathComponent, directory: true)
        } else if errno != EEXIST {
            throw Self.failure("mkdir", path, errno)
        }
        var made = false
        let hex = Array("0123456789abcdef")
        for index in 0..<256 {
            let folder = path + "/" + String([hex[index >> 4], hex[index & 15]])
            if mkdir(folder, 0o750) == 0 {
                made = true
            } else if errno != EEXIST {
                throw Self.failure("mkdir", folder, errno)
            }
        }
        if made { try Self.sync(path, directory: true) }
    }

    /// Why a file cannot be kept in `folder` (one of the subfolders) now, or `nil` when it can:
    /// makes a small file there, syncs it and the folder, and removes it. Asked by `/healthz`
    /// while a delivery's file could not be kept there, so that the failure ends once the folder
    /// works again, whether or not a large message comes meanwhile. Its name is not a content
    /// hash, so the raw folder's sweeps pass it by; the next probe replaces one that a crash left.
    /// Blocks on fsync.
    public static func keepProblem(in folder: String) -> String? {
        let probe = folder + "/.healthz-probe"
        let descriptor = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return failure("open", probe, errno).description }
        defer { unlink(probe) }
        defer { close(descriptor) }
        var octet = UInt8(ascii: "\n")
        guard write(descriptor, &octet, 1) == 1 else { return failure("write", probe, errno).description }
        do {
            try sync(descriptor, probe)
            try sync(folder, directory: true)
        } catch {
            return error.description
        }
        return nil
    }

    /// The content of the file `sha256`, which must hold `size` octets.
    public func contents(_ sha256: String, size: Int) throws -> [UInt8] {
        try RawMessage.contents(of: file(sha256), size: size)
    }

    /// Removes the file `sha256` (no committed row names it).
    public func remove(_ sha256: String) {
        unlink(file(sha256))
    }

    /// The folder where ``setAside(_:)`` moves files that no message names.
    public var unnamedPath: String { path + "/unnamed" }

    /// The content hashes of the files in subfolder `index` (0 to 255: `00` to `ff`). Entries
    /// whose name is not 64 lower-case hex digits are not the folder's and are left out.
    public func hashes(inSubfolder index: Int) throws(KeepFailure) -> [String] {
        let hex = Array("0123456789abcdef")
        let folder = path + "/" + String([hex[(index >> 4) & 15], hex[index & 15]])
        guard let stream = opendir(folder) else {
            if errno == ENOENT { return [] }
            throw Self.failure("opendir", folder, errno)
        }
        defer { closedir(stream) }
        var hashes: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if Self.isContentHash(name) {
                hashes.append(name)
            }
        }
        return hashes
    }

    /// Whether `name` is a SHA-256 as files are named by it: 64 lower-case hex digits.
    static func isContentHash(_ name: String) -> Bool {
        name.utf8.count == 64 && name.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// Moves the file `sha256`, which no message names, into ``unnamedPath`` (created when
    /// missing), out of the way of the files that rows name but kept for an operator to look at.
    public func setAside(_ sha256: String) throws(KeepFailure) {
        if mkdir(unnamedPath, 0o750) != 0 && errno != EEXIST { throw Self.failure("mkdir", unnamedPath, errno) }
        guard rename(file(sha256), unnamedPath + "/" + sha256) == 0 else { throw Self.failure("rename", file(sha256), errno) }
    }

    /// Copies the files `hashes` into the raw folder `destination` (a backup's) and makes each
    /// durable.
    public func copy(_ hashes: [String], to destination: RawMessageFolder) throws {
        try destination.create()
        var folders: Set<String> = []
        for hash in hashes {
            folders.insert(destination.subfolder(hash))
            let target = destination.file(hash)
            try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(atPath: file(hash), toPath: target)
            try Self.sync(target, directory: false)
        }
        for folder in folders { try Self.sync(folder, directory: true) }
        try Self.sync(destination.path, directory: true)
    }

    private static func sync(_ path: String, directory: Bool) throws(KeepFailure) {
        let descriptor = open(path, (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("open", path, errno) }
        defer { close(descriptor) }
        try sync(descriptor, path)
    }

    /// Fsyncs the file or folder at `path` through its open `descriptor`.
    private static func sync(_ descriptor: CInt, _ path: String) throws(KeepFailure) {
        guard fsync(descriptor) == 0 else { throw failure("fsync", path, errno) }
    }

    private static func failure(_ operation: String, _ path: String, _ code: CInt) -> KeepFailure {
        code == EXDEV ? .otherFileSystem : .failed(operation: operation, path: path, errno: code)
    }
}

extension RawMessageFolder.KeepFailure: CustomStringConvertible {
    public var description: String {
        switch self {
        case .otherFileSystem: return "the message's file is on another file system than the raw folder"
        case .failed(let operation, let path, let code): return "\(operation) \(path): \(String(cString: strerror(code)))"
        }
    }
}
