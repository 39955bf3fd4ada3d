/// A mailbox: display name (decoded) and address (`local@domain`).
///
/// `address` keeps the local part as written and the domain lower-cased with IDNA `xn--` labels
/// decoded; ``normalized`` is the key to compare addresses with.
/// - SeeAlso: RFC 5322 §3.4 (address specification), RFC 6532 §3.2 (UTF-8 addresses),
///   RFC 5890 (IDNA), RFC 3492 (Punycode).
public struct MailAddress: Sendable, Hashable, CustomStringConvertible {
    /// The display name (RFC 2047 decoded), or `nil`.
    public var name: String?
    /// The local part as written (quoted when it needs quotes).
    public var localPart: String
    /// The domain lower-cased, IDNA labels decoded to Unicode; empty when the address had none.
    public var domain: String
    /// The group the mailbox was listed in (RFC 5322 §3.4 `group`).
    public var group: String?

    public init(name: String? = nil, localPart: String, domain: String, group: String? = nil) {
        self.name = name.flatMap { $0.isEmpty ? nil : $0 }
        self.localPart = localPart
        self.domain = IDNA.toUnicode(domain.lowercased())
        self.group = group
    }

    /// Parses `local@domain` (no display name); `nil` without an `@`.
    public init?(address: String, name: String? = nil) {
        guard let at = address.lastIndex(of: "@") else { return nil }
        let local = String(address[..<at]), dom = String(address[address.index(after: at)...])
        guard !local.isEmpty, !dom.isEmpty else { return nil }
        self.init(name: name, localPart: local, domain: dom)
    }

    /// `local@domain`.
    public var address: String { domain.isEmpty ? localPart : "\(localPart)@\(domain)" }

    /// Comparison key: local part case-folded, domain lower-cased and IDNA-decoded.
    public var normalized: String { domain.isEmpty ? localPart.lowercased() : "\(localPart.lowercased())@\(domain)" }

    /// Whether the address has a non-empty local part and domain.
    public var isComplete: Bool { !localPart.isEmpty && !domain.isEmpty }

    /// Whether `address` is a mailbox of the mail system itself, which sends bounces and
    /// reports: `MAILER-DAEMON` or `postmaster` (RFC 5321 §4.5.1), with or without a
    /// `+detail`. No person reads it as their own.
    public static func isMailSystem(_ address: MailAddress) -> Bool {
        let local = address.localPart.lowercased()
        let base = local.split(separator: "+", maxSplits: 1).first.map(String.init) ?? local
        return base == "mailer-daemon" || base == "postmaster"
    }

    /// Whether `address` is an Exchange server's internal form of a mailbox, which messages
    /// saved from Outlook carry (`IMCEAEX-_O=EXCHANGELABS_OU=…@namprd04.prod.outlook.com`): no
    /// one can write to it.
    public static func isExchangeInternal(_ address: MailAddress) -> Bool {
        if address.localPart.lowercased().hasPrefix("imceaex-") { return true }
        return ["prod.outlook.com", "prod.exchangelabs.com"].contains { address.domain == $0 || address.domain.hasSuffix("." + $0) }
    }

    public var description: String {
        if let name { return "\(name) <\(address)>" }
        return address
    }
}

