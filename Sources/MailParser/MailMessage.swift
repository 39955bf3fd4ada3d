import Foundation
import Glibc

/// A parsed email message with everything the filing rules read from it: the people in it, the
/// forwarded originals, the new text of a reply, the reference tags and the attachments.
///
/// `MailMessage.parse(_:)` never throws: whatever the input, it returns a best-effort message
/// and lists what it had to repair in ``defects``.
/// - SeeAlso: RFC 5322 (message format), RFC 2045–2049 (MIME), RFC 6532 (UTF-8 headers).
public struct MailMessage: Sendable, Hashable {
    public var headers: Headers
    /// The MIME tree; for a non-MIME message a single text/plain entity.
    public var root: MIMEPart
    public var defects: [MailDefect]

    /// The Subject, RFC 2047 decoded (RFC 5322 §3.6.5).
    public var subject: String?
    /// The first mailbox of From (RFC 5322 §3.6.2).
    public var from: MailAddress?
    /// All mailboxes of From (usually one).
    public var fromList: [MailAddress]
    public var sender: MailAddress?
    public var replyTo: [MailAddress]
    public var to: [MailAddress]
    public var cc: [MailAddress]
    public var bcc: [MailAddress]
    /// The Date field (RFC 5322 §3.3), when readable.
    public var date: Date?
    /// Message-ID without angle brackets (RFC 5322 §3.6.4).
    public var messageID: String?
    public var inReplyTo: [String]
    /// The References header field's message ids, in order.
    public var references: [String]

    /// The body text: text/plain preferred, else HTML converted to text; line breaks are LF.
    public var bodyText: String
    /// The body text was converted from HTML.
    public var bodyIsHTML: Bool
    /// The body split into new text, quoted history and signature. For a forward, the split of
    /// the forwarding user's note above the forwarded original.
    public var reply: ReplyText
    /// Forwarded originals: inline blocks first (outermost first), then attached messages.
    public var forwarded: [ForwardedMessage]
    public var attachments: [Attachment]
    /// Attached messages (`message/rfc822`), parsed.
    public var enclosedMessages: [MailMessage]
    /// Everyone in the message, deduplicated by normalised address.
    public var people: [Person]
    /// The organizer and attendees of the meeting invitations it carries (``CalendarPeople``).
    public var invitationPeople: [CalendarPeople.Entry]
    /// `#CS…` / `#CO…` tags of the subject and the body, as `CS1001`, `CO34322`.
    public var referenceTags: [String]
    /// The message looks machine-generated (auto-reply, bulk, delivery report).
    /// - SeeAlso: RFC 3834 §5 (Auto-Submitted), RFC 3464 (delivery status), RFC 2076 (Precedence).
    public var isAutomated: Bool
    /// The message is an automatic answer (an auto-reply, a bounce, a delivery report): what
    /// ``isAutomated`` says without the bulk and list mail of `Precedence`, which a person may
    /// have written to a list.
    public var isAutomaticAnswer: Bool

    /// The new text of the message (see ``reply``).
    public var newText: String { reply.newText }

    /// Parses raw message bytes (CRLF or LF line endings).
    public static func parse(_ bytes: some Collection<UInt8>, limits: MailParserLimits = .default) -> MailMessage {
        parse(Array(bytes), limits: limits, digest: nil)
    }

    private static func parse(
        _ array: [UInt8], limits: MailParserLimits, digest: (any ContentDigest.Type)?,
        precomputed: PrecomputedDigests = PrecomputedDigests()
    ) -> MailMessage {
        var defects = DefectList(limit: limits.maxDefects)
        let hasNUL = array.withUnsafeBufferPointer { b in b.baseAddress.map { memchr($0, 0, b.count) != nil } ?? false }
        if hasNUL { defects.add(.nulBytes, "NUL bytes in the message") }
        if let lf = array.firstIndex(of: ASCII.lf), lf == 0 || array[lf - 1] != ASCII.cr {
            defects.add(.bareLineFeed, "lines end in LF without CR (RFC 5322 §2.3)")
        }
        let root = MIMEParser.parse(array, limits: limits, defects: &defects, digest: digest, precomputed: precomputed)
        return MailMessage(root: root, defects: &defects, limits: limits, depth: 0)
    }

