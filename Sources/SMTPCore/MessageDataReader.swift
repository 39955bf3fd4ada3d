#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Frames the message content after DATA, incrementally, dot-unstuffed, up to the line that is a
/// single dot.
///
/// In the body, the lines that need nothing done (no leading dot, CRLF only at their end, within
/// the limits) come out together, in runs of up to ``maxRunLength`` octets found with `memchr`: a
/// 2 MB attachment is about 130 frames, not 27,000. The header section, and any line with a
/// leading dot, a bare CR or LF, or over a limit, come out one line at a time.
///
/// - Only `CRLF . CRLF` ends the data (RFC 5321 §4.1.1.4). A bare CR or LF never ends a line: it
///   stays in place, and the message is refused once its real end is reached (RFC 5321 §2.3.8).
///   So `\n.\n`, `\r.\r` and their kin can never smuggle a second message.
/// - A leading dot is removed from every line that has one (RFC 5321 §4.5.2).
/// - A line over the line limit, or content over the size limit, is not kept: the rest is read and
///   dropped as it arrives, so memory stays bounded, and the message is refused at its end.
public struct MessageDataReader: Sendable {
    /// One framed piece of the message.
    public enum Frame: Hashable, Sendable {
        /// One or more whole lines of content with their CRLFs, dot-unstuffed. How lines are
        /// grouped depends on how the bytes arrived; the content does not.
        case content(ByteBuffer)
        /// The end of the data; what was read.
        case end(MessageDataSummary)
    }

    /// The longest run of lines in one frame (a run holds at least one line), so that whoever
    /// collects the content in buffers of a fixed size overshoots them by little.
    public static let maxRunLength = 16 * 1024

    private let maxLineLength: Int
    private let maxMessageSize: Int
    private var summary = MessageDataSummary()
    /// Lines dropped since the reader was made: after a violation, lines are read to the end of
    /// the data and dropped without a frame; so is a line over the limit, counted once per
    /// `maxLineLength` octets of it. The session counts them as progress, as it does frames.
    public private(set) var droppedLines = 0
    /// Octets of the overlong line being dropped, not yet counted in ``droppedLines``.
    private var overlongOctets = 0
    private var inHeaderSection = true
    /// Whether the bytes at the front of the buffer continue a line whose start was dropped.
    private var inOverlongLine = false

    /// Creates a reader with the given limits, in octets.
    public init(maxLineLength: Int, maxMessageSize: Int) {
        self.maxLineLength = maxLineLength
        self.maxMessageSize = maxMessageSize
    }

    /// Frames the next line or the end, consuming its bytes; `nil` when more bytes are needed.
    ///
    /// After `.end` the reader starts over for the next message.
    public mutating func next(from buffer: inout ByteBuffer) -> Frame? {
        if !inHeaderSection && !inOverlongLine && summary.violation == nil {
            let run = plainLines(in: buffer)
            if run > 0 {
                summary.size += run
                return .content(buffer.readSlice(length: run)!)
            }
        }
        while true {
            let found = buffer.withUnsafeReadableBytes { CommandLineReader.findCRLF(in: $0) }
            guard let (end, bare) = found else {
                // Without its LF the line is at least one octet longer than what is here; a
                // leading dot added for transparency does not count (RFC 5321 §4.5.3.1.6).
                let stuffed = buffer.readableBytesView.first == UInt8(ascii: ".") ? 1 : 0
                if inOverlongLine || buffer.readableBytes >= maxLineLength + stuffed {
                    noteViolation(.lineTooLong)
                    inOverlongLine = true
                    let keep = buffer.readableBytesView.last == UInt8(ascii: "\r") ? 1 : 0
                    dropOverlong(buffer.readableBytes - keep, from: &buffer)
                }
                return nil
            }
            let length = end + 1
            if inOverlongLine {
                inOverlongLine = false
                dropOverlong(length, from: &buffer)
                overlongOctets = 0
                droppedLines += 1
                continue
            }
            let view = buffer.readableBytesView
            let first = view.first!
            if length == 3 && first == UInt8(ascii: ".") {
                buffer.moveReaderIndex(forwardBy: 3)
                let result = summary
                let dropped = droppedLines
                self = MessageDataReader(maxLineLength: maxLineLength, maxMessageSize: maxMessageSize)
                droppedLines = dropped
                return .end(result)
            }
            if bare { noteViolation(.bareLineEnding) }
            let stuffed = first == UInt8(ascii: ".") ? 1 : 0
            if length - stuffed > maxLineLength { noteViolation(.lineTooLong) }
            if inHeaderSection { noteHeaderLine(view.prefix(length)) }
            summary.size += length - stuffed
            if summary.size > maxMessageSize { noteViolation(.messageTooLarge) }
            guard summary.violation == nil else {
                buffer.moveReaderIndex(forwardBy: length)
                droppedLines += 1
                continue
            }
            buffer.moveReaderIndex(forwardBy: stuffed)
            return .content(buffer.readSlice(length: length - stuffed)!)
        }
    }

