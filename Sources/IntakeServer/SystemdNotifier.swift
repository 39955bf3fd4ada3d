#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import ServiceLifecycle

/// Tells systemd about the daemon's state, the way `sd_notify(3)` does, without libsystemd.
///
/// With `Type=notify` in the unit, systemd sets `NOTIFY_SOCKET` to an `AF_UNIX` datagram socket: a
/// file system path, or an abstract-namespace name written with a leading `@` (`sd_notify(3)`,
/// "NOTES"). Each notification is one datagram of newline-separated `KEY=VALUE` assignments:
/// `READY=1` once the service is up, `STOPPING=1` when it begins to shut down, `STATUS=…` as a
/// free-form line shown by `systemctl status`, `WATCHDOG=1` to keep the watchdog from firing.
///
/// When `NOTIFY_SOCKET` is not set (the daemon run by hand, in tests, under another supervisor)
/// every method does nothing. Notifications are best-effort, as in `sd_notify(3)`: a failure is
/// logged and never stops the daemon. The environment is left as it is (`unset_environment` = 0).
public struct SystemdNotifier: Sendable {
    /// The socket from `NOTIFY_SOCKET`, or `nil` when notifications are off.
    public let socketPath: String?
    /// The watchdog timeout from `WATCHDOG_USEC` when the watchdog is meant for this process
    /// (`WATCHDOG_PID` unset or equal to our pid; `sd_watchdog_enabled(3)`).
    public let watchdogTimeout: Duration?
    private let logger: Logger?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the process environment.
    public init(logger: Logger? = nil) {
        var environment: [String: String] = [:]
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            if let value = getenv(key) { environment[key] = String(cString: value) }
        }
        self.init(environment: environment, logger: logger)
    }

    /// Uses the given environment instead of the process's (for tests).
    public init(environment: [String: String], logger: Logger? = nil) {
        self.logger = logger
        if let path = environment["NOTIFY_SOCKET"], path.hasPrefix("/") || path.hasPrefix("@") {
            socketPath = path
        } else {
            socketPath = nil
        }
        let forThisProcess = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
        if socketPath != nil, forThisProcess, let text = environment["WATCHDOG_USEC"], let microseconds = Int64(text),
            microseconds > 0
        {
            watchdogTimeout = .microseconds(microseconds)
        } else {
            watchdogTimeout = nil
        }
    }

    /// Whether `NOTIFY_SOCKET` is set, so notifications go anywhere.
    public var isEnabled: Bool { socketPath != nil }

    /// How often to send `WATCHDOG=1`: half the timeout, as `sd_watchdog_enabled(3)` recommends.
    public var watchdogPingInterval: Duration? { watchdogTimeout.map { $0 / 2 } }

    /// `READY=1`: start-up is finished (the SMTP listener is bound). systemd then considers the
    /// unit started, and `systemctl start` returns.
    public func ready(status: String? = nil) {
        notify(["READY=1"] + (status.map { ["STATUS=\(Self.oneLine($0))"] } ?? []))
    }

    /// `STOPPING=1`: a graceful shutdown has begun.
    public func stopping(status: String? = nil) {
        notify(["STOPPING=1"] + (status.map { ["STATUS=\(Self.oneLine($0))"] } ?? []))
    }

    /// `STATUS=…`: one line for `systemctl status`.
    public func status(_ text: String) {
        notify(["STATUS=\(Self.oneLine(text))"])
    }

    /// `WATCHDOG=1`: the service is alive.
    public func watchdog() {
        notify(["WATCHDOG=1"])
    }

    /// Sends the assignments as one datagram; logs a failure and otherwise does nothing.
    public func notify(_ assignments: [String]) {
        guard let socketPath else { return }
        let message = assignments.joined(separator: "\n")
        do {
            try Self.send(message, to: socketPath)
            logger?.trace("systemd notified", metadata: ["systemd.notify": "\(message.replacingNewlines())"])
        } catch {
            logger?.warning(
                "cannot notify systemd", metadata: ["systemd.notify": "\(message.replacingNewlines())", "error": "\(error)"])
        }
    }

    private static func oneLine(_ text: String) -> String { text.replacingNewlines() }

    /// Why a datagram could not be sent.
    public struct NotifyError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Sends `message` as one datagram to the `AF_UNIX` socket `path` (`@name`: abstract namespace).
    public static func send(_ message: String, to path: String) throws {
        #if os(Linux)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var name = Array(path.utf8)
        let abstract = name.first == UInt8(ascii: "@")
        if abstract { name[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        // A path needs room for its terminating NUL; an abstract name is counted by the length.
        guard name.count > (abstract ? 1 : 0), name.count <= (abstract ? capacity : capacity - 1) else {
            throw NotifyError(description: "NOTIFY_SOCKET \(path) is not a usable socket address")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: name) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + name.count + (abstract ? 0 : 1)

        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw NotifyError(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        // Never hang the daemon on a manager that stopped reading.
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        let bytes = Array(message.utf8)
        var sent = -1
        repeat {
            sent = bytes.withUnsafeBytes { buffer in
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), $0, socklen_t(length))
                    }
                }
            }
        } while sent < 0 && errno == EINTR
        guard sent == bytes.count else {
            throw NotifyError(description: "sendto \(path): \(sent < 0 ? String(cString: strerror(errno)) : "short write")")
        }
        #else
        throw NotifyError(description: "systemd notifications are only supported on Linux")
        #endif
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        String(map { $0 == "\n" || $0 == "\r" || $0 == "\r\n" ? " " : $0 })
    }
}

/// Sends `WATCHDOG=1` every half `WATCHDOG_USEC` while the service group runs, and `STOPPING=1`
/// as soon as the graceful shutdown starts (`sd_notify(3)`). `READY=1` is not its business: send
/// it with ``SystemdNotifier/ready(status:)`` once the listeners are bound.
///
/// Place it **last** in the `ServiceGroup`: the group shuts its services down in reverse order,
/// so this one sees the graceful shutdown first and reports `STOPPING=1` before the SMTP listener
/// starts draining. Its watchdog pings stop at that moment, so the unit's `WatchdogSec=` must be
/// longer than the drain (`shutdown.grace_seconds`); the shipped unit has `WatchdogSec=60`,
/// `TimeoutStopSec=45`, grace 30 s. Without `NOTIFY_SOCKET` it just waits for the shutdown.
public struct SystemdNotifierService: Service {
    private let notifier: SystemdNotifier

    public init(notifier: SystemdNotifier) {
        self.notifier = notifier
    }

    public func run() async throws {
        if let interval = notifier.watchdogPingInterval {
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                notifier.watchdog()
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            }
        } else {
            try? await gracefulShutdown()
        }
        if Task.isShuttingDownGracefully {
            notifier.stopping(status: "shutting down: finishing the messages being received")
        }
    }
}
