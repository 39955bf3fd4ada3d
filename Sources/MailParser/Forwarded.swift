import Foundation

/// An original message recovered from a forward: inline (a forward block in the body text) or
/// attached (`message/rfc822`).
/// - SeeAlso: RFC 2046 §5.2.1 (message/rfc822); the inline formats are client conventions
///   listed in ``MailLanguages``.
public struct ForwardedMessage: Sendable, Hashable {
    /// Where the original was found.
    public enum Origin: String, Sendable, Hashable {
        case inline, attached
    }

    public var origin: Origin
    /// The original sender's address, when the block gave one.
    public var from: MailAddress?
    /// The original sender's display name (also when the address is missing).
    public var fromName: String?
    /// The block named a sender without an address (Outlook with Exchange-internal senders).
    public var addressMissing: Bool
    public var to: [MailAddress]
    public var cc: [MailAddress]
    /// The date as the client wrote it (localised for inline forwards).
    public var date: String?
    /// The date when it could be read (RFC 5322 syntax).
    public var parsedDate: Date?
    public var subject: String?
    /// The original's body text.
    public var bodyText: String
}

/// Finds forward and quote header blocks in body text.
struct ForwardScanner {
    enum Kind { case forward, original, rule, headersOnly, end }

    struct Block {
        var start: Int
        var bodyStart: Int
        var kind: Kind
        var fields: [(MailLanguages.Field, String)]
        var labels: [String] = []
        var isForward = false

        /// Languages whose clients use all of the block's labels (or any of them).
        var languages: Set<String> {
            let sets = labels.compactMap { MailLanguages.labelLanguages[$0] }
            guard var common = sets.first else { return [] }
            for s in sets.dropFirst() { common.formIntersection(s) }
            return common.isEmpty ? sets.reduce(into: Set<String>()) { $0.formUnion($1) } : common
        }

        func value(_ f: MailLanguages.Field) -> String? { fields.first { $0.0 == f }?.1 }
    }

    let lines: TextLines

    /// The separator kind of line `i`, if it is one.
    func separator(_ i: Int) -> Kind? {
        let r = lines.ranges[i]
        guard r.count >= 3, r.count <= 160 else { return nil }
        let s = lines.bytes[r]
        var lo = s.startIndex, hi = s.endIndex
        while lo < hi, ASCII.isWSP(s[lo]) { lo += 1 }
        while hi > lo, ASCII.isSpace(s[hi - 1]) { hi -= 1 }
        guard lo < hi else { return nil }
        let first = s[lo], last = s[hi - 1]
        if first == UInt8(ascii: "_") || first == UInt8(ascii: "-") || first == UInt8(ascii: "=") {
            if hi - lo >= 10, s[lo..<hi].allSatisfy({ $0 == first }) { return first == UInt8(ascii: "_") ? .rule : nil }
        }
        let decorated =
            first == UInt8(ascii: "-") || first == UInt8(ascii: "_") || first == UInt8(ascii: "=")
            || first == UInt8(ascii: "*") || first == UInt8(ascii: "~")
        let colon = last == ASCII.colon || (hi - lo >= 3 && s[hi - 3] == 0xEF && s[hi - 2] == 0xBC && last == 0x9A)
        guard decorated || colon else { return nil }
        let phrase = String(decoding: s[lo..<hi], as: UTF8.self).strippingDecoration().foldedForLookup()
        switch MailLanguages.separators[phrase] {
        case .forward: return .forward
        case .original: return .original
        case .end: return .end
        case nil: return nil
        }
    }

    struct Label {
        var field: MailLanguages.Field
        var value: String
        /// The label as written, lower-cased (for language detection).
        var label: String
    }

    /// `Label: value` in any of the languages.
    func labelLine(_ i: Int) -> Label? {
        guard var (label, value) = labelAndValue(i) else { return nil }
        var field = MailLanguages.labels[label]
        if field == nil, let paren = label.firstIndex(of: "(") {
            // "Kopie (CC)", "Cc (Kopie)"
            label = String(label[..<paren]).trimmingWhitespace()
            field = MailLanguages.labels[label]
        }
        guard let field else { return nil }
        value = value.strippingDecoration(["*", "\u{00A0}"])
        return Label(field: field, value: value, label: label)
    }

    /// Whether line `i` is only an address in brackets: `<a@b>` or `[mailto:a@b]`.
    func isWrappedAddress(_ i: Int) -> Bool {
        let line = lines.string(i).trimmingWhitespace()
        guard line.contains("@"), !line.contains(" ") else { return false }
        return (line.hasPrefix("<") && line.hasSuffix(">")) || (line.lowercased().hasPrefix("[mailto:") && line.hasSuffix("]"))
    }

    /// Whether line `i` is a row that clients put in header blocks and that names no one
    /// (`Reply-To:`, `Importance:`, `Attachments:`), in any of the languages.
    func isIgnoredLabelLine(_ i: Int) -> Bool {
        guard let (label, _) = labelAndValue(i) else { return false }
        return MailLanguages.ignoredLabels.contains(label)
    }

