import Glibc

/// One MIME entity: its header fields, content type, and either children (multipart, or the
/// enclosed message of a `message/rfc822` part) or its content.
/// - SeeAlso: RFC 2045 (MIME header fields), RFC 2046 §5.1 (multipart), §5.2.1 (message/rfc822),
///   RFC 2183 (Content-Disposition), RFC 2392 (Content-ID).
public struct MIMEPart: Sendable, Hashable {
    public var headers: Headers
    public var contentType: ContentType
    public var disposition: ContentDisposition?
    public var transferEncoding: TransferEncoding
    /// The Content-ID without angle brackets.
    public var contentID: String?
    /// Children of a multipart; for `message/rfc822` the single root entity of the enclosed message.
    public var parts: [MIMEPart]
    /// The body bytes as they appear in the message (still transfer-encoded).
    public var rawBody: ArraySlice<UInt8>
    /// The body with its transfer encoding removed (empty for multipart and enclosed messages,
    /// and for a file in a parse that keeps digests: see ``contentDigest``).
    public var content: [UInt8]
    /// The decoded body's size and SHA-256, for a file part of a parse that keeps digests instead
    /// of bytes; `nil` otherwise.
    public var contentDigest: ContentDigestValue?

    /// An enclosed message (`message/rfc822`, `message/global`) with its entity parsed into `parts`.
    public var isEnclosedMessage: Bool {
        contentType.type == "message" && (contentType.subtype == "rfc822" || contentType.subtype == "global")
            && parts.count == 1
    }

    /// File name from Content-Disposition `filename`, else Content-Type `name` (RFC 2183 §2.3).
    public var filename: String? {
        if let f = disposition?.filename?.trimmingWhitespace(), !f.isEmpty { return f }
        if let f = contentType.parameters["name"]?.trimmingWhitespace(), !f.isEmpty { return f }
        return nil
    }

    /// Whether the leaf is an iCalendar object: `text/calendar` (RFC 5545 §8.1), the
    /// `application/ics` some clients label it with, or a file named `.ics`.
    public var isCalendar: Bool {
        let type = contentType.mimeType
        return type == "text/calendar" || type == "application/ics" || (filename?.lowercased().hasSuffix(".ics") ?? false)
    }

    /// Decoded text of a `text/*` leaf in its declared charset.
    public var text: String { textDecoding.text }

    /// An HTML part without a charset parameter is read in the charset its `<meta>` declares,
    /// unless it is valid UTF-8 (a stale `iso-8859-1` left in a template) or the `<meta>` names
    /// UTF-16 or UTF-32, which a `<meta>` found by reading ASCII cannot be (as browsers read it).
    var textDecoding: Charset.Decoded {
        guard contentType.charset == nil, contentType.subtype == "html", let declared = HTMLText.metaCharset(content) else {
            return Charset.decode(content, label: contentType.charset ?? "")
        }
        let name = Charset.canonicalName(declared) ?? ""
        let wide = ["UTF-16", "UTF-32", "UCS", "UNICODE"].contains { name.hasPrefix($0) }
        if wide || String(validating: content, as: UTF8.self) != nil { return Charset.decode(content, label: "utf-8") }
        return Charset.decode(content, label: declared)
    }

    /// The same entity and descendants with their header fields and structure but without their
    /// bodies (``rawBody`` and ``content`` empty), so that they no longer hold the message's bytes.
    public func droppingBodies() -> MIMEPart {
        var lean = self
        lean.rawBody = []
        lean.content = []
        lean.contentDigest = nil
        lean.parts = parts.map { $0.droppingBodies() }
        return lean
    }

    /// Depth-first walk over this entity and all its descendants.
    public func walk(_ body: (MIMEPart) -> Void) {
        var stack: [MIMEPart] = [self]
        while let p = stack.popLast() {
            body(p)
            stack.append(contentsOf: p.parts.reversed())
        }
    }
}