    /// Parses raw message bytes for storage: the same as `parse(bytes).droppingContent(sha256:)`
    /// with `D`'s digest, but a file part (not text, not a message) is hashed as it is decoded,
    /// piece by piece, so that its decoded bytes are never held whole. A file part whose digest
    /// ``AttachmentDigester`` took as the message arrived (`precomputed`) is not decoded again.
    public static func parse<D: ContentDigest>(
        _ bytes: some Collection<UInt8>, limits: MailParserLimits = .default, digestingAttachmentsWith digest: D.Type,
        precomputed: PrecomputedDigests = PrecomputedDigests()
    ) -> MailMessage {
        parse(Array(bytes), limits: limits, digest: digest, precomputed: precomputed).droppingContent { content in
            var hasher = D()
            content.withUnsafeBytes { hasher.update($0) }
            return hasher.finalizeHex()
        }
    }

    /// The same message without the bytes behind it: the MIME tree keeps its header fields and
    /// structure but no bodies, attachments keep their size and SHA-256 only, and enclosed messages
    /// likewise. Everything derived from the bytes (addresses, body text, people, forwards, tags)
    /// stays. A server keeps this while a large message waits to be stored. `sha256` is as in
    /// ``Attachment/droppingContent(sha256:)``.
    public func droppingContent(sha256: ([UInt8]) -> String = { SHA256.hex($0) }) -> MailMessage {
        var lean = self
        lean.root = root.droppingBodies()
        lean.attachments = attachments.map { $0.droppingContent(sha256: sha256) }
        lean.enclosedMessages = enclosedMessages.map { $0.droppingContent(sha256: sha256) }
        return lean
    }