    /// The length of the run of whole lines at the front of `buffer` that are kept as they are:
    /// none starts with a dot, each ends in CRLF with no other CR or LF, none is over the line
    /// limit, and together they stay within the size limit.
    private func plainLines(in buffer: ByteBuffer) -> Int {
        buffer.withUnsafeReadableBytes { bytes in
            guard let base = bytes.baseAddress else { return 0 }
            var run = 0
            while run < bytes.count && bytes[run] != UInt8(ascii: ".") {
                guard let found = memchr(base + run, CInt(UInt8(ascii: "\n")), bytes.count - run) else { break }
                let end = UnsafeRawPointer(found) - base
                let length = end - run + 1
                guard length >= 2, bytes[end - 1] == UInt8(ascii: "\r"),
                    memchr(base + run, CInt(UInt8(ascii: "\r")), length - 2) == nil,
                    length <= maxLineLength, summary.size + run + length <= maxMessageSize,
                    run == 0 || run + length <= Self.maxRunLength
                else { break }
                run += length
            }
            return run
        }
    }

    /// Drops `count` octets of a line over the limit; they count towards the message's size, so
    /// that a message too large is refused as such, not for its long line.
    private mutating func dropOverlong(_ count: Int, from buffer: inout ByteBuffer) {
        buffer.moveReaderIndex(forwardBy: count)
        summary.size += count
        if summary.size > maxMessageSize { noteViolation(.messageTooLarge) }
        overlongOctets += count
        if overlongOctets >= maxLineLength {
            droppedLines += overlongOctets / maxLineLength
            overlongOctets %= maxLineLength
        }
    }

    private mutating func noteViolation(_ violation: MessageDataSummary.Violation) {
        if let current = summary.violation, current.precedence >= violation.precedence { return }
        summary.violation = violation
    }

    private mutating func noteHeaderLine(_ line: ByteBufferView.SubSequence) {
        if line.count == 2 {
            inHeaderSection = false
            return
        }
        let name = "received:".utf8
        guard line.count > name.count else { return }
        for (byte, expected) in zip(line, name) where byte | 0x20 != expected {
            _ = byte
            return
        }
        summary.receivedHeaderCount += 1
    }
}

/// What the reader saw in one message's data.
public struct MessageDataSummary: Hashable, Sendable {
    /// Why the message cannot be accepted as received.
    public enum Violation: Hashable, Sendable {
        /// A line held a bare CR or LF (RFC 5321 §2.3.8).
        case bareLineEnding
        /// A line was longer than the line limit (RFC 5321 §4.5.3.1.6).
        case lineTooLong
        /// The content was larger than the size limit (RFC 1870).
        case messageTooLarge

        var precedence: Int {
            switch self {
            case .lineTooLong: return 0
            case .bareLineEnding: return 1
            case .messageTooLarge: return 2
            }
        }
    }

    /// Octets of content after dot-unstuffing (counted up to the end even when not kept).
    public var size = 0
    /// `Received:` fields in the header section (RFC 5321 §4.4).
    public var receivedHeaderCount = 0
    /// The first reason to refuse the message, if any.
    public var violation: Violation?

    /// An empty summary.
    public init(size: Int = 0, receivedHeaderCount: Int = 0, violation: Violation? = nil) {
        self.size = size
        self.receivedHeaderCount = receivedHeaderCount
        self.violation = violation
    }
}