/// Boundaries of the enclosing multiparts, innermost last.
struct BoundaryStack {
    private(set) var items: [[UInt8]] = []

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }

    mutating func push(_ b: [UInt8]) { items.append(b) }
    mutating func pop() { _ = items.popLast() }

    /// Whether the line is `--boundary` or `--boundary--` (trailing whitespace allowed) for a
    /// boundary on the stack; returns its index (innermost first match) and whether it closes.
    /// - SeeAlso: RFC 2046 §5.1.1.
    func match(_ buf: UnsafeBufferPointer<UInt8>, lineStart: Int, lineEnd: Int) -> (index: Int, closing: Bool)? {
        guard lineEnd - lineStart >= 3, buf[lineStart] == ASCII.dash, buf[lineStart + 1] == ASCII.dash else { return nil }
        var e = lineEnd
        while e > lineStart + 2, ASCII.isSpace(buf[e - 1]) { e -= 1 }
        let s = lineStart + 2
        let len = e - s
        guard let base = buf.baseAddress else { return nil }
        var idx = items.count - 1
        while idx >= 0 {
            let b = items[idx]
            let bl = b.count
            if len == bl || (len == bl + 2 && buf[e - 1] == ASCII.dash && buf[e - 2] == ASCII.dash) {
                let same = b.withUnsafeBufferPointer { memcmp(base + s, $0.baseAddress!, bl) == 0 }
                if same { return (idx, len == bl + 2) }
            }
            idx -= 1
        }
        return nil
    }
}

/// Builds the MIME tree in one pass over the bytes: every line is looked at by the innermost
/// open entity only, so the work stays linear, and depth is bounded by ``MailParserLimits``.
struct MIMEParser {
    let bytes: [UInt8]
    let buf: UnsafeBufferPointer<UInt8>
    let end: Int
    let limits: MailParserLimits
    /// Set when file parts are to be hashed as they are decoded, not kept.
    var digest: (any ContentDigest.Type)?
    /// Digests taken as the message arrived, by body range (only for the message's own octets).
    var precomputed = PrecomputedDigests()
    var pos = 0
    var partCount = 0
    var defects: DefectList
    var stack = BoundaryStack()

    init(bytes: [UInt8], buf: UnsafeBufferPointer<UInt8>, limits: MailParserLimits, defects: DefectList) {
        self.bytes = bytes
        self.buf = buf
        self.end = buf.count
        self.limits = limits
        self.defects = defects
    }

    /// Parses a whole message.
    static func parse(
        _ bytes: [UInt8], limits: MailParserLimits, defects: inout DefectList, depth: Int = 0, digest: (any ContentDigest.Type)? = nil,
        precomputed: PrecomputedDigests = PrecomputedDigests()
    ) -> MIMEPart {
        bytes.withUnsafeBufferPointer { buf in
            var p = MIMEParser(bytes: bytes, buf: buf, limits: limits, defects: defects)
            p.digest = digest
            p.precomputed = precomputed
            let root = p.parseEntity(depth: depth, defaultType: .default)
            defects = p.defects
            return root
        }
    }

    /// Reads an entity's header section into a part without a body yet; `nil` when the header
    /// section ended on a boundary line (the part is then complete and empty).
    /// Kept out of the recursive `parseEntity` so its stack frame stays small.
    @inline(never)
    mutating func entityHeader(defaultType: ContentType) -> (part: MIMEPart, complete: Bool) {
        let header = HeaderParser.parse(buf, from: pos, end: end, boundaries: stack, defects: &defects)
        pos = header.bodyStart
        var headers = header.headers
        var contentType = defaultType
        if let raw = headers.first("content-type")?.rawValue {
            if let ct = ContentType(headerValue: raw) {
                contentType = ct
            } else {
                defects.add(.invalidContentType, "unreadable Content-Type; using the default")
            }
        }
        if headers.holdsUndecodedEightBit, let charset = contentType.charset { headers = headers.readingEightBit(as: charset) }
        let cte = TransferEncoding(headerValue: headers.first("content-transfer-encoding")?.rawValue ?? "")
        let disposition = headers.first("content-disposition").map { ContentDisposition(headerValue: $0.rawValue) }
        var contentID = headers.first("content-id")?.rawValue.trimmingWhitespace()
        if let c = contentID {
            contentID = String(c.drop { $0 == "<" }.reversed().drop { $0 == ">" }.reversed())
        }
        let part = MIMEPart(
            headers: headers, contentType: contentType, disposition: disposition, transferEncoding: cte,
            contentID: contentID, parts: [], rawBody: bytes[pos..<pos], content: [])
        return (part, header.stoppedAtBoundary)
    }

