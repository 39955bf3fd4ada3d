/// A body split into what the sender wrote now and the history it quotes.
/// - SeeAlso: RFC 3676 §4.3 (the `-- ` signature separator), §4.5 (`>` quoting).
public struct ReplyText: Sendable, Hashable {
    /// The new text, without quoted history and without the trailing signature.
    public var newText: String
    /// The quoted history: from the attribution line or separator on, or the `>` lines.
    public var quotedText: String
    /// The trailing signature of the new text, when one was recognised.
    public var signature: String?
    /// The attribution line (`On … wrote:`), when there is one.
    public var attribution: String?

    public init(newText: String, quotedText: String = "", signature: String? = nil, attribution: String? = nil) {
        self.newText = newText
        self.quotedText = quotedText
        self.signature = signature
        self.attribution = attribution
    }
}

/// Splits new text from quoted history with the attribution phrases of ``MailLanguages``.
enum ReplySplitter {
    /// Splits lines `lo..<hi`; `quoteStart` is a quote block found by ``ForwardScanner``.
    static func split(_ lines: TextLines, _ lo: Int, _ hi: Int, quoteStart: Int?) -> ReplyText {
        var cut = quoteStart.map { min($0, hi) }
        var attribution: String? = nil
        var i = lo
        while i < (cut ?? hi) {
            if !lines.isQuoted(i), endsWithColon(lines.slice(i)) {
                let s = lines.string(i)
                if isAttribution(s) || (nextIsQuoted(lines, i, hi) && isBareAttribution(s)) {
                    cut = i
                    attribution = s.trimmingWhitespace()
                    break
                }
            }
            // Attribution wrapped over two lines (Gmail wraps at 78 columns).
            if i + 1 < (cut ?? hi), !lines.isQuoted(i), !lines.isBlank(i), !lines.isQuoted(i + 1), endsWithColon(lines.slice(i + 1)),
                !endsWithColon(lines.slice(i))
            {
                let s = lines.string(i).trimmingWhitespace() + " " + lines.string(i + 1).trimmingWhitespace()
                if startsWithIntro(s), isAttribution(s) { cut = i; attribution = s; break }
            }
            i += 1
        }
        var newEnd = hi
        var quoted = ""
        var newLines: [Int] = []
        if let c = cut, attribution != nil, let after = interleavedAnswers(lines, c, hi) {
            // Answers between the quoted lines: every unquoted line is new text.
            newLines = Array(lo..<c) + after
            quoted = (c..<hi).filter { lines.isQuoted($0) }.map { lines.string($0) }.joined(separator: "\n")
        } else if let c = cut {
            newEnd = c
            quoted = lines.text(c, hi)
            newLines = Array(lo..<newEnd)
        } else {
            // No attribution: `>` lines are the history (bottom posting and interleaving).
            var q: [Int] = []
            for k in lo..<hi { if lines.isQuoted(k) { q.append(k) } else { newLines.append(k) } }
            if !q.isEmpty { quoted = q.map { lines.string($0) }.joined(separator: "\n") }
        }
        while let l = newLines.last, lines.isBlank(l) { newLines.removeLast() }
        while let f = newLines.first, lines.isBlank(f) { newLines.removeFirst() }
        // Signature: the last "-- " line, or a mobile / webmail signature near the end.
        var sigAt: Int? = nil
        for (k, l) in newLines.enumerated().reversed() {
            let s = lines.slice(l)
            if s.elementsEqual("-- ".utf8) || s.elementsEqual("--".utf8) { sigAt = k; break }
        }
        if sigAt == nil {
            var seen = 0
            for (k, l) in newLines.enumerated().reversed() where !lines.isBlank(l) {
                seen += 1
                if seen > 4 { break }
                let lower = lines.string(l).trimmingWhitespace().lowercased()
                if MailLanguages.signatureStarts.contains(where: { lower.hasPrefix($0) }) { sigAt = k }
            }
        }
        var signature: String? = nil
        if let s = sigAt {
            signature = newLines[s...].map { lines.string($0) }.joined(separator: "\n")
            newLines = Array(newLines[..<s])
            while let l = newLines.last, lines.isBlank(l) { newLines.removeLast() }
        }
        let newText = newLines.map { lines.string($0) }.joined(separator: "\n")
        return ReplyText(newText: newText, quotedText: quoted, signature: signature, attribution: attribution)
    }