/// Parser for address-list header fields (From, To, Cc, Reply-To, Resent-*): groups, comments,
/// quoted strings, angle addresses with obsolete routes, obsolete local parts.
/// - SeeAlso: RFC 5322 §3.4, §4.4 (obsolete addressing), RFC 2047 §5 (words in phrases).
public enum AddressList {
    /// Parses a header value (the unfolded raw value, before RFC 2047 decoding).
    /// - Returns: the mailboxes and the number of entries that could not be read.
    public static func parse(_ value: String) -> (addresses: [MailAddress], invalid: Int) {
        let tokens = tokenize(Array(value.utf8))
        var result: [MailAddress] = []
        var invalid = 0
        var unit: [Token] = []
        var group: String? = nil
        var inAngle = false
        // Words with no address before a comma: the surname of an unquoted `Doe, John <j@x>`,
        // as some clients write it, if a name-addr follows; else an entry that cannot be read.
        var stray: String? = nil

        func finish() {
            defer { unit.removeAll(keepingCapacity: true) }
            guard unit.contains(where: { $0.kind != .comment && $0.kind != .space }) else { return }
            let isAngle = unit.contains { $0.kind == .special && $0.byte == UInt8(ascii: "<") }
            let isPhrase = !isAngle && unit.allSatisfy { $0.kind == .atom || $0.kind == .quoted || $0.kind == .space }
            if isPhrase {
                finishStray()
                stray = phrase(unit)
                return
            }
            guard var mb = mailbox(unit, group: group) else {
                finishStray()
                invalid += 1
                return
            }
            if let surname = stray, isAngle, isSurname(surname) {
                mb.name = [surname, mb.name].compactMap { $0 }.joined(separator: ", ")
                stray = nil
            }
            finishStray()
            result.append(mb)
        }

        /// One word, or particles before one (`van der Berg`, `de la Cruz`): a surname, not a
        /// person named without an address (`Bob Carter, Jane Roe <jane@x>`).
        func isSurname(_ words: String) -> Bool {
            let parts = words.split(separator: " ")
            guard let last = parts.last, last.first?.isLetter == true else { return false }
            return parts.dropLast().allSatisfy { $0.first?.isLowercase == true }
        }

        /// Words left with no mailbox to name: an entry that cannot be read.
        func finishStray() {
            if stray != nil { invalid += 1 }
            stray = nil
        }

        for t in tokens {
            if inAngle {
                unit.append(t)
                if t.kind == .special, t.byte == UInt8(ascii: ">") { inAngle = false }
                continue
            }
            if t.kind == .special {
                switch t.byte {
                case UInt8(ascii: "<"):
                    inAngle = true
                    unit.append(t)
                case UInt8(ascii: ","):
                    finish()
                case UInt8(ascii: ";"):
                    finish()
                    finishStray()
                    group = nil
                case UInt8(ascii: ":") where !unit.contains(where: { $0.kind == .special && $0.byte == UInt8(ascii: "@") }):
                    finishStray()
                    let name = phrase(unit)
                    unit.removeAll()
                    group = name.isEmpty ? "" : name
                default:
                    unit.append(t)
                }
                continue
            }
            unit.append(t)
        }
        finish()
        finishStray()
        return (result, invalid)
    }

    enum Kind { case atom, quoted, comment, special, literal, space }

    struct Token {
        var kind: Kind
        var text: [UInt8]
        var byte: UInt8 { text.first ?? 0 }
    }