    mutating func parseEntity(depth: Int, defaultType: ContentType) -> MIMEPart {
        partCount += 1
        var (part, complete) = entityHeader(defaultType: defaultType)
        if complete { return part }
        // A saved message attached as a file (`Quote.eml`, `application/octet-stream`): read as
        // the message it is, as Outlook and Thunderbird read it, when it starts as one.
        let declaredType = part.contentType
        let messageFile = Self.isMessageFile(part)
        if messageFile { part.contentType = ContentType(type: "message", subtype: "rfc822", parameters: declaredType.parameters) }
        let contentType = part.contentType
        let cte = part.transferEncoding

        let tooDeep = depth >= limits.maxMIMEDepth
        let tooMany = partCount >= limits.maxParts
        if contentType.isMultipart {
            guard let boundary = contentType.boundary, !boundary.isEmpty else {
                defects.add(.missingBoundary, "multipart without a boundary read as text")
                return leaf(part)
            }
            if tooDeep || tooMany {
                defects.add(
                    tooDeep ? .nestingTooDeep : .tooManyParts,
                    tooDeep ? "MIME nesting deeper than \(limits.maxMIMEDepth) read as opaque" : "more than \(limits.maxParts) parts")
                return leaf(part)
            }
            let start = pos
            part.parts = parseMultipart(
                boundary: Array(boundary.utf8), depth: depth,
                digest: contentType.subtype == "digest")
            if part.parts.isEmpty, let guess = guessBoundary(from: start, to: pos), guess != Array(boundary.utf8) {
                // The declared boundary never appears but the body is clearly split by another one.
                pos = start
                part.parts = parseMultipart(boundary: guess, depth: depth, digest: contentType.subtype == "digest")
            }
            if part.parts.isEmpty {
                pos = start
                return leaf(part)  // read as text by the body selector
            }
            part.rawBody = bytes[start..<(pos < end ? max(start, contentEnd(beforeLine: pos)) : end)]
            if part.headers.holdsUndecodedEightBit, let charset = Self.firstTextCharset(part.parts) {
                part.headers = part.headers.readingEightBit(as: charset)
            }
            return part
        }
        if contentType.type == "message", contentType.subtype == "rfc822" || contentType.subtype == "global" {
            if tooDeep || tooMany {
                defects.add(tooDeep ? .nestingTooDeep : .tooManyParts, "enclosed message not parsed: limit reached")
                return leaf(part)
            }
            switch cte {
            case .base64, .quotedPrintable:
                part = leaf(part)
                if messageFile && !Self.startsLikeMessage(part.content[...]) {
                    part.contentType = declaredType
                    return part
                }
                var inner = defects
                part.parts = [MIMEParser.parse(part.content, limits: limits, defects: &inner, depth: depth + 1, digest: digest)]
                defects = inner
                return part
            case .sevenBit, .eightBit, .binary, .other:
                if messageFile && !Self.startsLikeMessage(bytes[pos..<min(end, pos + 1024)]) {
                    part.contentType = declaredType
                    return leaf(part)
                }
                let start = pos
                let child = parseEntity(depth: depth + 1, defaultType: .default)
                part.parts = [child]
                let stop = pos < end ? max(start, contentEnd(beforeLine: pos)) : end
                part.rawBody = bytes[start..<stop]
                part.content = Array(part.rawBody)
                return part
            }
        }
        return leaf(part)
    }

