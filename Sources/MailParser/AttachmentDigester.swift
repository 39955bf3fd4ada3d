#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Digests of file parts taken while a message arrived, by the range of octets of each part's
/// encoded body in the message (``AttachmentDigester``).
public struct PrecomputedDigests: Sendable, Hashable {
    /// One file part's digest, and whether its base64 was defective.
    struct Entry: Sendable, Hashable {
        var digest: ContentDigestValue
        var defective: Bool
    }

    var entries: [Range<Int>: Entry] = [:]

    /// None.
    public init() {}

    /// How many parts were digested.
    public var count: Int { entries.count }
}

/// Finds the base64 file parts of a message as its octets arrive, piece by piece, and decodes and
/// hashes each as a parse for storage would, so that the parse at the end of data takes those
/// digests instead of decoding and hashing again (``MailMessage/parse(_:limits:digestingAttachmentsWith:precomputed:)``).
///
/// It follows the multipart structure line by line: header sections that end in a blank line,
/// boundaries (RFC 2046 §5.1.1) of every enclosing multipart, base64 bodies of parts that are
/// neither text nor messages. Whatever it does not follow (a header section that ends without its
/// blank line, a boundary that never appears, an enclosed message, an over-long header or
/// boundary-like line) yields no digest, and the parse computes that one itself. The parse takes a
/// digest only for a body whose exact range it found too: the digest is of those octets, however
/// they were found.
public struct AttachmentDigester<Digest: ContentDigest> {
    private enum Mode {
        /// In an entity's header section.
        case headers
        /// In a body that is not hashed (a preamble, an epilogue, a part that is not a file).
        case skip
        /// In a base64 file body, decoded and hashed as it arrives.
        case digest
    }

    /// The longest line kept whole (a header section, or a line that may be a boundary).
    static var maxKeptLine: Int { 4 * 1024 }
    /// The longest header section followed.
    static var maxHeaderSection: Int { 256 * 1024 }

    private var mode = Mode.headers
    /// The boundaries of the multiparts whose parts are being read, outermost first, and whether
    /// each is a multipart/digest (whose parts are messages unless they say otherwise).
    private var boundaries = BoundaryStack()
    private var isDigest: [Bool] = []
    private var defaultType = ContentType.default
    /// Octets consumed so far: the offset of the next one.
    private var offset = 0
    /// The current line's start, and its octets while it is kept whole.
    private var lineStart = 0
    private var line: [UInt8] = []
    /// Whether the current line is kept whole (else it streams to the body).
    private var keepingLine = false
    /// Whether the next octet starts a line.
    private var atLineStart = true
    /// The two octets before the current line (for where a body ends before a boundary line).
    private var beforeLine: (UInt8, UInt8) = (0, 0)
    private var lastTwo: (UInt8, UInt8) = (0, 0)
    private var headerSection: [UInt8] = []
    private var bodyStart = 0
    private var hasher = Digest()
    private var decoder = Base64.Decoder()
    private var decodedSize = 0
    private var scratch: [UInt8] = []
    private var results = PrecomputedDigests()
    /// Set once the message went where it is not followed: nothing more is recorded.
    private var lost = false

    public init() {}

    /// Takes the next piece of the message.
    public mutating func consume(_ piece: UnsafeRawBufferPointer) {
        guard let base = piece.baseAddress else { return }
        let count = piece.count
        var start = 0
        while start < count && !lost {
            if keepingLine {
                // A line kept whole until its LF: a header line, or one that may be a boundary.
                let found = memchr(base + start, CInt(ASCII.lf), count - start)
                let stop = found.map { UnsafeRawPointer($0) - base + 1 } ?? count
                let bytes = UnsafeRawBufferPointer(rebasing: piece[start..<stop])
                line.append(contentsOf: bytes)
                advance(bytes)
                start = stop
                if found != nil {
                    keepingLine = false
                    wholeLine(ended: true)
                    startLine()
                } else if mode != .headers && line.count >= 2 && !(line[0] == ASCII.dash && line[1] == ASCII.dash) {
                    // Not a boundary line: the rest of it is body.
                    keepingLine = false
                    if mode == .digest { line.withUnsafeBytes { decode($0) } }
                } else if line.count > Self.maxKeptLine && mode != .headers || headerSection.count + line.count > Self.maxHeaderSection {
                    lost = true
                }
                continue
            }
            if atLineStart && (mode == .headers || piece[start] == ASCII.dash) {
                keepingLine = true
                atLineStart = false
                line.removeAll(keepingCapacity: true)
                continue
            }
            // Body up to the next line that starts with a dash: no boundary line can be in it.
            atLineStart = false
            let stop = Bytes.lineStartingWithDash(piece.assumingMemoryBound(to: UInt8.self), from: start + 1, end: count)
            let bytes = UnsafeRawBufferPointer(rebasing: piece[start..<stop])
            if mode == .digest { decode(bytes) }
            advance(bytes)
            start = stop
            if piece[stop - 1] == ASCII.lf { startLine() }
        }
    }

