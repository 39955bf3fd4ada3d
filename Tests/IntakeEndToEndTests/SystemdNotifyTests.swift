import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `Type=notify`: the real daemon tells the socket in `NOTIFY_SOCKET` READY=1 once it listens,
/// STOPPING=1 when SIGTERM starts the graceful shutdown, and WATCHDOG=1 every half `WATCHDOG_USEC`
/// (sd_notify(3)). The test plays systemd's part with a datagram socket of its own.
@Suite struct SystemdNotifyTests {
    @Test(arguments: [false, true])
    func readyOnceListeningThenStoppingOnSIGTERM(abstract: Bool) async throws {
        let socket = try NotifySocket(abstract: abstract)
        let daemon = try await Daemon(environment: ["NOTIFY_SOCKET": socket.address])
        let ready = socket.receive(until: { $0.contains("READY=1") }, timeout: .seconds(5))
        #expect(ready.contains { $0.split(separator: "\n").contains("READY=1") }, "got \(ready)")
        #expect(!ready.joined().contains("STOPPING=1"))
        // READY=1 means the listener is bound: a client can connect at once.
        let client = try RawSMTPClient(port: daemon.port)
        #expect(try client.readReply().code == 220)
        _ = try? client.command("QUIT")

        let status = await daemon.stop(signal: SIGTERM)
        #expect(status == 0)
        let stopping = socket.receive(until: { $0.contains("STOPPING=1") }, timeout: .seconds(5))
        #expect(stopping.contains { $0.split(separator: "\n").contains("STOPPING=1") }, "got \(stopping)\n\(daemon.logText)")
    }

    @Test func watchdogPingsAtHalfTheTimeout() async throws {
        let socket = try NotifySocket(abstract: false)
        // 400 ms timeout: a ping every 200 ms.
        let daemon = try await Daemon(environment: ["NOTIFY_SOCKET": socket.address, "WATCHDOG_USEC": "400000"])
        var pings = 0
        let deadline = ContinuousClock.now + .seconds(5)
        while pings < 3 && ContinuousClock.now < deadline {
            pings += socket.receive(until: { _ in true }, timeout: .seconds(1)).filter { $0.contains("WATCHDOG=1") }.count
        }
        #expect(pings >= 3)
        await daemon.stop()
    }

    @Test func noNotifySocketNoNotifications() async throws {
        // A daemon without NOTIFY_SOCKET starts and stops as always (the other tests' case).
        let daemon = try await Daemon(environment: ["NOTIFY_SOCKET": ""])
        #expect(await daemon.stop() == 0)
    }
}

/// A bound `AF_UNIX` datagram socket standing in for systemd's notification socket.
final class NotifySocket: @unchecked Sendable {
    // Safe: the descriptor is set once in init and only read afterwards.
    /// What goes into `NOTIFY_SOCKET`: a path, or `@name` in the abstract namespace.
    let address: String
    private let descriptor: Int32
    private let path: String?

    init(abstract: Bool) throws {
        let name = "intake-notify-\(getpid())-\(UUID().uuidString.prefix(8))"
        path = abstract ? nil : NSTemporaryDirectory() + name + ".sock"
        address = abstract ? "@" + name : path!
        // A local until bound: were `self` whole when the bind fails, `deinit` would close the
        // descriptor a second time, and with it whatever another test has opened since under the
        // same number.
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var bytes = Array(address.utf8)
        if abstract { bytes[0] = 0 }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { $0.copyBytes(from: bytes) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + bytes.count + (abstract ? 0 : 1)
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(length)) }
        }
        guard bound == 0 else {
            let error = errno
            close(descriptor)
            throw POSIXError(.init(rawValue: error) ?? .EIO)
        }
        self.descriptor = descriptor
    }

    /// Datagrams received until one satisfies `done` or `timeout` passes.
    func receive(until done: (String) -> Bool, timeout: Duration) -> [String] {
        var received: [String] = []
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { continue }
            let datagram = String(decoding: buffer[0..<count], as: UTF8.self)
            received.append(datagram)
            if done(datagram) { break }
        }
        return received
    }

    deinit {
        close(descriptor)
        if let path { unlink(path) }
    }
}