    /// The charset of the first `text/*` leaf among `parts`, depth first, not inside an
    /// enclosed message: what a multipart's own raw 8-bit header fields were likely written in.
    static func firstTextCharset(_ parts: [MIMEPart]) -> String? {
        for part in parts {
            if part.contentType.isMultipart {
                if let charset = firstTextCharset(part.parts) { return charset }
            } else if part.contentType.type == "text", let charset = part.contentType.charset {
                return charset
            }
        }
        return nil
    }

    /// Whether `part` is a saved message attached as a file: named `*.eml` and typed as no
    /// message, text or multipart (`application/octet-stream`, `application/x-eml`…).
    static func isMessageFile(_ part: MIMEPart) -> Bool {
        let type = part.contentType
        guard type.type == "application", let name = part.filename?.lowercased() else { return false }
        return name.hasSuffix(".eml")
    }

    /// Whether `bytes` begin as a message does: with a header field (`Name:`, RFC 5322 §2.2,
    /// field names of printable ASCII but the colon) or an mbox `From ` line.
    static func startsLikeMessage(_ bytes: ArraySlice<UInt8>) -> Bool {
        var i = bytes.startIndex
        while i < bytes.endIndex, bytes[i] == ASCII.cr || bytes[i] == ASCII.lf { i += 1 }
        if bytes[i...].starts(with: "From ".utf8) { return true }
        let nameStart = i
        while i < bytes.endIndex, bytes[i] > 0x20, bytes[i] < 0x7F, bytes[i] != ASCII.colon { i += 1 }
        return i > nameStart && i < bytes.endIndex && bytes[i] == ASCII.colon
    }

    /// Reads a leaf body up to the next boundary line of an enclosing multipart (or the end).
    mutating func leaf(_ part: MIMEPart) -> MIMEPart {
        var part = part
        let start = pos
        let contentEnd = scanToBoundary()
        part.rawBody = bytes[start..<contentEnd]
        if let digest, Self.isFile(part.contentType), !part.isCalendar {
            return digested(part, with: digest)
        }
        let (decoded, bad) = part.transferEncoding.decode(part.rawBody)
        if bad {
            switch part.transferEncoding {
            case .base64: defects.add(.invalidBase64, "invalid base64 characters skipped")
            default: defects.add(.invalidQuotedPrintable, "invalid quoted-printable kept literally")
            }
        }
        part.content = decoded
        return part
    }

    /// Whether a leaf is a file whose bytes nothing in the parse reads (not text, not a message,
    /// not a multipart read as text): a parse that keeps digests only hashes it, unless it is a
    /// calendar (``MIMEPart/isCalendar``), read for its people.
    static func isFile(_ type: ContentType) -> Bool {
        type.type != "text" && type.type != "message" && !type.isMultipart
    }

    /// The leaf with its body hashed as it is decoded, in pieces, instead of kept.
    mutating func digested(_ part: MIMEPart, with digest: any ContentDigest.Type) -> MIMEPart {
        var part = part
        var hasher = digest.init()
        let size: Int
        switch part.transferEncoding {
        case .base64:
            if let taken = precomputed.entries[part.rawBody.startIndex..<part.rawBody.endIndex] {
                if taken.defective { defects.add(.invalidBase64, "invalid base64 characters skipped") }
                part.contentDigest = taken.digest
                return part
            }
            let (decodedSize, bad) = Base64.decode(part.rawBody) { hasher.update($0) }
            if bad { defects.add(.invalidBase64, "invalid base64 characters skipped") }
            size = decodedSize
        case .quotedPrintable:
            let (decoded, bad) = QuotedPrintable.decode(part.rawBody)
            if bad { defects.add(.invalidQuotedPrintable, "invalid quoted-printable kept literally") }
            decoded.withUnsafeBytes { hasher.update($0) }
            size = decoded.count
        case .sevenBit, .eightBit, .binary, .other:
            part.rawBody.withUnsafeBytes { hasher.update($0) }
            size = part.rawBody.count
        }
        part.contentDigest = ContentDigestValue(size: size, sha256: hasher.finalizeHex())
        return part
    }

