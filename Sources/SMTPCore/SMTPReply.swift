import NIOCore

/// A server reply: a three-digit code, an optional enhanced status code and one or more lines of text.
///
/// - SeeAlso: RFC 5321 §4.2 (reply codes and multi-line replies), RFC 2034 §3 (enhanced codes in
///   replies).
public struct SMTPReply: Hashable, Sendable, CustomStringConvertible {
    /// The reply code, 200…599.
    public var code: Int
    /// The enhanced status code; `nil` for replies that carry none (220 greeting, EHLO, 354).
    public var enhancedCode: EnhancedStatusCode?
    /// The text lines; a reply with several lines is sent as a multi-line reply.
    public var lines: [String]

    /// Creates a reply.
    public init(_ code: Int, _ enhancedCode: EnhancedStatusCode? = nil, _ lines: [String]) {
        precondition(!lines.isEmpty, "a reply has at least one line")
        self.code = code
        self.enhancedCode = enhancedCode
        self.lines = lines
    }

    /// Creates a single-line reply.
    public init(_ code: Int, _ enhancedCode: EnhancedStatusCode? = nil, _ text: String) {
        self.init(code, enhancedCode, [text])
    }

    /// Whether the code is 2xx or 3xx.
    public var isPositive: Bool { code < 400 }
    /// Whether the code is 4xx: the client may try again later.
    public var isTransientFailure: Bool { (400..<500).contains(code) }
    /// Whether the code is 5xx.
    public var isPermanentFailure: Bool { code >= 500 }

    /// The reply as it goes on the wire, each line ending in CRLF.
    public func write(to buffer: inout ByteBuffer) {
        for (index, line) in lines.enumerated() {
            buffer.writeString(String(code))
            buffer.writeInteger(index == lines.count - 1 ? UInt8(ascii: " ") : UInt8(ascii: "-"))
            if let enhancedCode {
                buffer.writeString(enhancedCode.description)
                buffer.writeInteger(UInt8(ascii: " "))
            }
            buffer.writeString(line)
            buffer.writeInteger(UInt8(ascii: "\r"))
            buffer.writeInteger(UInt8(ascii: "\n"))
        }
    }

    public var description: String {
        var buffer = ByteBuffer()
        write(to: &buffer)
        return String(buffer: buffer).replacingOccurrences(of: "\r\n", with: "\\r\\n")
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

extension SMTPReply {
    /// Not enough room to keep the message (the disk, a quota or the database is full): the sender
    /// retries later (RFC 5321 §4.2.3, 452; RFC 3463 §3.4, X.3.1 mail system full).
    public static let noStorage = SMTPReply(452, EnhancedStatusCode(4, 3, 1), "not enough storage to keep the message; try again later")
    /// Keeping the message failed for another reason: the sender retries later (RFC 5321 §4.2.3,
    /// 451; RFC 3463 §3.4, X.3.0 other or undefined mail system status).
    public static let storageFailed = SMTPReply(451, EnhancedStatusCode(4, 3, 0), "could not store the message; try again later")

    /// The reply to a failure to keep the message: ``noStorage`` when it failed for want of room,
    /// else ``storageFailed``.
    public static func storageFailure(outOfSpace: Bool) -> SMTPReply { outOfSpace ? .noStorage : .storageFailed }
}