    /// `label: value` with a colon (ASCII or full-width) within the first 48 octets and a label
    /// of at most 40: the label folded for lookup, and the value as written.
    private func labelAndValue(_ i: Int) -> (label: String, value: String)? {
        let s = lines.bytes[lines.ranges[i]]
        guard s.count >= 3 else { return nil }
        var colonAt = -1
        var colonLen = 1
        var k = s.startIndex
        let limit = min(s.endIndex, s.startIndex + 48)
        while k < limit {
            if s[k] == ASCII.colon { colonAt = k; break }
            if s[k] == 0xEF, k + 2 < s.endIndex, s[k + 1] == 0xBC, s[k + 2] == 0x9A { colonAt = k; colonLen = 3; break }
            k += 1
        }
        guard colonAt > s.startIndex else { return nil }
        let label = String(decoding: s[s.startIndex..<colonAt], as: UTF8.self).withoutInvisibleMarks
            .strippingDecoration(["*", "_", "\u{00A0}"])
            .foldedForLookup()
        guard !label.isEmpty, label.utf8.count <= 40 else { return nil }
        return (label, String(decoding: s[(colonAt + colonLen)...], as: UTF8.self))
    }

    /// Reads the `Label: value` lines starting at `k`.
    func headerBlock(from k: Int) -> (fields: [(MailLanguages.Field, String)], labels: [String], end: Int) {
        var j = k
        var fields: [(MailLanguages.Field, String)] = []
        var labels: [String] = []
        var blanks = 0
        func seen(_ f: MailLanguages.Field) -> Bool { fields.contains { $0.0 == f } }
        while j < lines.count {
            if lines.isBlank(j) {
                if fields.isEmpty {
                    blanks += 1
                    if blanks > 2 { break }
                    j += 1
                    continue
                }
                var m = j + 1
                while m < lines.count, m - j < 2, lines.isBlank(m) { m += 1 }
                if m < lines.count, let l = labelLine(m), !seen(l.field) { j = m; continue }
                break
            }
            if let l = labelLine(j) {
                if seen(l.field) { break }
                fields.append((l.field, l.value))
                labels.append(l.label)
                j += 1
                continue
            }
            // A wrapped To / Cc list continues on the next line (no label before its first address).
            if let last = fields.last, last.0 == .to || last.0 == .cc, let at = lines.slice(j).firstIndex(of: UInt8(ascii: "@")),
                !lines.bytes[lines.ranges[j].lowerBound..<at].contains(ASCII.colon)
            {
                fields[fields.count - 1].1 += " " + lines.string(j).trimmingWhitespace()
                j += 1
                continue
            }
            // A From whose name filled the line: `From: Name`, then `<address>` (or `[mailto:…]`)
            // alone on the next; a line of text with an address in it is no part of it.
            if let last = fields.last, last.0 == .from, !last.1.contains("@"), isWrappedAddress(j) {
                fields[fields.count - 1].1 += " " + lines.string(j).trimmingWhitespace()
                j += 1
                continue
            }
            // Reply-To, Importance, Attachments: rows of the block that name no one.
            if !fields.isEmpty, isIgnoredLabelLine(j) {
                j += 1
                continue
            }
            break
        }
        return (fields, labels, j)
    }

    /// Yandex and Mail.ru write no header block: `04.03.2024, 15:41, "Name" <a@b>:`.
    func senderLine(_ i: Int) -> [(MailLanguages.Field, String)]? {
        guard i < lines.count, ReplySplitter.endsWithColon(lines.slice(i)), lines.slice(i).contains(UInt8(ascii: "@")) else { return nil }
        var s = lines.string(i).trimmingWhitespace()
        s.removeLast()
        guard let start = s.firstIndex(where: { $0 == "\"" || $0 == "<" }) else { return [(.from, s)] }
        let date = String(s[..<start]).strippingDecoration([",", " "])
        return date.isEmpty ? [(.from, String(s[start...]))] : [(.from, String(s[start...])), (.date, date)]
    }

    func skipBlank(_ i: Int) -> Int {
        var k = i
        while k < lines.count, lines.isBlank(k) { k += 1 }
        return k
    }

