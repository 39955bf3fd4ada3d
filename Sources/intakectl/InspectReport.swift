import Foundation
import MailParser

/// The `--json` shape of `intakectl inspect`: a stable interface. Keys are sorted and always
/// present; a missing value is `null`.
struct InspectReport: Encodable {
    struct Address: Encodable {
        var address: String?
        var name: String?

        enum CodingKeys: String, CodingKey { case address, name }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(address, forKey: .address)
            try c.encode(name, forKey: .name)
        }
    }

    struct PersonEntry: Encodable {
        var address: String
        var name: String?
        var source: String
        var sources: [String]

        enum CodingKeys: String, CodingKey { case address, name, source, sources }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(address, forKey: .address)
            try c.encode(name, forKey: .name)
            try c.encode(source, forKey: .source)
            try c.encode(sources, forKey: .sources)
        }
    }

    struct Forward: Encodable {
        var origin: String
        var from: Address
        var address_missing: Bool
        var to: [String]
        var cc: [String]
        var date: String?
        var subject: String?
        var body: String

        enum CodingKeys: String, CodingKey { case origin, from, address_missing, to, cc, date, subject, body }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(origin, forKey: .origin)
            try c.encode(from, forKey: .from)
            try c.encode(address_missing, forKey: .address_missing)
            try c.encode(to, forKey: .to)
            try c.encode(cc, forKey: .cc)
            try c.encode(date, forKey: .date)
            try c.encode(subject, forKey: .subject)
            try c.encode(body, forKey: .body)
        }
    }

    struct AttachmentEntry: Encodable {
        var filename: String?
        var content_type: String
        var size: Int
        var sha256: String
        var content_id: String?
        var inline: Bool

        enum CodingKeys: String, CodingKey { case filename, content_type, size, sha256, content_id, inline }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(filename, forKey: .filename)
            try c.encode(content_type, forKey: .content_type)
            try c.encode(size, forKey: .size)
            try c.encode(sha256, forKey: .sha256)
            try c.encode(content_id, forKey: .content_id)
            try c.encode(inline, forKey: .inline)
        }
    }

    var subject: String?
    var from: Address
    var to: [String]
    var cc: [String]
    var date: String?
    var message_id: String?
    var in_reply_to: [String]
    var references: [String]
    var people: [PersonEntry]
    var forwarded: [Forward]
    var refs: [String]
    var attachments: [AttachmentEntry]
    var new_text: String
    var quoted_text: String
    var signature: String?
    var body: String
    var body_is_html: Bool
    var automated: Bool
    var defects: [String]

    enum CodingKeys: String, CodingKey {
        case subject, from, to, cc, date, message_id, in_reply_to, references, people, forwarded, refs, attachments
        case new_text, quoted_text, signature, body, body_is_html, automated, defects
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(subject, forKey: .subject)
        try c.encode(from, forKey: .from)
        try c.encode(to, forKey: .to)
        try c.encode(cc, forKey: .cc)
        try c.encode(date, forKey: .date)
        try c.encode(message_id, forKey: .message_id)
        try c.encode(in_reply_to, forKey: .in_reply_to)
        try c.encode(references, forKey: .references)
        try c.encode(people, forKey: .people)
        try c.encode(forwarded, forKey: .forwarded)
        try c.encode(refs, forKey: .refs)
        try c.encode(attachments, forKey: .attachments)
        try c.encode(new_text, forKey: .new_text)
        try c.encode(quoted_text, forKey: .quoted_text)
        try c.encode(signature, forKey: .signature)
        try c.encode(body, forKey: .body)
        try c.encode(body_is_html, forKey: .body_is_html)
        try c.encode(automated, forKey: .automated)
        try c.encode(defects, forKey: .defects)
    }

    init(_ m: MailMessage) {
        subject = m.subject
        from = Address(address: m.from?.address, name: m.from?.name)
        to = m.to.map(\.address)
        cc = m.cc.map(\.address)
        date = m.date.map { ISO8601DateFormatter().string(from: $0) }
        message_id = m.messageID
        in_reply_to = m.inReplyTo
        references = m.references
        people = m.people.map {
            PersonEntry(address: $0.address.address, name: $0.name, source: $0.source.rawValue, sources: $0.sources.map(\.rawValue))
        }
        forwarded = m.forwarded.map {
            Forward(
                origin: $0.origin.rawValue, from: Address(address: $0.from?.address, name: $0.fromName),
                address_missing: $0.addressMissing, to: $0.to.map(\.address), cc: $0.cc.map(\.address),
                date: $0.date, subject: $0.subject, body: $0.bodyText)
        }
        refs = m.referenceTags
        attachments = m.attachments.map {
            AttachmentEntry(
                filename: $0.filename, content_type: $0.contentType, size: $0.size, sha256: $0.sha256,
                content_id: $0.contentID, inline: $0.isInline)
        }
        new_text = m.newText
        quoted_text = m.reply.quotedText
        signature = m.reply.signature
        body = m.bodyText
        body_is_html = m.bodyIsHTML
        automated = m.isAutomated
        defects = m.defects.map(\.description)
    }

    func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func humanReadable() -> String {
        var out = ""
        func line(_ s: String = "") { out += s + "\n" }
        func indent(_ text: String, _ prefix: String = "    ") -> String {
            text.split(separator: "\n", omittingEmptySubsequences: false).map { prefix + $0 }.joined(separator: "\n")
        }
        line("Subject:   \(subject ?? "(none)")")
        line("From:      \(from.address == nil && from.name == nil ? "(none)" : format(from))")
        if let date { line("Date:      \(date)") }
        if let message_id { line("Message-ID: \(message_id)") }
        if automated { line("Automated: yes (auto-reply, bulk or delivery report)") }
        line()
        line("People (\(people.count)):")
        for p in people {
            let name = p.name.map { "\($0) " } ?? ""
            line("  \(name)<\(p.address)>  [\(p.sources.joined(separator: ", "))]")
        }
        line()
        line("References: \(refs.isEmpty ? "(none)" : refs.joined(separator: " "))")
        line()
        if !forwarded.isEmpty {
            line("Forwarded originals (\(forwarded.count)):")
            for (i, f) in forwarded.enumerated() {
                line("  #\(i + 1) (\(f.origin))")
                line("    From:    \(format(f.from))\(f.address_missing ? "  (address missing)" : "")")
                if !f.to.isEmpty { line("    To:      \(f.to.joined(separator: ", "))") }
                if !f.cc.isEmpty { line("    Cc:      \(f.cc.joined(separator: ", "))") }
                if let d = f.date { line("    Date:    \(d)") }
                if let s = f.subject { line("    Subject: \(s)") }
                line("    Body:")
                line(indent(String(f.body.prefix(2000)), "      | "))
            }
            line()
        }
        line("New text:")
        line(indent(new_text.isEmpty ? "(empty)" : new_text, "  | "))
        if let signature {
            line("Signature:")
            line(indent(signature, "  | "))
        }
        if !quoted_text.isEmpty {
            line("Quoted history (\(quoted_text.split(separator: "\n").count) lines):")
            line(indent(String(quoted_text.prefix(1500)), "  > "))
        }
        line()
        line("Attachments (\(attachments.count)):")
        for a in attachments {
            let inline = a.inline ? " inline" : ""
            let cid = a.content_id.map { " cid:\($0)" } ?? ""
            line("  \(a.filename ?? "(no name)")  \(a.content_type)  \(a.size) bytes\(inline)\(cid)  sha256 \(a.sha256)")
        }
        line()
        line("Defects (\(defects.count)):")
        for d in defects { line("  \(d)") }
        return out
    }

    func format(_ a: Address) -> String {
        switch (a.name, a.address) {
        case let (n?, addr?): return "\(n) <\(addr)>"
        case let (nil, addr?): return addr
        case let (n?, nil): return n
        case (nil, nil): return "(unknown)"
        }
    }
}
