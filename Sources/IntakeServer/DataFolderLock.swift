#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The data folder's lock: `intaked.lock` in it, held with `flock` for as long as the daemon
/// runs, with the daemon's process id written in. A second daemon started on the same folder
/// stops before it touches anything there: it would empty the folders of messages the first is
/// receiving, set aside the raw files of messages it is filing, and file into the same database.
/// The kernel releases the lock when the process ends, however it ends.
final class DataFolderLock: Sendable {
    private let descriptor: Int32

    /// Takes the lock of `folder` (which exists).
    /// - Throws: ``IntakeTemporaryError`` when another process holds it, naming that process
    ///   (exit 75: a service manager tries again, and starts once the other has stopped);
    ///   ``IntakeConfigurationError`` when the lock file cannot be opened.
    init(folder: String) throws {
        let path = folder + "/intaked.lock"
        var descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        // A lock file another user made (root, starting the daemon by hand): flock works on a
        // descriptor opened for reading too; only the process id is not written then.
        if descriptor < 0 && errno == EACCES { descriptor = open(path, O_RDONLY | O_CLOEXEC) }
        guard descriptor >= 0 else {
            let code = errno
            if DurableFiles.isStorageFault(code, at: path) {
                throw IntakeTemporaryError(
                    "cannot open \(path): \(String(cString: strerror(code))) (the disk failed, is full or went read-only)")
            }
            throw IntakeConfigurationError("cannot open \(path): \(String(cString: strerror(code))) (set data_dir to a writable folder)")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = Self.processID(in: descriptor).map { " (process \($0))" } ?? ""
            close(descriptor)
            throw IntakeTemporaryError(
                "another intaked\(holder) uses the data folder \(folder); stop it first, or give this one another data_dir")
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        self.descriptor = descriptor
    }

    /// The process id the lock file holds, if it holds one.
    private static func processID(in descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count].filter { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }, as: UTF8.self))
    }

    deinit {
        close(descriptor)
    }
}

/// The process's limit of open files: raised to its hard limit, as mail daemons do, and checked
/// against the connections the SMTP listener may hold (each session holds one file, and a
/// message being spooled a second).
enum OpenFileLimit {
    /// Raises the soft limit to the hard one; returns the soft limit in force.
    static func raise() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return UInt64(raised.rlim_cur) }
        }
        return UInt64(limit.rlim_cur)
    }
}