    init(root: MIMEPart, defects: inout DefectList, limits: MailParserLimits, depth: Int) {
        self.root = root
        let headers = root.headers
        self.headers = headers

        func addresses(_ name: String) -> [MailAddress] {
            var all: [MailAddress] = []
            for f in headers.all(name) {
                let (list, invalid) = AddressList.parse(f.rawValue)
                if invalid > 0 { defects.add(.invalidAddress, "unreadable address in \(f.lowercasedName)") }
                all += list
            }
            return all
        }
        fromList = addresses("from")
        from = fromList.first
        sender = addresses("sender").first
        replyTo = addresses("reply-to")
        to = addresses("to")
        cc = addresses("cc")
        bcc = addresses("bcc")
        if let s = headers.first("subject") {
            let d = EncodedWords.decode(s.rawValue)
            if d.defective { defects.add(.invalidEncodedWord, "subject has an unreadable encoded word") }
            subject = d.text
        } else {
            subject = nil
        }
        if let d = headers["date"] {
            date = MailDate.parse(d)
            if date == nil { defects.add(.invalidDate, "unreadable Date") }
        } else {
            date = nil
        }
        messageID = headers.first("message-id").flatMap { MessageIDs.parse($0.rawValue).first }
        inReplyTo = headers.first("in-reply-to").map { MessageIDs.parse($0.rawValue) } ?? []
        references = headers.all("references").flatMap { MessageIDs.parse($0.rawValue) }
        if depth == 0, fromList.isEmpty { defects.add(.missingFrom, "no From address") }

        // Body and attachments.
        // An attached original's calendar is read within an eighth of the room, and one deeper not
        // at all: a message of a dozen attached messages of calendars is not read a dozen times over.
        let calendarRoom = depth == 0 ? CalendarPeople.maxBytes : depth == 1 ? CalendarPeople.maxBytes / 8 : 0
        let selector = BodySelector(root: root, calendarRoom: calendarRoom)
        if selector.charsetProblems.unknown { defects.add(.unknownCharset, "unknown charset read as UTF-8 / Windows-1252") }
        if selector.charsetProblems.invalid { defects.add(.invalidCharsetBytes, "bytes invalid in their charset replaced") }
        (bodyText, bodyIsHTML) = selector.bodyText
        let mailtoAddresses = selector.mailtoAddresses
        attachments = selector.attachments
        var invited: [CalendarPeople.Entry] = []
        var invitedAddresses: Set<String> = []
        for calendar in selector.calendars where invited.count < limits.maxBodyAddresses {
            for entry in CalendarPeople.find(in: calendar.bytes, charset: calendar.charset, limit: limits.maxBodyAddresses - invited.count)
            where invitedAddresses.insert(entry.address.normalized).inserted {
                invited.append(entry)
            }
        }
        invitationPeople = invited
        var enclosed: [MailMessage] = []
        if depth >= limits.maxEnclosedMessageDepth, !selector.enclosed.isEmpty {
            defects.add(.nestingTooDeep, "attached messages deeper than \(limits.maxEnclosedMessageDepth) not analysed")
        }
        for part in selector.enclosed where depth < limits.maxEnclosedMessageDepth {
            var inner = DefectList(limit: limits.maxDefects)
            enclosed.append(MailMessage(root: part.parts[0], defects: &inner, limits: limits, depth: depth + 1))
            for d in inner.items { defects.add(d.kind, "attached message: " + d.detail) }
        }
        enclosedMessages = enclosed

        // Forwards and reply separation, on a bounded prefix of the text.
        var analysed = bodyText
        if analysed.utf8.count > limits.maxAnalysedTextBytes {
            analysed = String(decoding: Array(analysed.utf8.prefix(limits.maxAnalysedTextBytes)), as: UTF8.self)
        }
        let lines = TextLines(analysed)
        let blocks = ForwardScanner.scan(lines, subject: subject)
        var forwards: [ForwardedMessage] = []
        for k in blocks.indices where blocks[k].isForward { forwards.append(ForwardScanner.message(blocks, k, lines: lines)) }
        let noteEnd = blocks.first { $0.isForward }?.start ?? lines.count
        let quoteBlock = blocks.first { !$0.isForward && $0.kind != .end && $0.start < noteEnd }?.start
        reply = ReplySplitter.split(lines, 0, noteEnd, quoteStart: quoteBlock)
        // An attached original that is itself automated (a bounce or an auto-reply forwarded as
        // an attachment) names no one to keep: its sender is a mail system, its recipients the
        // user or the addresses that failed.
        let naming = enclosed.filter { !$0.isAutomaticAnswer }
        // A delivery report returns the original; it is not a forward (RFC 3462).
        let originals = root.contentType.mimeType == "multipart/report" ? [] : naming
        for m in originals {
            forwards.append(
                ForwardedMessage(
                    origin: .attached, from: m.from, fromName: m.from?.name, addressMissing: false,
                    to: m.to, cc: m.cc, date: m.headers["date"], parsedDate: m.date, subject: m.subject,
                    bodyText: m.bodyText))
            forwards += m.forwarded
        }
        forwarded = forwards

        // People: header fields, then forwarded originals, then addresses in the body text.
        var people = PeopleCollector()
        for a in fromList { people.add(a, source: .from) }
        if let s = sender { people.add(s, source: .sender) }
        for a in replyTo { people.add(a, source: .replyTo) }
        for a in to { people.add(a, source: .to) }
        for a in cc { people.add(a, source: .cc) }
        for a in bcc { people.add(a, source: .bcc) }
        for f in headers.fields where f.lowercasedName.hasPrefix("resent-") {
            switch f.lowercasedName {
            case "resent-from", "resent-sender", "resent-to", "resent-cc", "resent-bcc", "resent-reply-to":
                for a in AddressList.parse(f.rawValue).addresses { people.add(a, source: .header(f.lowercasedName)) }
            default: break
            }
        }
        // An inline forward of a bounce (`Mail Delivery Subsystem <mailer-daemon@…>`) likewise.
        for f in forwards where !(f.from.map(MailAddress.isMailSystem) ?? false) {
            if let a = f.from { people.add(a, source: .forwardedFrom) }
            for a in f.to { people.add(a, source: .forwardedTo) }
            for a in f.cc { people.add(a, source: .forwardedCc) }
        }
        // An attached original's Reply-To (RFC 5322 §3.6.2): the person behind a no-reply or
        // form sender. Inline forwards rarely show it; their body is scanned below anyway.
        for m in originals {
            for a in m.replyTo { people.add(a, source: .forwardedReplyTo) }
        }
        // A meeting invitation's organizer and guests: a calendar service mails each guest on
        // their own, so the others are often named only in its calendar (its own or an attached
        // original's).
        for entry in invited + originals.flatMap(\.invitationPeople) {
            people.add(entry.address, source: entry.isOrganizer ? .invitationOrganizer : .invitationAttendee)
        }
        var msgIDs = Set<String>()
        for id in [messageID].compactMap({ $0 }) + inReplyTo + references { msgIDs.insert(id); msgIDs.insert(id.lowercased()) }
        for m in enclosed { for id in [m.messageID].compactMap({ $0 }) + m.inReplyTo + m.references { msgIDs.insert(id.lowercased()) } }
        // Links' addresses after the text's own: a name the text shows is linked to its address.
        var bodies = [lines.bytes, mailtoAddresses]
        // Attached originals' text on the same bound as the message's own, in all: a 25 MB
        // attached message is not scanned whole.
        var room = limits.maxAnalysedTextBytes
        for m in naming where room > 0 {
            let text = Array(m.bodyText.utf8.prefix(room))
            room -= text.count
            bodies.append(text)
        }
        var budget = limits.maxBodyAddresses
        for b in bodies where budget > 0 {
            let hits = AddressScanner.scan(b, filter: true, excluding: msgIDs, limit: budget)
            budget -= hits.count
            for h in hits { people.add(h.address, source: .body) }
        }
        self.people = people.people

        // An attached original's subject and text count as an inline forward's do.
        referenceTags = ReferenceTags.find(in: [subject ?? "", bodyText] + enclosed.flatMap { [$0.subject ?? "", $0.bodyText] })
        isAutomaticAnswer = Self.automaticAnswer(headers: headers, root: root, from: from)
        isAutomated = isAutomaticAnswer || Self.bulk(headers: headers)
        self.defects = defects.items
    }

