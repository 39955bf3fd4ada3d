/// A part of a message that is not its body text: a file, an inline image, an enclosed message.
/// - SeeAlso: RFC 2183 (Content-Disposition), RFC 2231 §4 (file names), RFC 2392 (Content-ID).
public struct Attachment: Sendable, Hashable {
    /// The file name (RFC 2231 / RFC 2047 decoded), when the part has one.
    public var filename: String?
    /// `type/subtype`, lower-cased.
    public var contentType: String
    /// Size in bytes after removing the transfer encoding.
    public var size: Int { digest?.size ?? content.count }
    /// The decoded content; empty once ``droppingContent()`` kept only its size and digest.
    public var content: [UInt8]
    /// The Content-ID without angle brackets (inline images referenced by `cid:`).
    public var contentID: String?
    /// Disposition `inline` or a part of multipart/related (shown inside the body).
    public var isInline: Bool
    /// SHA-256 of the decoded content as 64 hex digits (computed on each access while the content
    /// is kept).
    public var sha256: String { digest?.sha256 ?? SHA256.hex(content) }
    /// Whether ``content`` holds the bytes (it does until ``droppingContent()``).
    public var hasContent: Bool { digest == nil }

    private var digest: ContentDigestValue?

    init(
        filename: String?, contentType: String, content: [UInt8], contentID: String?, isInline: Bool, digest: ContentDigestValue? = nil
    ) {
        self.filename = filename
        self.contentType = contentType
        self.content = content
        self.contentID = contentID
        self.isInline = isInline
        self.digest = digest
    }

    /// The same attachment with its size and SHA-256 computed and its bytes released. `sha256`
    /// computes the digest as 64 lower-case hex digits: this library's own by default, or a
    /// faster one a server has at hand.
    public func droppingContent(sha256: ([UInt8]) -> String = { SHA256.hex($0) }) -> Attachment {
        guard digest == nil else { return self }
        var lean = self
        lean.digest = ContentDigestValue(size: content.count, sha256: sha256(content))
        lean.content = []
        return lean
    }
}

/// The size and SHA-256 of a body whose bytes are not kept.
public struct ContentDigestValue: Sendable, Hashable {
    /// Octets after removing the transfer encoding.
    public var size: Int
    /// SHA-256 as 64 lower-case hex digits.
    public var sha256: String
}

/// Chooses the body text and the attachments of a MIME tree.
/// - SeeAlso: RFC 2046 §5.1.3 (mixed), §5.1.4 (alternative: last is preferred by the sender, but
///   Intake prefers text/plain), RFC 2387 (related: the root part is the body).
struct BodySelector {
    var texts: [(text: String, html: Bool)] = []
    var attachments: [Attachment] = []
    var enclosed: [MIMEPart] = []
    /// The iCalendar objects (`text/calendar` parts, `.ics` files), wherever they are, with their
    /// charset labels: at most ``CalendarPeople/maxBytes`` in all, each cut at a line's end.
    var calendars: [(bytes: [UInt8], charset: String?)] = []
    private var calendarRoom: Int
    var charsetProblems: (unknown: Bool, invalid: Bool) = (false, false)

    /// `calendarRoom`: the octets of calendar read at most.
    init(root: MIMEPart, calendarRoom: Int = CalendarPeople.maxBytes) {
        self.calendarRoom = calendarRoom
        visit(root, depth: 0, inRelated: false)
    }

    static func hasPlain(_ p: MIMEPart, depth: Int = 0) -> Bool {
        if p.contentType.mimeType == "text/plain", p.disposition?.isAttachment != true { return true }
        guard p.contentType.isMultipart, depth < 100 else { return false }
        return p.parts.contains { hasPlain($0, depth: depth + 1) }
    }

