/// RFC 2047 encoded words (`=?charset?B|Q?text?=`): decoding of header text.
///
/// Adjacent encoded words separated only by whitespace are joined, and consecutive words in the
/// same charset are decoded together so a multi-byte character split across words survives.
/// Unknown charsets degrade to UTF-8 / Windows-1252; malformed words stay literal.
/// - SeeAlso: RFC 2047 §2 (syntax), §4 (B and Q), §6.2 (display of adjacent words); RFC 2231 §5
///   (language suffix `charset*lang`).
public enum EncodedWords {
    /// Decodes every encoded word in `text`.
    /// - Returns: the decoded text and whether a word had an unknown charset or bad bytes.
    public static func decode(_ text: String) -> (text: String, defective: Bool) {
        var utf8 = Array(text.utf8)
        guard containsMarker(utf8) else { return (text, false) }
        var defective = false
        var out = ""
        var literalStart = 0
        var pendingCharset: String? = nil
        var pendingBytes: [UInt8] = []
        var lastWordEnd = -1
        var i = 0
        let n = utf8.count

        func flushPending() {
            guard let cs = pendingCharset else { return }
            let d = Charset.decode(pendingBytes, label: cs)
            if d.unknownCharset || d.invalidBytes { defective = true }
            out += d.text
            pendingCharset = nil
            pendingBytes.removeAll(keepingCapacity: true)
        }

        // Set once a word runs to the end without `?=`: no later word can close either.
        var exhausted = false
        while i + 1 < n {
            guard utf8[i] == UInt8(ascii: "="), utf8[i + 1] == UInt8(ascii: "?"),
                let word = parseWord(&utf8, at: i, exhausted: &exhausted)
            else { i += 1; continue }
            // Literal text between the previous word and this one.
            let between = utf8[literalStart..<i]
            let onlySpace = lastWordEnd == literalStart && between.allSatisfy(ASCII.isSpace)
            if !onlySpace {
                flushPending()
                out += String(decoding: between, as: UTF8.self)
            }
            if let cs = pendingCharset, Charset.canonicalName(cs) != Charset.canonicalName(word.charset) { flushPending() }
            if pendingCharset == nil { pendingCharset = word.charset }
            pendingBytes.append(contentsOf: word.bytes)
            if word.defective { defective = true }
            i = word.end
            literalStart = i
            lastWordEnd = i
        }
        flushPending()
        if literalStart < n { out += String(decoding: utf8[literalStart..<n], as: UTF8.self) }
        return (out, defective)
    }

    static func containsMarker(_ bytes: [UInt8]) -> Bool {
        var i = 0
        while i + 1 < bytes.count {
            if bytes[i] == UInt8(ascii: "="), bytes[i + 1] == UInt8(ascii: "?") { return true }
            i += 1
        }
        return false
    }

    struct Word {
        var charset: String
        var bytes: [UInt8]
        var end: Int
        var defective: Bool
    }

    /// Parses one encoded word starting at `start` (which holds `=?`).
    static func parseWord(_ s: inout [UInt8], at start: Int, exhausted: inout Bool) -> Word? {
        let n = s.count
        var i = start + 2
        let csStart = i
        while i < n, s[i] != UInt8(ascii: "?"), s[i] > 0x20, s[i] < 0x7F, i - csStart < 64 { i += 1 }
        guard i < n, s[i] == UInt8(ascii: "?"), i > csStart else { return nil }
        var charset = String(decoding: s[csStart..<i], as: UTF8.self)
        if let star = charset.firstIndex(of: "*") { charset = String(charset[..<star]) }  // RFC 2231 §5
        guard i + 2 < n, s[i + 2] == UInt8(ascii: "?") else { return nil }
        let enc = ASCII.lower(s[i + 1])
        guard enc == UInt8(ascii: "b") || enc == UInt8(ascii: "q") else { return nil }
        let textStart = i + 3
        if exhausted { return nil }
        var j = textStart
        while j + 1 < n, !(s[j] == UInt8(ascii: "?") && s[j + 1] == UInt8(ascii: "=")) {
            if s[j] == ASCII.lf || s[j] == ASCII.cr { return nil }
            j += 1
        }
        guard j + 1 < n else {
            exhausted = true
            return nil
        }
        let text = s[textStart..<j]
        let decoded: (bytes: [UInt8], defective: Bool)
        if enc == UInt8(ascii: "b") {
            decoded = Base64.decode(text)
        } else {
            decoded = QuotedPrintable.decode(text, underscoreIsSpace: true)
        }
        return Word(charset: charset, bytes: decoded.bytes, end: j + 2, defective: decoded.defective)
    }
}
