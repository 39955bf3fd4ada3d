import Foundation
import Synchronization
import Testing

/// A real `intaked` process on a free loopback port with its own temporary data folder.
final class Daemon: Sendable {
    let dataDirectory: String
    let port: Int
    private let process: Process
    private let log: LogBuffer
    /// When the process ended, as its termination handler saw it: a test's own clock runs on
    /// threads that other tests may keep busy, and would add their waits to the daemon's.
    private let exit = ExitTime()

    private final class ExitTime: Sendable {
        let instant = Mutex<ContinuousClock.Instant?>(nil)
    }

    /// The folder holding the built executables (`intaked` sits beside the test bundle).
    static let binDirectory: URL = {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("intaked").path)
            && directory.path != "/"
        {
            directory = directory.deletingLastPathComponent()
        }
        return directory
    }()

    static var executable: String { binDirectory.appendingPathComponent("intaked").path }

    /// A new empty folder under the system's temporary folder.
    static func temporaryDirectory(_ name: String = "intake-test") -> String {
        let path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Starts the daemon with `settings` (configuration keys) and waits until it listens; as the
    /// user and group ids `user` (with `setpriv`, owning the data folder), and with at most
    /// `openFiles` open files (with `prlimit`), when given.
    init(
        settings: [String: String] = [:], environment: [String: String] = [:], dataDirectory: String? = nil, port: Int = 0,
        user: (uid: UInt32, gid: UInt32)? = nil, openFiles: Int? = nil
    ) async throws {
        self.dataDirectory = dataDirectory ?? Self.temporaryDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: user == nil && openFiles == nil ? Self.executable : "/usr/bin/env")
        var arguments = ["--data-dir", self.dataDirectory, "--smtp-port", String(port), "--set", "smtp.hostname=mx.intake.test"]
        // The SMTP tests look at the spool; the filing tests ask for delivery=filing.
        let settings = settings.merging(["delivery": "spool"]) { given, _ in given }
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) { arguments += ["--set", "\(key)=\(value)"] }
        var launcher: [String] = []
        if let user {
            _ = chown(self.dataDirectory, user.uid, user.gid)
            launcher += ["setpriv", "--reuid=\(user.uid)", "--regid=\(user.gid)", "--clear-groups"]
        }
        // Soft and hard: the daemon raises its soft limit to the hard one.
        if let openFiles { launcher += ["prlimit", "--nofile=\(openFiles):\(openFiles)"] }
        if !launcher.isEmpty { arguments = launcher + [Self.executable] + arguments }
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INTAKE_") }
            .merging(environment) { _, new in new }
        let errorPipe = Pipe()
        process.standardError = errorPipe
        process.standardOutput = FileHandle.nullDevice
        let log = LogBuffer()
        // Read on a thread of its own, to the pipe's end, not through `readabilityHandler`: its
        // dispatch sources crashed libdispatch's event loop now and then while daemons started.
        let errors = errorPipe.fileHandleForReading
        Thread.detachNewThread {
            while let data = readAvailable(errors), !data.isEmpty { log.append(String(decoding: data, as: UTF8.self)) }
        }
        let exit = self.exit
        process.terminationHandler = { _ in exit.instant.withLock { $0 = .now } }
        try process.run()
        self.process = process
        self.log = log
        var found: Int?
        for _ in 0..<400 {
            found = Self.listeningPort(in: log.text)
            if found != nil || !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        guard let found else {
            process.terminate()
            throw DaemonError.didNotStart(log.text)
        }
        self.port = found
    }

    private static func listeningPort(in log: String) -> Int? {
        for line in log.split(separator: "\n") where line.contains("msg=\"SMTP listening\"") {
            if let range = line.range(of: "smtp.port=") {
                return Int(line[range.upperBound...].prefix { $0.isNumber })
            }
        }
        return nil
    }

    /// Everything the daemon logged so far.
    var logText: String { log.text }

    var isRunning: Bool { process.isRunning }

    /// When the process ended, or `nil` while it runs.
    var exitedAt: ContinuousClock.Instant? { exit.instant.withLock { $0 } }

    var pid: Int32 { process.processIdentifier }

    /// Sends a signal and waits for the process to end; returns its exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(20)) async -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    /// Files the spool holds, by name.
    func spooledMessages() -> [String: Data] {
        let folder = dataDirectory + "/spool/new"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        var result: [String: Data] = [:]
        for name in names {
            result[name] = FileManager.default.contents(atPath: folder + "/" + name)
        }
        return result
    }

    /// Names left in the temporary folders (partial content).
    func temporaryFiles() -> [String] {
        ["/tmp", "/spool/tmp"].flatMap { (try? FileManager.default.contentsOfDirectory(atPath: dataDirectory + $0)) ?? [] }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
    }
}

/// Text appended from the pipe reader's thread and read from the tests.
final class LogBuffer: Sendable {
    private let storage = Mutex("")

