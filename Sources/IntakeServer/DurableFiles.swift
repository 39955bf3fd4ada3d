#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOCore

/// The few POSIX file operations durable storage needs: write, fsync, rename, fsync the folder.
enum DurableFiles {
    /// A failed file operation, with its errno.
    struct Failure: Error, CustomStringConvertible {
        var operation: String
        var path: String
        var code: CInt

        /// Whether the disk (or a quota) is full.
        var isOutOfSpace: Bool { code == ENOSPC || code == EDQUOT }

        var description: String {
            "\(operation) \(path): \(String(cString: strerror(code)))"
        }
    }

    /// Creates `path` and every missing parent folder, durably: each folder made is synced into
    /// its parent, so that a power cut soon after the first start loses none of them.
    static func makeDirectory(_ path: String) throws(Failure) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            let parent = current.isEmpty ? "/" : current
            current += "/" + component
            if mkdir(current, 0o750) == 0 {
                // A parent this user may enter but not read (a home folder at 0711) cannot be
                // opened to sync: the folder is made all the same.
                do throws(Failure) {
                    try sync(parent, directory: true)
                } catch  where error.code == EACCES {
                }
            } else if errno != EEXIST {
                throw Failure(operation: "mkdir", path: current, code: errno)
            }
        }
    }

    /// Whether `code`, met at `path`, says the disk failed, is full or went read-only, not that a
    /// path, a permission or a mount is set up wrong: a start that meets it may succeed later.
    /// `EROFS` is such a fault only where the file system itself went read-only (as ext4 does
    /// after an I/O error); a mount made read-only on purpose (a read-only bind mount, a unit's
    /// `ProtectSystem=strict`) is a setting to mend.
    static func isStorageFault(_ code: CInt, at path: String) -> Bool {
        switch code {
        case EIO, ENOSPC, EDQUOT: true
        case EROFS: fileSystemWentReadOnly(at: path)
        default: false
        }
    }

    /// Whether the file system holding `path` (or its nearest existing folder) is read-only in
    /// itself: `ro` or `emergency_ro` among its super options in `/proc/self/mountinfo`, not only
    /// among the mount's.
    static func fileSystemWentReadOnly(at path: String) -> Bool {
        var existing = path
        var status = stat()
        while stat(existing, &status) != 0 {
            guard let slash = existing.lastIndex(of: "/"), slash != existing.startIndex else {
                existing = "."
                break
            }
            existing = String(existing[..<slash])
        }
        guard stat(existing, &status) == 0,
            let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        else { return false }
        // glibc's major() and minor() are macros Swift does not import: the same arithmetic.
        let dev = UInt64(status.st_dev)
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
        let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
        let device = "\(major):\(minor)"
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[2] == device, let dash = fields.firstIndex(of: "-"), dash + 3 < fields.count else { continue }
            // `emergency_ro`: ext4 after an error (errors=remount-ro), on kernels that say so.
            if fields[dash + 3].split(separator: ",").contains(where: { $0 == "ro" || $0 == "emergency_ro" }) { return true }
        }
        return false
    }

    /// Writes `buffer` to a new file at `path` and fsyncs it.
    static func writeDurably(_ buffer: ByteBuffer, to path: String) throws(Failure) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { throw Failure(operation: "open", path: path, code: errno) }
        var failure: Failure?
        buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = Failure(operation: "write", path: path, code: errno)
                    return
                }
                offset += written
            }
        }
        if failure == nil && fsync(descriptor) != 0 {
            failure = Failure(operation: "fsync", path: path, code: errno)
        }
        close(descriptor)
        if let failure {
            unlink(path)
            throw failure
        }
    }

    /// Fsyncs an existing file or folder.
    static func sync(_ path: String, directory: Bool = false) throws(Failure) {
        let descriptor = open(path, (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(operation: "open", path: path, code: errno) }
        defer { close(descriptor) }
        try sync(descriptor, path: path)
    }

    /// Fsyncs the file at `path` through its open `descriptor`.
    static func sync(_ descriptor: CInt, path: String) throws(Failure) {
        guard fsync(descriptor) == 0 else { throw Failure(operation: "fsync", path: path, code: errno) }
    }

    /// Renames atomically, then fsyncs the destination folder so the new name survives a crash.
    static func publish(_ source: String, as destination: String, folder: String) throws(Failure) {
        guard rename(source, destination) == 0 else { throw Failure(operation: "rename", path: source, code: errno) }
        try sync(folder, directory: true)
    }

    /// `nil` when a file can be created in `folder`; else why not.
    static func writableProblem(_ folder: String) -> String? {
        let path = "\(folder)/.healthz-\(getpid())"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return "cannot write in \(folder): \(String(cString: strerror(errno)))" }
        close(descriptor)
        unlink(path)
        return nil
    }

    /// Deletes every file in `folder` (left-overs of an interrupted run).
    static func emptyFolder(_ folder: String) {
        guard let directory = opendir(folder) else { return }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { unlink("\(folder)/\(name)") }
        }
    }
}
