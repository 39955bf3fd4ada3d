import Foundation

/// HTML to readable plain text for bodies without a `text/plain` alternative: block elements
/// become line breaks, `<blockquote>` becomes `> ` quoting, scripts and styles are dropped and
/// character references are decoded.
/// - SeeAlso: RFC 2046 §5.1.4 (multipart/alternative), HTML Living Standard §13.5 (references).
public enum HTMLText {
    static let blockTags: Set<String> = [
        "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "hr", "pre",
        "dt", "dd", "section", "article", "header", "footer", "address", "center", "dl", "tbody", "thead",
        "form", "fieldset", "main", "nav", "aside", "figure", "o:p",
    ]
    static let skipTags: Set<String> = ["script", "style", "head", "title", "xml", "template"]

    /// The charset a document declares in a `<meta>` element within its first 1,024 octets
    /// (`<meta charset="gb2312">`, or `<meta http-equiv="Content-Type" content="text/html;
    /// charset=gb2312">`): how a browser reads HTML whose transport names no charset, as a
    /// Content-Type without `charset` does.
    /// - SeeAlso: HTML Living Standard §13.2.3.2 (prescan a byte stream to determine its encoding).
    static func metaCharset(_ bytes: some Collection<UInt8>) -> String? {
        let head = bytes.prefix(1024).map(ASCII.lower)
        var i = 0
        while let meta = find(head, "<meta", from: i) {
            let end = head[meta...].firstIndex(of: UInt8(ascii: ">")) ?? head.count
            if let at = find(Array(head[meta..<end]), "charset", from: 0) {
                var j = meta + at + 7
                while j < end, head[j] == 0x20 || head[j] == 0x09 { j += 1 }
                if j < end, head[j] == UInt8(ascii: "=") {
                    j += 1
                    while j < end, head[j] == 0x20 || head[j] == 0x09 || head[j] == UInt8(ascii: "\"") || head[j] == UInt8(ascii: "'") {
                        j += 1
                    }
                    let start = j
                    while j < end,
                        ASCII.isAlnum(head[j])
                            || [UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":")].contains(head[j])
                    {
                        j += 1
                    }
                    if j > start { return String(decoding: head[start..<j], as: UTF8.self) }
                }
            }
            i = end
        }
        return nil
    }

    /// Converts an HTML document or fragment to text.
    public static func toText(_ html: String) -> String {
        var r = Renderer(Array(html.utf8))
        r.run()
        return r.finish()
    }

    /// The conversion state: one pass over the bytes, text runs emitted as slices.
    struct Renderer {
        let b: [UInt8]
        var out: [UInt8] = []
        var quoteDepth = 0
        var pre = 0
        var pendingSpace = false
        var atLineStart = true

        init(_ bytes: [UInt8]) {
            b = bytes
            out.reserveCapacity(bytes.count / 2)
        }

        mutating func newline() {
            while let last = out.last, last == ASCII.space { out.removeLast() }
            out.append(ASCII.lf)
            atLineStart = true
            pendingSpace = false
        }

        mutating func breakLine() { if !atLineStart { newline() } }

        mutating func emit<C: Collection<UInt8>>(_ bytes: C) {
            for c in bytes {
                if c == ASCII.lf, pre > 0 { newline(); continue }
                if pre == 0, ASCII.isSpace(c) {
                    if !atLineStart { pendingSpace = true }
                    continue
                }
                if atLineStart {
                    for _ in 0..<quoteDepth { out.append(UInt8(ascii: ">")); out.append(ASCII.space) }
                    atLineStart = false
                } else if pendingSpace {
                    out.append(ASCII.space)
                }
                pendingSpace = false
                out.append(c)
            }
        }

        mutating func emitRun(_ lo: Int, _ hi: Int) {
            guard lo < hi else { return }
            let run = b[lo..<hi]
            if run.contains(UInt8(ascii: "&")) { emit(HTMLText.decodeEntities(Array(run))) } else { emit(run) }
        }

        mutating func run() {
            let n = b.count
            var i = 0
            var textStart = 0
            while i < n {
                guard b[i] == UInt8(ascii: "<") else { i += 1; continue }
                emitRun(textStart, i)
                if i + 3 < n, b[i + 1] == UInt8(ascii: "!"), b[i + 2] == ASCII.dash, b[i + 3] == ASCII.dash {
                    i = HTMLText.find(b, "-->", from: i + 4).map { $0 + 3 } ?? n
                    textStart = i
                    continue
                }
                if i + 1 < n, b[i + 1] == UInt8(ascii: "!") || b[i + 1] == UInt8(ascii: "?") {
                    // <!DOCTYPE …>, <![if …]>, <?xml …?>: declarations, not text.
                    i = (b[(i + 1)...].firstIndex(of: UInt8(ascii: ">")) ?? (n - 1)) + 1
                    textStart = i
                    continue
                }
                var j = i + 1
                let closing = j < n && b[j] == UInt8(ascii: "/")
                if closing { j += 1 }
                let nameStart = j
                while j < n, j - nameStart < 16, ASCII.isAlnum(b[j]) || b[j] == UInt8(ascii: ":") { j += 1 }
                if j == nameStart {  // "<" not starting a tag: literal text
                    textStart = i
                    i += 1
                    continue
                }
                let name = String(decoding: b[nameStart..<j].map(ASCII.lower), as: UTF8.self)
                // End of tag, skipping quoted attribute values.
                var quote: UInt8 = 0
                while j < n {
                    let d = b[j]
                    if quote != 0 {
                        if d == quote { quote = 0 }
                    } else if d == UInt8(ascii: "\"") || d == UInt8(ascii: "'") {
                        quote = d
                    } else if d == UInt8(ascii: ">") {
                        break
                    }
                    j += 1
                }
                i = min(j + 1, n)
                textStart = i
                if !closing, HTMLText.skipTags.contains(name) {
                    let closeTag = Array("</\(name)".utf8)
                    i =
                        HTMLText.findCaseInsensitive(b, closeTag, from: i).map { k in
                            (b[k...].firstIndex(of: UInt8(ascii: ">")) ?? (n - 1)) + 1
                        } ?? n
                    textStart = i
                    continue
                }
                tag(name, closing: closing)
            }
            emitRun(textStart, n)
        }

        mutating func tag(_ name: String, closing: Bool) {
            switch name {
            case "br":
                newline()
            case "blockquote":
                breakLine()
                quoteDepth = closing ? max(0, quoteDepth - 1) : quoteDepth + 1
            case "td", "th":
                if closing { pendingSpace = !atLineStart }
            case "li" where !closing:
                breakLine()
                emit("- ".utf8)
            case "pre":
                breakLine()
                pre = closing ? max(0, pre - 1) : pre + 1
            default:
                if HTMLText.blockTags.contains(name) { breakLine() }
            }
        }

        /// Non-breaking spaces kept empty paragraphs (`<p>&nbsp;</p>`) as lines; now they become
        /// spaces, trailing spaces go, and runs of blank lines collapse to one.
        func finish() -> String {
            var result: [UInt8] = []
            result.reserveCapacity(out.count)
            var blankRun = 0
            var line: [UInt8] = []
            var k = 0
            while k <= out.count {
                if k < out.count, out[k] != ASCII.lf {
                    if out[k] == 0xC2, k + 1 < out.count, out[k + 1] == 0xA0 {
                        line.append(ASCII.space)
                        k += 2
                    } else {
                        line.append(out[k])
                        k += 1
                    }
                    continue
                }
                while line.last == ASCII.space { line.removeLast() }
                if line.isEmpty {
                    blankRun += 1
                    if blankRun == 1, !result.isEmpty { result.append(ASCII.lf) }
                } else {
                    blankRun = 0
                    result.append(contentsOf: line)
                    result.append(ASCII.lf)
                }
                line.removeAll(keepingCapacity: true)
                k += 1
            }
            while result.last == ASCII.lf { result.removeLast() }
            return String(decoding: result, as: UTF8.self)
        }
    }

    /// The targets of `mailto:` URIs in `html` (RFC 6068 §2), up to their query, percent-decoded:
    /// what follows the scheme until a quote, a space, `?`, `>` or `<`.
    static func mailtoTargets(_ html: String) -> [[UInt8]] {
        let b = Array(html.utf8)
        let scheme = Array("mailto:".utf8)
        var targets: [[UInt8]] = []
        var i = 0
        while targets.count < 1_000, let start = findCaseInsensitive(b, scheme, from: i) {
            var j = start + scheme.count
            while j < b.count, j - start - scheme.count < 3 * 320 {
                let c = b[j]
                if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") || c == UInt8(ascii: "?") || c == UInt8(ascii: ">")
                    || c == UInt8(ascii: "<") || c <= 0x20
                {
                    break
                }
                j += 1
            }
            let target = ASCII.percentDecoded(b[(start + scheme.count)..<j]).prefix(320)
            // Several addresses in one URI are separated by commas.
            for address in target.split(separator: UInt8(ascii: ",")) where address.contains(UInt8(ascii: "@")) {
                targets.append(Array(address))
            }
            i = j
        }
        return targets
    }

    static func find(_ b: [UInt8], _ needle: String, from: Int) -> Int? {
        let nb = Array(needle.utf8)
        var i = from
        while i + nb.count <= b.count {
            if b[i] == nb[0], b[i..<(i + nb.count)].elementsEqual(nb) { return i }
            i += 1
        }
        return nil
    }

    static func findCaseInsensitive(_ b: [UInt8], _ needle: [UInt8], from: Int) -> Int? {
        var i = from
        while i + needle.count <= b.count {
            if ASCII.lower(b[i]) == needle[0] {
                var k = 1
                while k < needle.count, ASCII.lower(b[i + k]) == needle[k] { k += 1 }
                if k == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{00A0}", "copy": "©", "reg": "®",
        "trade": "™", "hellip": "…", "mdash": "—", "ndash": "–", "lsquo": "‘", "rsquo": "’", "ldquo": "“",
        "rdquo": "”", "laquo": "«", "raquo": "»", "euro": "€", "bull": "•", "middot": "·", "szlig": "ß",
        "pound": "£", "yen": "¥", "sect": "§", "deg": "°", "times": "×", "divide": "÷", "shy": "",
        "zwnj": "", "zwj": "", "ensp": " ", "emsp": " ", "thinsp": " ", "iexcl": "¡", "iquest": "¿",
        "aelig": "æ", "AElig": "Æ", "oslash": "ø", "Oslash": "Ø", "eth": "ð", "thorn": "þ", "oelig": "œ",
    ]
    static let accents: [(String, String)] = [
        ("acute", "\u{301}"), ("grave", "\u{300}"), ("circ", "\u{302}"), ("uml", "\u{308}"),
        ("tilde", "\u{303}"), ("cedil", "\u{327}"), ("ring", "\u{30A}"), ("caron", "\u{30C}"),
    ]

    static func entity(_ name: String) -> String? {
        if let v = named[name] ?? named[name.lowercased()] { return v }
        if name.hasPrefix("#") {
            let digits = name.dropFirst()
            let v: UInt32?
            if digits.first == "x" || digits.first == "X" { v = UInt32(digits.dropFirst(), radix: 16) } else { v = UInt32(digits) }
            guard let v else { return nil }
            if v == 0xA0 { return "\u{00A0}" }
            if v >= 0x80, v <= 0x9F { return String(Unicode.Scalar(Charset.cp1252High[Int(v - 0x80)]) ?? "\u{FFFD}") }
            return Unicode.Scalar(v).map { String($0) } ?? "\u{FFFD}"
        }
        for (suffix, mark) in accents where name.hasSuffix(suffix) && name.count == suffix.count + 1 {
            return (String(name.prefix(1)) + mark).precomposedStringWithCanonicalMapping
        }
        return nil
    }

    static func decodeEntities(_ b: [UInt8]) -> [UInt8] {
        guard b.contains(UInt8(ascii: "&")) else { return b }
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "&") {
                var j = i + 1
                while j < b.count, j - i < 12, ASCII.isAlnum(b[j]) || b[j] == UInt8(ascii: "#") { j += 1 }
                let name = String(decoding: b[(i + 1)..<j], as: UTF8.self)
                if !name.isEmpty, let v = entity(name) {
                    out.append(contentsOf: Array(v.utf8))
                    i = (j < b.count && b[j] == UInt8(ascii: ";")) ? j + 1 : j
                    continue
                }
            }
            out.append(b[i])
            i += 1
        }
        return out
    }
}