    /// The digests, once the message has ended.
    public mutating func finish() -> PrecomputedDigests {
        if !lost && keepingLine { wholeLine(ended: false) }
        // A body that runs to the end of the message (no boundary after it).
        if !lost && mode == .digest { record(end: offset) }
        return lost ? PrecomputedDigests() : results
    }

    /// The next octet starts a line.
    private mutating func startLine() {
        atLineStart = true
        lineStart = offset
        beforeLine = lastTwo
    }

    private mutating func advance(_ bytes: UnsafeRawBufferPointer) {
        offset += bytes.count
        if bytes.count >= 2 {
            lastTwo = (bytes[bytes.count - 2], bytes[bytes.count - 1])
        } else if bytes.count == 1 {
            lastTwo = (lastTwo.1, bytes[0])
        }
    }

    /// A line kept whole, with its LF unless the message ended without one.
    private mutating func wholeLine(ended: Bool) {
        let lineEnd = ended ? line.count - 1 : line.count
        if !boundaries.isEmpty, lineEnd >= 3, line[0] == ASCII.dash, line[1] == ASCII.dash {
            let boundaries = self.boundaries
            let match = line.withUnsafeBufferPointer { boundaries.match($0, lineStart: 0, lineEnd: lineEnd) }
            if let match {
                boundary(at: match.index, closing: match.closing)
                return
            }
        }
        switch mode {
        case .headers:
            if lineEnd == 0 || (lineEnd == 1 && line[0] == ASCII.cr) {
                endOfHeaderSection()
            } else {
                headerSection += line
            }
        case .digest:
            line.withUnsafeBytes { decode($0) }
        case .skip:
            break
        }
    }

    /// A boundary line of the multipart at `index` (0 outermost).
    private mutating func boundary(at index: Int, closing: Bool) {
        if mode == .digest {
            // The line break before a boundary line belongs to it (RFC 2046 §5.1.1).
            var end = lineStart
            if end > 0, beforeLine.1 == ASCII.lf {
                end -= 1
                if end > 0, beforeLine.0 == ASCII.cr { end -= 1 }
            }
            record(end: end)
        }
        // The multiparts inside the boundary's end with it, and a closing boundary ends its own.
        let kept = closing ? index : index + 1
        while boundaries.count > kept { boundaries.pop() }
        isDigest.removeLast(isDigest.count - kept)
        if closing {
            mode = .skip
        } else {
            defaultType = isDigest[index] ? .digestDefault : .default
            mode = .headers
            headerSection.removeAll(keepingCapacity: true)
        }
    }

    private mutating func endOfHeaderSection() {
        bodyStart = offset
        var defects = DefectList(limit: 0)
        let fields = headerSection.withUnsafeBufferPointer {
            HeaderParser.parse($0, from: 0, end: $0.count, boundaries: BoundaryStack(), defects: &defects).headers
        }
        headerSection.removeAll(keepingCapacity: true)
        var contentType = defaultType
        if let raw = fields.first("content-type")?.rawValue, let parsed = ContentType(headerValue: raw) {
            contentType = parsed
        }
        let encoding = TransferEncoding(headerValue: fields.first("content-transfer-encoding")?.rawValue ?? "")
        if contentType.isMultipart, let boundary = contentType.boundary, !boundary.isEmpty {
            boundaries.push(Array(boundary.utf8))
            isDigest.append(contentType.subtype == "digest")
            mode = .skip
        } else if case .base64 = encoding, MIMEParser.isFile(contentType) {
            mode = .digest
            hasher = Digest()
            decoder = Base64.Decoder()
            decodedSize = 0
        } else {
            mode = .skip
        }
    }

    /// Input octets decoded per step: a session holds a small buffer for the decoded octets.
    static var decodeStep: Int { 8 * 1024 }

    private mutating func decode(_ bytes: UnsafeRawBufferPointer) {
        if scratch.isEmpty { scratch = [UInt8](repeating: 0, count: Base64.Decoder.room(for: Self.decodeStep)) }
        var start = 0
        while start < bytes.count {
            let stop = min(start + Self.decodeStep, bytes.count)
            var decoder = self.decoder
            let written = scratch.withUnsafeMutableBufferPointer { output in
                decoder.decode(
                    UnsafeRawBufferPointer(rebasing: bytes[start..<stop]).assumingMemoryBound(to: UInt8.self), into: output.baseAddress!)
            }
            self.decoder = decoder
            scratch.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<written])) }
            decodedSize += written
            start = stop
        }
    }

    private mutating func record(end: Int) {
        let digest = ContentDigestValue(size: decodedSize, sha256: hasher.finalizeHex())
        results.entries[bodyStart..<max(bodyStart, end)] = .init(digest: digest, defective: decoder.finish())
        mode = .skip
    }
}

extension AttachmentDigester: Sendable where Digest: Sendable {}
