#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A blocking client of the admin socket, for `intakectl` and tests: one connection, requests
/// answered in order. Not for event-loop threads.
public final class AdminClient {
    /// Why the client could not talk to the daemon.
    public struct ConnectionError: Error, Sendable, CustomStringConvertible {
        /// `errno` of the failed call, when there is one.
        public var code: Int32?
        public var description: String
    }

    public let socketPath: String
    private var descriptor: Int32
    private var lines = AdminLineBuffer()
    private var nextID: Int64 = 1

    /// Connects to the socket at `path`. `timeout` bounds each read and write.
    public init(socketPath path: String, timeout: Duration = .seconds(30)) throws(ConnectionError) {
        socketPath = path
        #if canImport(Glibc)
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        descriptor = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw ConnectionError(code: errno, description: "cannot create a socket: \(Self.errorText(errno))") }
        var seconds = timeval()
        seconds.tv_sec = .init(timeout.components.seconds)
        seconds.tv_usec = .init(timeout.components.attoseconds / 1_000_000_000_000)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &seconds, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &seconds, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        // Each failure below closes the socket and marks it closed: `self` is whole by then, so
        // `deinit` runs after the throw, and a second close could close another thread's new
        // descriptor of the same number.
        guard pathBytes.count < capacity else {
            _ = posixClose(descriptor)
            descriptor = -1
            throw ConnectionError(code: nil, description: "the socket path \(path) is longer than \(capacity - 1) octets")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let code = errno
            _ = posixClose(descriptor)
            descriptor = -1
            throw ConnectionError(code: code, description: Self.connectProblem(path: path, code: code))
        }
    }

    deinit {
        if descriptor >= 0 { _ = posixClose(descriptor) }
    }

    /// Closes the connection.
    public func close() {
        if descriptor >= 0 {
            _ = posixClose(descriptor)
            descriptor = -1
        }
    }

    /// Sends a request and waits for its response.
    public func call(_ command: String, _ params: [String: JSONValue] = [:]) throws(ConnectionError) -> AdminResponse {
        let id = nextID
        nextID += 1
        let line: [UInt8]
        do {
            line = try AdminFraming.encodeLine(AdminRequest(id: .int(id), command: command, params: params))
        } catch {
            throw ConnectionError(code: nil, description: "cannot encode the request: \(error)")
        }
        try send(line)
        guard let response = try readResponse() else {
            throw ConnectionError(code: nil, description: "the daemon closed the connection without answering")
        }
        return response
    }

    /// Writes raw bytes (a request line, or anything a test wants to send).
    public func send(_ bytes: [UInt8]) throws(ConnectionError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { raw in
                posixSend(descriptor, raw.baseAddress, raw.count)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw ConnectionError(code: errno, description: "cannot write to \(socketPath): \(Self.errorText(errno))")
            }
            offset += written
        }
    }

    /// Reads the next response line; `nil` when the daemon closed the connection.
    public func readResponse() throws(ConnectionError) -> AdminResponse? {
        guard let line = try readLine() else { return nil }
        do {
            return try AdminFraming.decodeResponse(line)
        } catch {
            throw ConnectionError(code: nil, description: "the daemon's answer is not an admin response: \(error)")
        }
    }

    /// Reads the next line; `nil` at the end of the stream.
    public func readLine() throws(ConnectionError) -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            switch lines.next() {
            case .line(let line): return line
            case .tooLong: throw ConnectionError(code: nil, description: "the daemon's answer is longer than 1 MiB")
            case .needMoreBytes: break
            }
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                let code = errno
                let timedOut = code == EAGAIN || code == EWOULDBLOCK
                throw ConnectionError(
                    code: code, description: timedOut ? "no answer from \(socketPath) in time" : "cannot read: \(Self.errorText(code))")
            }
            if count == 0 { return nil }
            lines.append(chunk[..<count])
        }
    }

    static func connectProblem(path: String, code: Int32) -> String {
        var status = stat()
        if code != ENOENT, stat(path, &status) == 0, status.st_mode & S_IFMT != S_IFSOCK {
            let kind = status.st_mode & S_IFMT == S_IFDIR ? "a folder" : "a file"
            return
                "\(path) is \(kind), not a socket: --socket (or INTAKE_ADMIN_SOCKET) names the admin socket, admin.sock in the data folder by default"
        }
        switch code {
        case ENOENT:
            return
                "no admin socket at \(path): is intaked running, with delivery=filing? (pick the socket with --socket or INTAKE_ADMIN_SOCKET)"
        case EACCES, EPERM:
            return "permission denied on \(path): run as root, as the daemon's user or as a member of its admin.group"
        case ECONNREFUSED:
            return "nothing answers on \(path): intaked is not running (the file is left from an earlier run)"
        default:
            return "cannot connect to \(path): \(errorText(code))"
        }
    }

    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
}

// File-scope wrappers: inside `AdminClient` the names `close` and `send` are its own methods.
private func posixClose(_ descriptor: Int32) -> Int32 { close(descriptor) }

private func posixSend(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    send(descriptor, bytes, count, Int32(MSG_NOSIGNAL))
    #else
    send(descriptor, bytes, count, 0)
    #endif
}