    /// Advances `pos` to the start of the next boundary line (or the end); returns where the
    /// content before it ends (the line break before a boundary belongs to the boundary).
    mutating func scanToBoundary() -> Int {
        if stack.isEmpty {
            pos = end
            return end
        }
        // A boundary line begins with a dash, so only lines that do are looked at.
        var ls = pos
        while ls < end {
            if buf[ls] == ASCII.dash {
                let lf = Bytes.indexOfLF(buf, from: ls, end: end)
                if lf - ls >= 3, stack.match(buf, lineStart: ls, lineEnd: lf) != nil {
                    let start = pos
                    pos = ls
                    return max(start, contentEnd(beforeLine: ls))
                }
            }
            ls = Bytes.lineStartingWithDash(buf, from: ls + 1, end: end)
        }
        pos = end
        return end
    }

    /// The boundary a body actually uses: its first `--token` line (RFC 2046 §5.1.1 token syntax).
    func guessBoundary(from: Int, to: Int) -> [UInt8]? {
        var ls = from
        while ls < to {
            let lf = Bytes.indexOfLF(buf, from: ls, end: to)
            var e = lf
            while e > ls, ASCII.isSpace(buf[e - 1]) { e -= 1 }
            if e - ls >= 3, e - ls <= 74, buf[ls] == ASCII.dash, buf[ls + 1] == ASCII.dash,
                !buf[ls..<e].contains(where: { $0 <= 0x20 || $0 >= 0x7F })
            {
                var candidate = Array(buf[(ls + 2)..<e])
                if candidate.count > 2, candidate.suffix(2) == [ASCII.dash, ASCII.dash] { candidate.removeLast(2) }
                return candidate.allSatisfy({ $0 == ASCII.dash }) ? nil : candidate
            }
            ls = lf < to ? lf + 1 : to
        }
        return nil
    }

    /// `lineStart` without the line break in front of it.
    func contentEnd(beforeLine lineStart: Int) -> Int {
        var ce = lineStart
        if ce > 0, buf[ce - 1] == ASCII.lf { ce -= 1 }
        if ce > 0, buf[ce - 1] == ASCII.cr { ce -= 1 }
        return ce
    }

    /// Reads the parts of a multipart whose headers were just read.
    mutating func parseMultipart(boundary: [UInt8], depth: Int, digest: Bool) -> [MIMEPart] {
        stack.push(boundary)
        let level = stack.count - 1
        defer { stack.pop() }
        var children: [MIMEPart] = []
        _ = scanToBoundary()  // preamble
        while true {
            guard pos < end else {
                defects.add(
                    children.isEmpty ? .noBoundaryFound : .unclosedMultipart,
                    children.isEmpty ? "multipart boundary never found" : "multipart not closed")
                return children
            }
            let lf = Bytes.indexOfLF(buf, from: pos, end: end)
            guard let m = stack.match(buf, lineStart: pos, lineEnd: lf) else { return children }
            if m.index != level {
                defects.add(.unclosedMultipart, "inner multipart closed by an outer boundary")
                return children
            }
            pos = lf < end ? lf + 1 : end
            if m.closing {
                stack.pop()
                _ = scanToBoundary()  // epilogue, up to an outer boundary
                stack.push(boundary)
                return children
            }
            if partCount >= limits.maxParts {
                defects.add(.tooManyParts, "more than \(limits.maxParts) parts")
                stack.pop()
                _ = scanToBoundary()
                stack.push(boundary)
                return children
            }
            children.append(parseEntity(depth: depth + 1, defaultType: digest ? .digestDefault : .default))
        }
    }
}