    /// Every forward or quote block, in order, classified against the subjects.
    static func scan(_ lines: TextLines, subject: String?) -> [Block] {
        let scanner = ForwardScanner(lines: lines)
        var blocks: [Block] = []
        var i = 0
        while i < lines.count {
            if let kind = scanner.separator(i) {
                if kind == .end {
                    blocks.append(Block(start: i, bodyStart: i + 1, kind: .end, fields: []))
                    i += 1
                    continue
                }
                var (fields, labels, end) = scanner.headerBlock(from: i + 1)
                if fields.isEmpty, kind == .forward, let sender = scanner.senderLine(scanner.skipBlank(i + 1)) {
                    fields = sender
                    end = scanner.skipBlank(i + 1) + 1
                }
                let has = { (f: MailLanguages.Field) in fields.contains { $0.0 == f } }
                if has(.from) || (has(.subject) && has(.date)) || kind == .forward {
                    var bodyStart = scanner.skipBlank(end)
                    // Zoho closes the header block with a second separator line.
                    if bodyStart < lines.count, !fields.isEmpty, scanner.separator(bodyStart) == kind,
                        scanner.headerBlock(from: bodyStart + 1).fields.isEmpty
                    {
                        bodyStart = scanner.skipBlank(bodyStart + 1)
                    }
                    blocks.append(Block(start: i, bodyStart: bodyStart, kind: kind, fields: fields, labels: labels))
                    i = max(bodyStart, i + 1)
                    continue
                }
            } else if !lines.isQuoted(i), let l = scanner.labelLine(i), l.field == .from {
                // Outlook without a separator line: From, Sent / Date, To, Subject.
                let (fields, labels, end) = scanner.headerBlock(from: i)
                let has = { (f: MailLanguages.Field) in fields.contains { $0.0 == f } }
                let afterBreak = i == 0 || lines.isBlank(i - 1) || scanner.separator(i - 1) != nil
                if has(.date) && (has(.subject) || has(.to)) && (afterBreak || fields.count >= 3) {
                    let bodyStart = scanner.skipBlank(end)
                    blocks.append(Block(start: i, bodyStart: bodyStart, kind: .headersOnly, fields: fields, labels: labels))
                    i = max(end, i + 1)
                    continue
                }
            }
            i += 1
        }
        // Classify: explicit forward separators are forwards; Outlook-style blocks are forwards
        // when the enclosing message's subject says so (FW:, WG:, TR:…, read in the language of
        // the block's labels: "VS:" forwards in Danish but replies in Finnish), else replies.
        var enclosing = subject ?? ""
        for k in blocks.indices where blocks[k].kind != .end {
            let fwd = blocks[k].kind == .forward || SubjectPrefixes.isForward(enclosing, languages: blocks[k].languages)
            if !fwd { break }
            blocks[k].isForward = true
            enclosing = blocks[k].value(.subject) ?? ""
        }
        return blocks
    }

    /// Builds the forwarded message of block `k`.
    static func message(_ blocks: [Block], _ k: Int, lines: TextLines) -> ForwardedMessage {
        let b = blocks[k]
        let end = k + 1 < blocks.count ? blocks[k + 1].start : lines.count
        var bodyEnd = max(b.bodyStart, end)
        while bodyEnd > b.bodyStart, lines.isBlank(bodyEnd - 1) { bodyEnd -= 1 }
        let (from, name, missing) = parseFrom(b.value(.from))
        let date = b.value(.date)
        return ForwardedMessage(
            origin: .inline, from: from, fromName: name, addressMissing: missing,
            to: addressList(b.value(.to)), cc: addressList(b.value(.cc)),
            date: date, parsedDate: date.flatMap(MailDate.parse), subject: b.value(.subject),
            bodyText: lines.text(b.bodyStart, bodyEnd))
    }

    /// A From value as clients print it: `Name <a@b>`, `Name [mailto:a@b]`, `a@b`, or only a name.
    static func parseFrom(_ value: String?) -> (MailAddress?, String?, Bool) {
        guard let value, !value.isEmpty else { return (nil, nil, false) }
        let found = AddressScanner.scan(Array(value.utf8), filter: false)
        guard let first = found.first else {
            let name = cleanName(value)
            return (nil, name.isEmpty ? nil : name, !name.isEmpty)
        }
        var name = first.nameHint ?? ""
        if name.isEmpty {
            // Text around the address, without brackets and mailto.
            var rest = value
            rest = rest.replacingOccurrences(of: "mailto:", with: "")
            rest = rest.replacingOccurrences(of: first.address.address, with: "", options: .caseInsensitive)
            name = cleanName(rest)
        }
        var address = first.address
        if name.lowercased() == address.address.lowercased() { name = "" }
        address.name = name.isEmpty ? nil : name
        return (address, address.name, false)
    }

    static func cleanName(_ s: String) -> String {
        var t = s.strippingDecoration(["*", "\"", "'", "<", ">", "[", "]", "(", ")", ",", ";", "\u{00A0}"])
        // `Femke Bakker (Delta)`: a closing parenthesis that balances one in the name stays.
        if t.count(where: { $0 == "(" }) > t.count(where: { $0 == ")" }), s.trimmingWhitespace().contains(t + ")") { t += ")" }
        if t.containsBytes("[]") || t.containsBytes("<>") {
            t = t.replacingOccurrences(of: "[]", with: "").replacingOccurrences(of: "<>", with: "")
        }
        return AddressList.unquoteName(t.trimmingWhitespace())
    }

    static func addressList(_ value: String?) -> [MailAddress] {
        guard let value, !value.isEmpty else { return [] }
        var seen = Set<String>()
        return AddressScanner.scan(Array(value.utf8), filter: false).compactMap { hit in
            var a = hit.address
            a.name = hit.nameHint
            return seen.insert(a.normalized).inserted ? a : nil
        }
    }
}
