import Glibc

/// Where a person's address was found in a message.
/// - SeeAlso: RFC 5322 §3.6.2 (originator), §3.6.3 (destination), §3.6.6 (resent fields).
public struct PersonSource: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let from = PersonSource(rawValue: "from")
    public static let sender = PersonSource(rawValue: "sender")
    public static let replyTo = PersonSource(rawValue: "reply-to")
    public static let to = PersonSource(rawValue: "to")
    public static let cc = PersonSource(rawValue: "cc")
    public static let bcc = PersonSource(rawValue: "bcc")
    public static let forwardedFrom = PersonSource(rawValue: "forwarded-from")
    public static let forwardedTo = PersonSource(rawValue: "forwarded-to")
    public static let forwardedCc = PersonSource(rawValue: "forwarded-cc")
    /// The Reply-To of an attached original (a form's sender often replies through it).
    public static let forwardedReplyTo = PersonSource(rawValue: "forwarded-reply-to")
    /// The organizer of a meeting invitation the message carries (``CalendarPeople``).
    public static let invitationOrganizer = PersonSource(rawValue: "invitation-organizer")
    /// An attendee of a meeting invitation the message carries.
    public static let invitationAttendee = PersonSource(rawValue: "invitation-attendee")
    public static let body = PersonSource(rawValue: "body")
    /// `resent-from`, `resent-to`…: the lower-cased header name.
    public static func header(_ name: String) -> PersonSource { PersonSource(rawValue: name.lowercased()) }
}

/// Someone in a message: an address, the display name when one is known, and every place it
/// was found (the first is the most authoritative: header fields before forwards before body).
/// - SeeAlso: RFC 5322 §3.4 (mailboxes), §3.6 (the fields they come from).
public struct Person: Sendable, Hashable {
    public var address: MailAddress
    public var name: String?
    public var sources: [PersonSource]
    /// The first place the address was found.
    public var source: PersonSource { sources.first ?? .body }
}

/// Collects people, deduplicated by normalised address, in order of discovery.
struct PeopleCollector {
    private(set) var people: [Person] = []
    private var index: [String: Int] = [:]

    mutating func add(_ address: MailAddress, source: PersonSource) {
        guard address.isComplete else { return }
        let key = address.normalized
        if let i = index[key] {
            if !people[i].sources.contains(source) { people[i].sources.append(source) }
            if people[i].name == nil, let n = address.name { people[i].name = n }
            return
        }
        index[key] = people.count
        people.append(Person(address: address, name: address.name, sources: [source]))
    }
}

/// Finds email addresses in free text and filters the false positives that plague bodies:
/// content ids (`image001.png@01D9…`), retina file names (`logo@2x.png`), Message-IDs,
/// addresses inside URL paths, and domains that cannot exist.
/// - SeeAlso: RFC 5322 §3.4.1 (addr-spec), RFC 1035 §2.3.1 (labels), RFC 2392 (cid: URLs).
enum AddressScanner {
    struct Hit {
        var address: MailAddress
        var nameHint: String?
        var range: Range<Int>
    }

    static let fileExtensions: Set<String> = [
        "png", "jpg", "jpeg", "gif", "webp", "svg", "bmp", "ico", "tif", "tiff", "heic", "css", "js", "pdf",
        "doc", "docx", "xls", "xlsx", "zip", "mp4", "mov", "mp3", "wav", "txt", "htm", "html", "php", "aspx",
    ]

    static let messageIDDomains: [String] = ["mail.gmail.com", "prod.outlook.com", "prod.exchangelabs.com", "mx.google.com"]

