#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
                try sync(parent, directory: true)
            } else if errno != EEXIST {
                throw Failure(operation: "mkdir", path: current, code: errno)
            }
        }
    }

    /// Whether `code` says the disk failed or is full or read-only, not that a path or a
    /// permission is wrong: a start that meets it may succeed later.
    static func isStorageFault(_ code: CInt) -> Bool {
        [EIO, EROFS, ENOSPC, EDQUOT].contains(code)
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