    /// An auto-reply, a bounce or a delivery report: Auto-Submitted other than `no`, the
    /// `X-Autoreply` family, `multipart/report`, or a mail system's sender.
    /// - SeeAlso: RFC 3834 §5, RFC 3462.
    static func automaticAnswer(headers: Headers, root: MIMEPart, from: MailAddress?) -> Bool {
        // `Auto-Submitted: auto-replied; owner-email="a@b.org"`, `no (sent by hand)`: the keyword
        // before any parameter, without comments, is what counts (RFC 3834 §5).
        if let v = headers["auto-submitted"].map({ autoSubmittedKeyword($0) }), !v.isEmpty, v != "no" { return true }
        for name in ["x-autoreply", "x-autorespond", "x-auto-reply", "x-autogenerated"] {
            if let v = headers[name]?.lowercased().trimmingWhitespace(), v != "no", v != "false" { return true }
        }
        if root.contentType.mimeType == "multipart/report" { return true }
        if let from, MailAddress.isMailSystem(from) { return true }
        return false
    }

    /// Bulk, junk or list mail, or an auto-reply, by its `Precedence` (RFC 2076; the comment is
    /// no part of the value: `junk (spam)`).
    static func bulk(headers: Headers) -> Bool {
        guard let v = headers["precedence"].map({ uncommented($0).lowercased() }) else { return false }
        return ["bulk", "junk", "list", "auto_reply", "auto-reply"].contains(v)
    }

    /// The keyword of an Auto-Submitted field, lower-cased: its value before the first `;`,
    /// without comments (`(by rule) Auto-Replied; owner-email=…` → `auto-replied`).
    /// - SeeAlso: RFC 3834 §5.
    static func autoSubmittedKeyword(_ value: String) -> String {
        let keyword = uncommented(value).split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return String(keyword).lowercased().trimmingWhitespace()
    }

    /// A structured field's value without its comments and the white space around it
    /// (`junk (spam)` → `junk`).
    /// - SeeAlso: RFC 5322 §3.2.2 (comments and folding white space).
    static func uncommented(_ value: String) -> String {
        let bytes = Array(value.utf8)
        var kept: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "(") {
                i = ParameterList.skipComment(bytes, i)
                continue
            }
            kept.append(bytes[i])
            i += 1
        }
        return String(decoding: kept, as: UTF8.self).trimmingWhitespace()
    }
}
