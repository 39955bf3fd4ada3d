import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A reply as read off the wire: its code and its lines (without the code).
struct WireReply: CustomStringConvertible, Sendable {
    var code: Int
    var lines: [String]

    /// "code enhanced" of the last line, e.g. "550 5.7.1", or just the code.
    var summary: String {
        let text = lines.last ?? ""
        let first = text.split(separator: " ").first.map(String.init) ?? ""
        let isEnhanced = first.split(separator: ".").count == 3 && first.allSatisfy { $0.isNumber || $0 == "." }
        return isEnhanced ? "\(code) \(first)" : "\(code)"
    }

    var description: String { "\(code) \(lines.joined(separator: " | "))" }
}

enum RawClientError: Error {
    case connectFailed(Int32)
    case closed
    case timeout
    case malformed(String)
}

/// A blocking TCP client on the loopback address, for exact byte-level conversations with the
/// daemon: pipelining, hostile input, dropped connections.
final class RawSMTPClient {
    private let descriptor: Int32
    private var buffer: [UInt8] = []

    /// Connects; `receiveBuffer` caps the socket's receive buffer (and so the window the server
    /// may fill while this client does not read).
    init(port: Int, timeoutSeconds: Int = 10, receiveBuffer: Int32? = nil) throws {
        // A local until connected: were `self` whole when the connect fails, `deinit` would close
        // the descriptor a second time, and with it whatever another test has opened since under
        // the same number.
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            close(descriptor)
            throw RawClientError.connectFailed(code)
        }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw RawClientError.closed }
            offset += written
        }
    }

    /// Reads one (possibly multi-line) reply.
    func readReply() throws -> WireReply {
        var lines: [String] = []
        while true {
            let line = try readLine()
            guard line.count >= 4, let code = Int(line.prefix(3)) else { throw RawClientError.malformed(line) }
            let separator = line[line.index(line.startIndex, offsetBy: 3)]
            lines.append(String(line.dropFirst(4)))
            if separator == " " { return WireReply(code: code, lines: lines) }
        }
    }

    /// Reads `count` replies.
    func readReplies(_ count: Int) throws -> [WireReply] {
        try (0..<count).map { _ in try readReply() }
    }

    /// Sends a command line and reads its reply.
    func command(_ line: String) throws -> WireReply {
        try send(line + "\r\n")
        return try readReply()
    }

    /// Whether the server closed the connection (reads until end of stream or timeout).
    func isClosedByServer() -> Bool {
        while true {
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
        }
    }

    /// Shuts down the sending side only (a TCP half-close): the server sees the end of its input
    /// and can still reply.
    func shutdownSending() {
        shutdown(descriptor, Int32(SHUT_WR))
    }

    /// Closes the connection abruptly.
    func abort() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        shutdown(descriptor, Int32(SHUT_RDWR))
    }

    private func readLine() throws -> String {
        while true {
            if let index = buffer.firstIndex(of: UInt8(ascii: "\n")), index > 0, buffer[index - 1] == UInt8(ascii: "\r") {
                let line = String(decoding: buffer[..<(index - 1)], as: UTF8.self)
                buffer.removeSubrange(...index)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count == 0 { throw RawClientError.closed }
            if count < 0 { throw errno == EAGAIN || errno == EWOULDBLOCK ? RawClientError.timeout : RawClientError.closed }
            buffer += chunk[..<count]
        }
    }
}

extension RawSMTPClient {
    /// A session past the greeting and EHLO.
    static func greeted(port: Int, helo: String = "client.test") throws -> RawSMTPClient {
        let client = try RawSMTPClient(port: port)
        _ = try client.readReply()
        _ = try client.command("EHLO \(helo)")
        return client
    }

    /// Opens a transaction from `a@example.org` to a dropbox and sends DATA (up to its 354).
    func startMessage(from: String = "a@example.org", to: String = "tok@dropbox.localhost") throws {
        _ = try command("MAIL FROM:<\(from)>")
        _ = try command("RCPT TO:<\(to)>")
        _ = try command("DATA")
    }
}