    static func isSpecial(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "@"), UInt8(ascii: ","), UInt8(ascii: ";"),
            UInt8(ascii: ":"), UInt8(ascii: "\""), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "["):
            return true
        default:
            return false
        }
    }

    static func tokenize(_ b: [UInt8]) -> [Token] {
        var tokens: [Token] = []
        var i = 0
        let n = b.count
        while i < n {
            let c = b[i]
            if ASCII.isSpace(c) {
                while i < n, ASCII.isSpace(b[i]) { i += 1 }
                tokens.append(Token(kind: .space, text: [ASCII.space]))
            } else if c == UInt8(ascii: "\"") {
                var text: [UInt8] = []
                i += 1
                while i < n, b[i] != UInt8(ascii: "\"") {
                    if b[i] == UInt8(ascii: "\\"), i + 1 < n { i += 1 }
                    if b[i] != ASCII.cr, b[i] != ASCII.lf { text.append(b[i]) }
                    i += 1
                }
                i += 1
                tokens.append(Token(kind: .quoted, text: text))
            } else if c == UInt8(ascii: "(") {
                var depth = 0
                var text: [UInt8] = []
                while i < n {
                    let d = b[i]
                    if d == UInt8(ascii: "\\"), i + 1 < n {
                        text.append(b[i + 1])
                        i += 2
                        continue
                    }
                    if d == UInt8(ascii: "(") {
                        depth += 1; if depth > 1 { text.append(d) }
                    } else if d == UInt8(ascii: ")") {
                        depth -= 1
                        if depth == 0 { i += 1; break }
                        text.append(d)
                    } else {
                        text.append(d)
                    }
                    i += 1
                }
                tokens.append(Token(kind: .comment, text: text))
            } else if c == UInt8(ascii: "[") {
                var j = i
                while j < n, b[j] != UInt8(ascii: "]") { j += 1 }
                tokens.append(Token(kind: .literal, text: Array(b[i..<min(j + 1, n)])))
                i = min(j + 1, n)
            } else if isSpecial(c) || c == UInt8(ascii: ")") {
                tokens.append(Token(kind: .special, text: [c]))
                i += 1
            } else {
                let s = i
                while i < n, !ASCII.isSpace(b[i]), !isSpecial(b[i]), b[i] != UInt8(ascii: ")") { i += 1 }
                tokens.append(Token(kind: .atom, text: Array(b[s..<i])))
            }
        }
        return tokens
    }

    /// Display-name phrase: words joined by one space, RFC 2047 decoded.
    static func phrase(_ tokens: some Sequence<Token>) -> String {
        var out: [UInt8] = []
        var pendingSpace = false
        for t in tokens {
            switch t.kind {
            case .space, .comment:
                pendingSpace = !out.isEmpty
            case .atom, .quoted, .literal, .special:
                if t.kind == .special, t.byte == UInt8(ascii: "<") || t.byte == UInt8(ascii: ">") { continue }
                if pendingSpace { out.append(ASCII.space) }
                pendingSpace = false
                out.append(contentsOf: t.text)
            }
        }
        let s = String(decoding: out, as: UTF8.self)
        return EncodedWords.decode(s).text.trimmingWhitespace()
    }

    static func mailbox(_ unit: [Token], group: String?) -> MailAddress? {
        if let open = unit.firstIndex(where: { $0.kind == .special && $0.byte == UInt8(ascii: "<") }) {
            let close = unit[open...].firstIndex { $0.kind == .special && $0.byte == UInt8(ascii: ">") } ?? unit.endIndex
            var inner = Array(unit[(open + 1)..<close])
            // obs-route: "<@a,@b:user@host>"
            if let colon = inner.lastIndex(where: { $0.kind == .special && $0.byte == UInt8(ascii: ":") }) {
                inner = Array(inner[(colon + 1)...])
            }
            var name = unquoteName(phrase(unit[..<open]))
            if name.isEmpty {
                let comments = unit.filter { $0.kind == .comment }
                if let c = comments.first { name = EncodedWords.decode(String(decoding: c.text, as: UTF8.self)).text.trimmingWhitespace() }
            }
            guard var mb = addrSpec(inner) else { return nil }
            mb.name = name.isEmpty ? nil : name
            mb.group = group
            return mb
        }
        guard var mb = addrSpec(unit) else { return nil }
        // "user@host (Full Name)": the comment is the display name.
        if let c = unit.last(where: { $0.kind == .comment }) {
            let n = EncodedWords.decode(String(decoding: c.text, as: UTF8.self)).text.trimmingWhitespace()
            if !n.isEmpty { mb.name = n }
        }
        mb.group = group
        return mb
    }

    static func unquoteName(_ s: String) -> String {
        var t = s
        while t.count >= 2, (t.first == "'" && t.last == "'") || (t.first == "\"" && t.last == "\"") {
            t = String(t.dropFirst().dropLast()).trimmingWhitespace()
        }
        return t
    }

    /// `local@domain` from tokens, ignoring comments and (obsolete) spaces around dots.
    static func addrSpec(_ tokens: [Token]) -> MailAddress? {
        let words = tokens.filter { $0.kind != .comment && $0.kind != .space }
        guard let at = words.lastIndex(where: { $0.kind == .special && $0.byte == UInt8(ascii: "@") }) else { return nil }
        var local: [UInt8] = []
        for t in words[..<at] {
            if t.kind == .quoted {
                let needsQuotes = t.text.contains { ASCII.isSpace($0) || isSpecial($0) || $0 == UInt8(ascii: "\\") }
                if needsQuotes {
                    local.append(UInt8(ascii: "\""))
                    for b in t.text {
                        if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { local.append(UInt8(ascii: "\\")) }
                        local.append(b)
                    }
                    local.append(UInt8(ascii: "\""))
                } else {
                    local.append(contentsOf: t.text)
                }
            } else if t.kind == .atom {
                local.append(contentsOf: t.text)
            } else {
                return nil
            }
        }
        var domain: [UInt8] = []
        for t in words[(at + 1)...] {
            guard t.kind == .atom || t.kind == .literal else { return nil }
            domain.append(contentsOf: t.text)
        }
        guard !local.isEmpty, !domain.isEmpty else { return nil }
        return MailAddress(localPart: String(decoding: local, as: UTF8.self), domain: String(decoding: domain, as: UTF8.self))
    }
}