    /// After an attribution at `c`, the unquoted lines when some of them come before more quoted
    /// lines (inline answers); `nil` when the history is one quoted block.
    static func interleavedAnswers(_ lines: TextLines, _ c: Int, _ hi: Int) -> [Int]? {
        var k = c + 1
        while k < hi, !lines.isQuoted(k) { k += 1 }  // the attribution may span two lines
        var unquoted: [Int] = []
        var answerBeforeQuote = false
        var sawQuote = false
        var sawAnswer = false
        while k < hi {
            if lines.isQuoted(k) {
                if sawAnswer { answerBeforeQuote = true }
                sawQuote = true
            } else if sawQuote {
                unquoted.append(k)
                if !lines.isBlank(k) { sawAnswer = true }
            }
            k += 1
        }
        return answerBeforeQuote ? unquoted : nil
    }

    static func nextIsQuoted(_ lines: TextLines, _ i: Int, _ hi: Int) -> Bool {
        var k = i + 1
        while k < hi, lines.isBlank(k) { k += 1 }
        return k < hi && lines.isQuoted(k)
    }

    /// Gmail in Japanese, Russian and other languages writes no verb: `<date> Name <a@b>:`.
    static func isBareAttribution(_ s: String) -> Bool {
        let t = s.trimmingWhitespace()
        guard t.count <= 300, t.hasSuffix(">:") || t.hasSuffix(">：") else { return false }
        return t.containsBytes("@") && t.containsDigit
    }

    static func endsWithColon(_ s: ArraySlice<UInt8>) -> Bool {
        var hi = s.endIndex
        while hi > s.startIndex, ASCII.isSpace(s[hi - 1]) { hi -= 1 }
        guard hi > s.startIndex else { return false }
        if s[hi - 1] == ASCII.colon { return true }
        return hi - s.startIndex >= 3 && s[hi - 3] == 0xEF && s[hi - 2] == 0xBC && s[hi - 1] == 0x9A
    }

    /// Whether `s` starts with an intro word (`On`, `Le`, `Am`): followed by a space, or, in a
    /// script written without spaces (Han, kana, Hangul), by anything.
    static func startsWithIntro(_ s: String) -> Bool {
        let lower = s.lowercased()
        return MailLanguages.replyIntros.contains {
            lower.hasPrefix($0 + " ") || ($0.unicodeScalars.first!.isInScriptWithoutSpaces && lower.hasPrefix($0))
        }
    }

    /// Whether `lower` holds `verb` as a word of its own: not inside a longer word (`rewrote`,
    /// `beschrieb`, Hebrew `מכתב` around `כתב`, Arabic `مكتب` around `كتب`), except in scripts
    /// written without spaces.
    static func containsVerb(_ lower: String, _ verb: String) -> Bool {
        guard let first = verb.unicodeScalars.first, !first.isInScriptWithoutSpaces else { return lower.containsBytes(verb) }
        var searchStart = lower.startIndex
        while let range = lower.range(of: verb, range: searchStart..<lower.endIndex) {
            let before =
                range.lowerBound == lower.startIndex ? nil : lower.unicodeScalars[lower.unicodeScalars.index(before: range.lowerBound)]
            if before.map({ !($0.properties.isAlphabetic || $0.properties.numericType != nil) }) ?? true { return true }
            searchStart = range.upperBound
        }
        return false
    }

    /// `On Mon, 4 Mar 2024 John <j@x> wrote:` and its translations. Invisible format characters
    /// (the bidirectional marks Hebrew and Arabic mailers put around names and addresses) are
    /// not part of it.
    static func isAttribution(_ s: String) -> Bool {
        let t = s.withoutInvisibleMarks.trimmingWhitespace()
        guard t.count <= 400 else { return false }
        let lower = t.lowercased()
        guard MailLanguages.replyVerbs.contains(where: { containsVerb(lower, $0) }) else { return false }
        if startsWithIntro(lower) { return true }
        return lower.containsBytes("@") || lower.containsDigit
    }
}