    mutating func visit(_ p: MIMEPart, depth: Int, inRelated: Bool) {
        let ct = p.contentType
        if ct.isMultipart, p.parts.isEmpty {
            // A multipart whose boundary is missing or never found: its body is the text.
            if !p.content.isEmpty { texts.append((p.textDecoding.text, false)) }
            return
        }
        if ct.isMultipart {
            switch ct.subtype {
            case "alternative":
                let chosen =
                    p.parts.lastIndex { Self.hasPlain($0) }
                    ?? p.parts.lastIndex { $0.contentType.mimeType == "text/html" || $0.contentType.isMultipart }
                    ?? p.parts.indices.last
                for (k, child) in p.parts.enumerated() {
                    if k == chosen { visit(child, depth: depth + 1, inRelated: inRelated) } else { collectFiles(child, depth: depth + 1) }
                }
            case "related":
                let start = ct.parameters["start"].map { String($0.trimmingWhitespace().drop { $0 == "<" }.prefix { $0 != ">" }) }
                let rootIndex = start.flatMap { s in p.parts.firstIndex { $0.contentID == s } } ?? 0
                for (k, child) in p.parts.enumerated() {
                    if k == rootIndex { visit(child, depth: depth + 1, inRelated: true) } else { addAttachment(child, inline: true) }
                }
            default:
                for child in p.parts { visit(child, depth: depth + 1, inRelated: inRelated) }
            }
            return
        }
        if p.isEnclosedMessage {
            enclosed.append(p)
            addAttachment(p, inline: false)
            return
        }
        noteCalendar(p)
        let isText = ct.mimeType == "text/plain" || ct.mimeType == "text/html"
        let explicitAttachment = p.disposition?.isAttachment == true
        if isText, !explicitAttachment, p.filename == nil {
            let d = p.textDecoding
            if d.unknownCharset { charsetProblems.unknown = true }
            if d.invalidBytes { charsetProblems.invalid = true }
            var text = d.text
            if ct.subtype == "plain", ct.parameters["format"]?.lowercased() == "flowed" {
                text = Flowed.decode(text, delSp: ct.parameters["delsp"]?.lowercased() == "yes")
            }
            texts.append((text, ct.subtype == "html"))
            return
        }
        addAttachment(p, inline: inRelated || p.disposition?.type == "inline")
    }

    /// Files inside a non-chosen alternative (an HTML alternative's images), never its text; an
    /// invitation's calendar alternative is read for its people.
    mutating func collectFiles(_ p: MIMEPart, depth: Int) {
        if p.contentType.isMultipart {
            guard depth < 100 else { return }
            for c in p.parts { collectFiles(c, depth: depth + 1) }
            return
        }
        noteCalendar(p)
        if p.contentType.type != "text" || p.filename != nil {
            addAttachment(p, inline: true)
        }
    }

    /// Keeps the octets of `p` if it is an iCalendar object (``MIMEPart/isCalendar``), as many as
    /// there is room for, up to the end of a line.
    mutating func noteCalendar(_ p: MIMEPart) {
        guard p.isCalendar, calendarRoom > 0 else { return }
        var bytes = p.content.prefix(calendarRoom)
        if bytes.count < p.content.count, let end = bytes.lastIndex(where: { $0 == ASCII.lf || $0 == ASCII.cr }) {
            bytes = bytes[..<end]
        }
        calendarRoom -= bytes.count
        calendars.append((Array(bytes), p.contentType.charset))
    }

    mutating func addAttachment(_ p: MIMEPart, inline: Bool) {
        if p.contentType.isMultipart {
            for c in p.parts { addAttachment(c, inline: inline) }
            return
        }
        attachments.append(
            Attachment(
                filename: p.filename, contentType: p.contentType.mimeType,
                content: p.content,
                contentID: p.contentID, isInline: inline && p.disposition?.isAttachment != true, digest: p.contentDigest))
    }

    /// The addresses of the HTML parts' `mailto:` links (RFC 6068), which their text may show
    /// only as a name (`<a href="mailto:liam@…">Liam</a>`).
    var mailtoAddresses: [UInt8] {
        var found: [UInt8] = []
        for text in texts where text.html {
            for address in HTMLText.mailtoTargets(text.text) { found += address + [ASCII.lf] }
        }
        return found
    }

    /// The body text: plain parts as they are, HTML parts converted, joined in order.
    var bodyText: (String, Bool) {
        let pieces = texts.map { $0.html ? HTMLText.toText($0.text) : $0.text }
        var text = pieces.count == 1 ? pieces[0] : pieces.joined(separator: "\n")
        if text.containsBytes("\r") { text = text.replacingCRLF() }
        return (text, !texts.isEmpty && texts.allSatisfy(\.html))
    }
}

extension String {
    /// CRLF and lone CR turned into LF.
    func replacingCRLF() -> String {
        var bytes = Array(utf8)
        let n = bytes.withUnsafeMutableBufferPointer { buf -> Int in
            var w = 0
            var r = 0
            let count = buf.count
            while r < count {
                let b = buf[r]
                if b == ASCII.cr {
                    buf[w] = ASCII.lf
                    if r + 1 < count, buf[r + 1] == ASCII.lf { r += 1 }
                } else {
                    buf[w] = b
                }
                w += 1
                r += 1
            }
            return w
        }
        bytes.removeSubrange(n...)
        return String(decoding: bytes, as: UTF8.self)
    }
}
