import NIOCore

/// Frames command lines out of the bytes a client sends, incrementally.
///
/// Only CRLF ends a line (RFC 5321 §2.3.8): a bare LF or bare CR stays inside the line and makes it
/// invalid. A line longer than the limit is discarded as it arrives, so memory stays bounded, and
/// reported once its CRLF is seen.
public struct CommandLineReader: Sendable {
    /// One framed command line, or why there is none.
    public enum Line: Hashable, Sendable {
        /// A complete line, without its CRLF.
        case line(ByteBuffer)
        /// A line longer than the limit; its bytes were discarded.
        case tooLong
        /// A line holding a bare CR or LF.
        case bareLineEnding
    }

    /// The longest line accepted, in octets including CRLF.
    public let maxLength: Int
    private var discarding = false

    /// Creates a reader for lines of at most `maxLength` octets including CRLF.
    public init(maxLength: Int) {
        self.maxLength = maxLength
    }

    /// Frames the next line, consuming its bytes; `nil` when more bytes are needed.
    public mutating func next(from buffer: inout ByteBuffer) -> Line? {
        let found: (end: Int, bare: Bool)? = buffer.withUnsafeReadableBytes { bytes in
            Self.findCRLF(in: bytes)
        }
        guard let (end, bare) = found else {
            if discarding || buffer.readableBytes >= maxLength {
                // Drop what cannot be part of an acceptable line; keep a trailing CR that may
                // start the CRLF.
                discarding = true
                let keep = buffer.readableBytesView.last == UInt8(ascii: "\r") ? 1 : 0
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes - keep)
            }
            return nil
        }
        if discarding || end + 1 > maxLength {
            discarding = false
            buffer.moveReaderIndex(forwardBy: end + 1)
            return .tooLong
        }
        let line = buffer.readSlice(length: end - 1)!
        buffer.moveReaderIndex(forwardBy: 2)
        return bare ? .bareLineEnding : .line(line)
    }

    /// The index of the LF of the first CRLF, and whether a bare CR or LF came before it.
    static func findCRLF(in bytes: UnsafeRawBufferPointer) -> (end: Int, bare: Bool)? {
        var bare = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") {
                if index > 0 && bytes[index - 1] == UInt8(ascii: "\r") { return (index, bare) }
                bare = true
            } else if byte == UInt8(ascii: "\r") {
                if index + 1 < bytes.count && bytes[index + 1] != UInt8(ascii: "\n") { bare = true }
            }
            index += 1
        }
        return nil
    }
}