    func append(_ text: String) { storage.withLock { $0 += text } }

    var text: String { storage.withLock { $0 } }
}

enum DaemonError: Error, CustomStringConvertible {
    case didNotStart(String)

    var description: String {
        switch self {
        case .didNotStart(let log): return "intaked did not start listening; its log:\n\(log)"
        }
    }
}

/// Runs a command to completion and returns its exit status and output. A command still running
/// after `timeout` is ended (SIGTERM), so that a test never waits for ever.
@discardableResult
func runCommand(
    _ executable: String, _ arguments: [String], input: String? = nil, environment: [String: String]? = nil,
    timeout: Duration? = nil
) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
    let outputPipe = Pipe()
    let errorPipe = Pipe()
    process.standardOutput = outputPipe
    process.standardError = errorPipe
    let inputPipe = Pipe()
    process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
    try process.run()
    let pid = process.processIdentifier
    let watchdog = DispatchWorkItem { kill(pid, SIGTERM) }
    if let timeout {
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(timeout.components.seconds * 1000)), execute: watchdog)
    }
    defer { watchdog.cancel() }
    if let input {
        inputPipe.fileHandleForWriting.write(Data(input.utf8))
        try inputPipe.fileHandleForWriting.close()
    }
    let errorReader = Thread.detachedReader(errorPipe.fileHandleForReading)
    let output = outputPipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self), errorReader.wait())
}

/// ``runCommand(_:_:input:environment:timeout:)`` on a thread of its own, for a command that takes
/// seconds: waiting for it does not hold one of the few threads every test's tasks run on (a
/// test that blocked one for ten seconds slowed the whole suite, and Postfix's tests met their
/// time limit). A command still running after `timeout` is ended.
func runCommandDetached(
    _ executable: String, _ arguments: [String], input: String? = nil, timeout: Duration? = .seconds(60)
) async throws -> (status: Int32, output: String, error: String) {
    try await onThreadOfItsOwn { try runCommand(executable, arguments, input: input, timeout: timeout) }
}

/// Runs `body` on a thread of its own: blocking calls and sleeps in it are timed by the clock,
/// not stretched by other tests that keep Swift's few cooperative threads busy.
func onThreadOfItsOwn<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// Finds a program on PATH, or records an issue that says how to install it.
func requireTool(_ name: String, package: String) -> String? {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") + [
        "/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin",
    ] {
        let path = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    Issue.record("\(name) is not installed: apt-get install -y \(package) (.ci/run does this)")
    return nil
}

extension Thread {
    /// Reads a pipe to its end on a thread of its own, so two pipes cannot deadlock each other.
    final class PipeReader: @unchecked Sendable {
        // Safe: `data` is written once by the reader thread before `done` is signalled, and read
        // only after waiting on `done`.
        private var data = Data()
        private let done = DispatchSemaphore(value: 0)

        init(_ handle: FileHandle) {
            Thread.detachNewThread { [self] in
                data = handle.readDataToEndOfFile()
                done.signal()
            }
        }

        func wait() -> String {
            done.wait()
            return String(decoding: data, as: UTF8.self)
        }
    }

    static func detachedReader(_ handle: FileHandle) -> PipeReader { PipeReader(handle) }
}

/// Another program (Python's sqlite3) holding a lock on an SQLite database until ``release()``.
final class SQLiteLockHolder: Sendable {
    private let process: Process

    /// Takes the lock: the write lock (`BEGIN IMMEDIATE`: readers go on), or with `everyone`
    /// the whole file in exclusive locking mode (readers too; in WAL mode a plain exclusive
    /// transaction leaves readers in).
    init(_ database: String, everyone: Bool = false) throws {
        let statements =
            everyone ? "c.execute('PRAGMA locking_mode=EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE')" : "c.execute('BEGIN IMMEDIATE')"
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); \(statements); print('locked', flush=True); time.sleep(60)",
            database,
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let said = String(decoding: readAvailable(output.fileHandleForReading) ?? Data(), as: UTF8.self)
        guard said.hasPrefix("locked") else {
            release()
            throw DaemonError.didNotStart("the lock holder did not take the lock on \(database)")
        }
    }

    /// Ends the holder, and so its lock, and waits for it: with SIGKILL, as under the test
    /// runner `terminate()` (SIGTERM) left it holding the lock. Again, it does nothing.
    func release() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// What can be read from `handle`, up to 64 KiB, waiting for it: empty at its end or on an error
/// (`nil` only for a non-blocking descriptor with nothing there yet). Foundation's `availableData`
/// stops the test process with a fatal error when a signal interrupts the read (EINTR); this reads
/// again instead.
func readAvailable(_ handle: FileHandle) -> Data? {
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
        if count >= 0 { return Data(buffer[..<count]) }
        if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
        if errno != EINTR { return Data() }
    }
}