    @inline(__always)
    static func isLocalChar(_ b: UInt8) -> Bool {
        if ASCII.isAlnum(b) { return true }
        switch b {
        case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "!"),
            UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "*"),
            UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: "?"), UInt8(ascii: "^"), UInt8(ascii: "`"),
            UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"), UInt8(ascii: "~"), UInt8(ascii: "'"):
            return true
        default:
            return false
        }
    }

    @inline(__always)
    static func isDomainChar(_ b: UInt8) -> Bool {
        ASCII.isAlnum(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
    }

    /// Every plausible address in `bytes`, in order. With `filter`, drops the false positives.
    ///
    /// Outside ASCII an address is made of letters, marks and digits (RFC 6531 addresses, IDN
    /// domains); punctuation, symbols and spaces (`«`, `’`, `，`, `。`, `：`) end it. Text in a script
    /// written without spaces runs into the address it precedes or follows
    /// (`担当：山田yamada@yamada-kogyo.co.jpまで`): a local part, or a domain label, that mixes ASCII
    /// letters with letters of such a script is cut to the ASCII part next to the `@` (none when
    /// the other script's letters touch the `@`: `yamada山田@x.jp` gives no address).
    static func scan(_ bytes: [UInt8], filter: Bool = true, excluding: Set<String> = [], limit: Int = 10_000) -> [Hit] {
        var hits: [Hit] = []
        bytes.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            let n = buf.count
            var p = 0
            var token = TokenTracker()
            while p < n, hits.count < limit {
                guard let hit = memchr(base + p, Int32(UInt8(ascii: "@")), n - p) else { break }
                let at = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
                p = at + 1
                // Local part, leftwards, a character at a time.
                var ls = at
                var asciiLetters = false
                var otherScript = false
                var sameScriptStart = at  // the start of the part without other scripts' letters next to the '@'
                while ls > 0 {
                    let b = buf[ls - 1]
                    if b < 0x80 {
                        guard at - ls < 128, isLocalChar(b) else { break }
                        asciiLetters = asciiLetters || ASCII.isAlpha(b)
                        ls -= 1
                    } else {
                        guard let (scalar, start) = decodeScalar(buf, before: ls), at - start <= 128, isWordScalar(scalar) else { break }
                        otherScript = otherScript || !isLatin(scalar)
                        ls = start
                    }
                    if !otherScript { sameScriptStart = ls }
                }
                if asciiLetters && otherScript { ls = sameScriptStart }
                while ls < at,
                    buf[ls] == UInt8(ascii: ".") || buf[ls] == UInt8(ascii: "'") || buf[ls] == UInt8(ascii: "=")
                        || buf[ls] == UInt8(ascii: "/") || buf[ls] == UInt8(ascii: "?") || buf[ls] == UInt8(ascii: "|")
                { ls += 1 }
                guard ls < at else { continue }
                // Domain, rightwards, a character at a time.
                var de = at + 1
                while de < n {
                    let b = buf[de]
                    if b < 0x80 {
                        guard de - at < 256, isDomainChar(b) else { break }
                        de += 1
                    } else {
                        guard let (scalar, end) = decodeScalar(buf, at: de), end - at <= 256, isWordScalar(scalar) else { break }
                        de = end
                    }
                }
                if let cut = mixedLabelCut(buf, at + 1, de) {
                    de = validPrefixEnd(buf, at + 1, cut)
                } else {
                    while de > at + 1, buf[de - 1] == UInt8(ascii: ".") || buf[de - 1] == UInt8(ascii: "-") { de -= 1 }
                }
                guard de > at + 1 else { continue }
                let local = Array(buf[ls..<at]), domain = Array(buf[(at + 1)..<de])
                if local.count > 64 || local.last == UInt8(ascii: ".") { continue }
                guard validDomain(domain) else { continue }
                let localStr = String(decoding: local, as: UTF8.self)
                let domainStr = String(decoding: domain, as: UTF8.self).lowercased()
                if filter {
                    token.advance(buf, to: ls)
                    if falsePositive(
                        buf, localStart: ls, token: token, local: local, domain: domainStr, excluding: excluding, localStr: localStr)
                    {
                        continue
                    }
                }
                var address = MailAddress(localPart: localStr, domain: domainStr)
                let name = nameBefore(buf, ls, trusted: !filter)
                address.name = name
                hits.append(Hit(address: address, nameHint: name, range: ls..<de))
                p = de
            }
        }
        return hits
    }

    /// The end of the domain in `start..<end` before the first label that mixes ASCII letters
    /// with letters of another script than Latin (`jpまでお送りください`): at the first such letter
    /// when ASCII letters come before it, else at the label's start; `nil` when no label mixes.
    /// `müller.example` and `例え.jp` mix scripts only across labels or with Latin letters: IDN.
    static func mixedLabelCut(_ buf: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
        var labelStart = start
        var asciiLetters = false
        var otherScript: Int?
        var asciiFirst = false
        var i = start
        while i <= end {
            if i == end || buf[i] == UInt8(ascii: ".") {
                if asciiLetters, let other = otherScript { return asciiFirst ? other : labelStart }
                (labelStart, asciiLetters, otherScript, asciiFirst) = (i + 1, false, nil, false)
                i += 1
            } else if buf[i] < 0x80 {
                if ASCII.isAlpha(buf[i]) {
                    asciiLetters = true
                    if otherScript == nil { asciiFirst = true }
                }
                i += 1
            } else {
                guard let (scalar, next) = decodeScalar(buf, at: i) else { return i }
                if otherScript == nil, !isLatin(scalar) { otherScript = i }
                i = next
            }
        }
        return nil
    }

    /// The end of the longest valid domain that `start..<end` begins with, cut after a label or
    /// after the leading letters of its last label (`acme.com2024` → `acme.com`); `start` when
    /// there is none. One pass over the labels (``validDomain(_:)``'s rules, label by label): a
    /// hostile run of labels costs no more than its length.
    static func validPrefixEnd(_ buf: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int {
        var best = start
        var labelStart = start
        var labels = 0
        var i = start
        while i <= end {
            guard i == end || buf[i] == UInt8(ascii: ".") else {
                i += 1
                continue
            }
            labels += 1
            let label = buf[labelStart..<i]
            let isValid = isLabel(label)
            if labels >= 2 {
                // As the last label, judged without the dashes it ends with (`xn--p1ai-まで`).
                var last = i
                while last > labelStart, buf[last - 1] == ASCII.dash { last -= 1 }
                let tld = buf[labelStart..<last]
                if isLabel(tld) && tld.count >= 2 && isTopLevel(tld) && last - start <= 253 {
                    best = last
                } else {
                    var letters = labelStart
                    while letters < i, ASCII.isAlpha(buf[letters]) { letters += 1 }
                    if letters - labelStart >= 2 && letters - labelStart <= 63 && letters - start <= 253 { best = letters }
                }
            }
            guard isValid else { break }
            labelStart = i + 1
            i += 1
        }
        return best
    }

    /// Whether a non-ASCII scalar can be part of an address in text: a letter, a mark or a
    /// digit (general categories L, M, N); punctuation, symbols, spaces and controls cannot.
    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .nonspacingMark, .spacingMark,
            .enclosingMark, .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }

    /// Whether a non-ASCII scalar is a Latin letter or a combining mark, which words in ASCII
    /// letters mix with (`josé`, `müller`), unlike the letters of other scripts.
    static func isLatin(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00C0...0x024F, 0x0300...0x036F, 0x1E00...0x1EFF, 0x2C60...0x2C7F, 0xA720...0xA7FF, 0xAB30...0xAB6F: return true
        default: return false
        }
    }

    /// The scalar whose UTF-8 sequence starts at `i`, and the index after it; `nil` when the
    /// bytes there are not a valid sequence (RFC 3629 §4).
    static func decodeScalar(_ buf: UnsafeBufferPointer<UInt8>, at i: Int) -> (Unicode.Scalar, Int)? {
        let lead = buf[i]
        let count: Int
        let smallest: UInt32
        var value: UInt32
        switch lead {
        case 0xC2...0xDF: (count, smallest, value) = (2, 0x80, UInt32(lead & 0x1F))
        case 0xE0...0xEF: (count, smallest, value) = (3, 0x800, UInt32(lead & 0x0F))
        case 0xF0...0xF4: (count, smallest, value) = (4, 0x1_0000, UInt32(lead & 0x07))
        default: return nil
        }
        guard i + count <= buf.count else { return nil }
        for k in (i + 1)..<(i + count) {
            guard buf[k] & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(buf[k] & 0x3F)
        }
        guard value >= smallest, let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, i + count)
    }

    /// The scalar whose UTF-8 sequence ends just before `end`, and the index it starts at.
    static func decodeScalar(_ buf: UnsafeBufferPointer<UInt8>, before end: Int) -> (Unicode.Scalar, Int)? {
        var start = end - 1
        while start > 0, end - start < 4, buf[start] & 0xC0 == 0x80 { start -= 1 }
        guard let (scalar, next) = decodeScalar(buf, at: start), next == end else { return nil }
        return (scalar, start)
    }

    static func validDomain(_ d: [UInt8]) -> Bool {
        guard d.count <= 253 else { return false }
        let labels = d.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        guard labels.allSatisfy(isLabel) else { return false }
        let tld = labels.last!
        return (tld.count >= 2 || tld.hasPrefixLowercased("xn--") || tld.contains { $0 >= 0x80 }) && isTopLevel(tld)
    }

    /// A domain label: 1 to 63 octets, no dash at either end (RFC 1035 §2.3.1).
    static func isLabel<Label: BidirectionalCollection<UInt8>>(_ label: Label) -> Bool {
        !label.isEmpty && label.count <= 63 && label.first != ASCII.dash && label.last != ASCII.dash
    }

    /// Whether a label can end a domain in text: an `xn--` label with something after the
    /// prefix, one with letters beyond ASCII, or ASCII letters only.
    static func isTopLevel<Label: Collection<UInt8>>(_ label: Label) -> Bool where Label.Index == Int {
        if label.hasPrefixLowercased("xn--") { return label.count > 4 }
        return label.contains { $0 >= 0x80 } || label.allSatisfy(ASCII.isAlpha)
    }

    static func falsePositive(
        _ buf: UnsafeBufferPointer<UInt8>, localStart ls: Int, token: TokenTracker, local: [UInt8], domain: String,
        excluding: Set<String>, localStr: String
    ) -> Bool {
        let tld = domain.split(separator: ".").last.map(String.init) ?? ""
        if fileExtensions.contains(tld) { return true }
        let lowerLocal = localStr.lowercased()
        if let ext = lowerLocal.split(separator: ".").last, lowerLocal.containsBytes("."),
            fileExtensions.contains(String(ext))
        {
            return true
        }
        if excluding.contains("\(localStr)@\(domain)") || excluding.contains("\(lowerLocal)@\(domain)") { return true }
        for d in messageIDDomains where domain == d || domain.hasSuffix("." + d) { return true }
        let digits = local.reduce(0) { $0 + (ASCII.isDigit($1) ? 1 : 0) }
        if local.count >= 24 && digits >= 6 { return true }
        // What precedes, within the same whitespace-delimited token.
        let t = token.start
        if t < ls {
            func startsWith(_ word: String) -> Bool {
                ls - t >= word.utf8.count && buf[t..<(t + word.utf8.count)].map(ASCII.lower).elementsEqual(word.utf8)
            }
            if startsWith("mailto:") { return false }
            if startsWith("cid:") || startsWith("www.") || token.hasScheme { return true }
            if buf[ls - 1] == UInt8(ascii: "/") || buf[ls - 1] == UInt8(ascii: "=") { return true }
        }
        return false
    }

    /// The whitespace-delimited token around increasing positions, found in amortised linear
    /// time: each byte is examined once however many `@` a long token holds.
    struct TokenTracker {
        /// Start of the token that contains the last position.
        var start = 0
        /// Whether the token so far contains `://`.
        var hasScheme = false
        private var analysed = 0

        static func isDelimiter(_ c: UInt8) -> Bool {
            ASCII.isSpace(c) || c == UInt8(ascii: "<") || c == UInt8(ascii: ">") || c == UInt8(ascii: "\"")
                || c == UInt8(ascii: "(") || c == UInt8(ascii: "[") || c == UInt8(ascii: ",") || c == UInt8(ascii: ";")
        }

        mutating func advance(_ buf: UnsafeBufferPointer<UInt8>, to pos: Int) {
            guard pos > analysed else { return }
            var j = pos
            while j > analysed, !Self.isDelimiter(buf[j - 1]) { j -= 1 }
            if j > analysed {  // a delimiter among the new bytes: a new token
                start = j
                hasScheme = false
            }
            // Look for "://" in the newly covered bytes (and the two before, for a split match).
            var k = max(start, analysed - 2, 0)
            while k + 3 <= pos {
                if buf[k] == ASCII.colon, buf[k + 1] == UInt8(ascii: "/"), buf[k + 2] == UInt8(ascii: "/") { hasScheme = true; break }
                k += 1
            }
            analysed = pos
        }
    }

    static func contains(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
        guard hay.count >= needle.count else { return false }
        for i in 0...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) { return true }
        return false
    }

    /// A display name written before `<address>` or `<mailto:address>` on the same line. In free
    /// text (`trusted` false) only words that look like a name count; in an address field of a
    /// forwarded header block (`trusted`), what stands before the address is its display name,
    /// `Anneke de Vries` as well as `jan smit`. The time of an attribution line (`… at 4:47 PM
    /// Nora Quinn <nora@…> wrote:`, `… à 09:12, Hugo Bernard <…>`) is no part of the name.
    static func nameBefore(_ buf: UnsafeBufferPointer<UInt8>, _ ls: Int, trusted: Bool = false) -> String? {
        var k = ls
        if k >= 7, buf[(k - 7)..<k].map(ASCII.lower).elementsEqual("mailto:".utf8) { k -= 7 }
        guard k > 0 else { return nil }
        let opener = buf[k - 1]
        guard opener == UInt8(ascii: "<") || opener == UInt8(ascii: "[") || opener == UInt8(ascii: "(") else { return nil }
        let end = k - 1
        var s = end
        while s > 0, end - s < 120 {
            let c = buf[s - 1]
            if c == ASCII.lf || c == UInt8(ascii: ";") || c == UInt8(ascii: ">") || c == UInt8(ascii: "]") || c == ASCII.colon
                || c == ASCII.tab || (opener == UInt8(ascii: "(") && c == UInt8(ascii: ","))
            {
                break
            }
            s -= 1
        }
        var raw = String(decoding: UnsafeBufferPointer(rebasing: buf[s..<end]), as: UTF8.self)
        // `04.03.2024, 15:41, "Name" <a@b>`: the quoted part is the name.
        if let q2 = raw.lastIndex(of: "\""), let q1 = raw[..<q2].lastIndex(of: "\"") {
            let quoted = ForwardScanner.cleanName(String(raw[raw.index(after: q1)..<q2]))
            return quoted.isEmpty || quoted.containsBytes("@") ? nil : quoted
        } else if let q = raw.firstIndex(of: "\"") {
            raw = String(raw[raw.index(after: q)...])
        }
        // `… at 4:47 PM Nora Quinn <…>`: the scan stopped at the colon of a time, whose minutes
        // begin the text.
        let afterTime = s >= 2 && buf[s - 1] == ASCII.colon && ASCII.isDigit(buf[s - 2])
        let name = ForwardScanner.cleanName(afterTime ? withoutLeadingTime(raw) : raw)
        guard !name.isEmpty, !name.containsBytes("@"), name.utf8.count <= 240 else { return nil }
        if trusted { return name }
        // Unquoted free text is a name only when it looks like one: at most five words, each
        // capitalised (or in a script without case), none a number, so "or write to <a@b>" is
        // not a name.
        let words = name.split(whereSeparator: { $0 == " " || $0 == "," })
        guard words.count <= 5, words.allSatisfy(looksLikeNameWord) else { return nil }
        return name
    }

    /// Whether a word of free text may be part of a name: its first letter a capital (or of a
    /// script without case), or digits with letters (`3M`, `20th`); `(Sales)` is one, `47` and
    /// `or` are not.
    static func looksLikeNameWord(_ word: Substring) -> Bool {
        guard let first = word.first(where: { $0.isLetter || $0.isNumber }) else { return false }
        if first.isNumber { return word.contains(where: \.isLetter) }
        return first.isUppercase || !first.isCased
    }

    /// `text` without the end of a time it starts with: the minutes and what follows them of
    /// `4:47 PM Nora Quinn` cut at the colon (`47 PM Nora Quinn`, `12, Ben Ellis`, `05 Grace
    /// Kim`), so only the name is left.
    static func withoutLeadingTime(_ text: String) -> String {
        var rest = text[...].drop(while: { $0 == " " || $0 == "\u{00A0}" || $0 == "\t" })
        let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
        guard digits.count == 2 else { return text }
        rest = rest.dropFirst(digits.count)
        // Seconds (`4:47:12`) are cut at the first colon too; the name begins after them.
        rest = rest.drop(while: { $0 == " " || $0 == "," || $0 == "\u{00A0}" || $0 == "\u{202F}" })
        for marker in ["am", "pm", "a.m.", "p.m.", "a. m.", "p. m.", "uhr", "h"] {
            let word = rest.prefix(marker.count)
            if word.lowercased() == marker, rest.dropFirst(marker.count).first.map({ $0 == " " || $0 == "," }) ?? true {
                rest = rest.dropFirst(marker.count)
                break
            }
        }
        rest = rest.drop(while: { $0 == " " || $0 == "," || $0 == "\u{00A0}" || $0 == "\u{202F}" })
        // `um 15:41 schrieb Jörg Weiß <…>`: the verb comes before the name.
        let lowered = rest.lowercased()
        for verb in MailLanguages.replyVerbs where lowered.hasPrefix(verb + " ") {
            rest = rest.dropFirst(verb.count + 1)
            break
        }
        return String(rest)
    }
}
