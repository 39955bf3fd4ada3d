/// Subject prefixes (`Re:`, `Fwd:`, `WG:`, `[list]`…) in the languages of ``MailLanguages`` and
/// a few more, and the subject without them.
public enum SubjectPrefixes {
    /// Prefixes of languages ``MailLanguages`` has no row for, lower-cased: Hungarian (`VÁ`,
    /// `TOV`), Italian's `RIF`, Ukrainian (`Відп`, `Перес`), Bulgarian and Macedonian (`ОТГ`,
    /// `ПРЕП`, `ТВ`), Croatian and Serbian (`Odg`, `Prosl`), Latvian (`Atb`, `Pārs`), Lithuanian
    /// (`Ats`, `Pers`). (Icelandic writes `SV`, as the Scandinavian languages do.)
    static let otherLanguages: Set<String> = [
        "vá", "tov", "továbbítás", "rif", "відп", "перес", "пересл", "отг", "преп", "тв", "odg", "prosl", "atb", "pārs",
        "ats", "pers",
    ]

    /// The prefixes of ``MailLanguages``, lower-cased, without their colon.
    static let known: Set<String> = MailLanguages.forwardPrefixes.union(MailLanguages.replyPrefixes)

    /// Prefixes that also begin ordinary subjects (`Trans: …`, `Resp: …`, `Réf : Devis 2024`,
    /// `FS: 2023 accounts`): they tell a forward from a reply, but stay in a title.
    static let alsoWords: Set<String> = ["réf", "rép", "trans", "resp", "ris", "yan", "reenv", "reenc", "ats", "pers"]

    /// The prefixes a title loses, lower-cased, without their colon.
    static let all: Set<String> = known.union(otherLanguages).subtracting(alsoWords)

    /// Tags that mail gateways put before the subject of mail from outside the organisation
    /// (`[EXTERNAL]`, `*EXT*`, `EXTERNAL:`), lower-cased, without their brackets.
    static let gatewayTags: Set<String> = [
        "external", "ext", "extern", "externe", "externo", "esterno", "external email", "external e-mail", "external mail",
        "external message", "external sender", "caution: external", "caution external", "warning: external",
    ]

    /// The lower-cased prefixes of the subject, outermost first, e.g. `["re", "fwd"]`.
    static func prefixes(_ subject: String) -> [String] {
        var result: [String] = []
        var s = Substring(subject)
        while result.count < 10 {
            while let f = s.first, f.isWhitespace { s.removeFirst() }
            if s.first == "[", let close = s.firstIndex(of: "]"), s.distance(from: s.startIndex, to: close) < 40 {
                s = s[s.index(after: close)...]
                continue
            }
            guard let (word, rest) = prefix(s, in: known) else { break }
            result.append(word)
            s = rest
        }
        return result
    }

    /// The prefix `s` starts with, lower-cased, and what follows its colon; `nil` when it starts
    /// with none of `prefixes`. `Re[2]:`, `RE(3):`, `Fwd 2:` and `FW :` count.
    private static func prefix(_ s: Substring, in prefixes: Set<String>) -> (String, Substring)? {
        guard let colon = s.firstIndex(where: { $0 == ":" || $0 == "：" }), s.distance(from: s.startIndex, to: colon) <= 16 else {
            return nil
        }
        // Full-width forms (`ＲＥ`, `ＦＷ`) are the ASCII prefix, as East Asian keyboards type it.
        var word = String(s[..<colon]).fullWidthFormsAsASCII.foldedForLookup().trimmingWhitespace()
        // Prefixes of more than one word (Arabic `إعادة توجيه`).
        if word.containsBytes(" "), prefixes.contains(word) { return (word, s[s.index(after: colon)...]) }
        // A count: bracketed (`Re[2]`, `RE(3)`) or after a space, of one or two digits (`Fwd 2`);
        // `VS2019` and `TR 2024` are words.
        if let b = word.firstIndex(where: { $0 == "[" || $0 == "(" }) {
            word = String(word[..<b])
        } else if let space = word.lastIndex(of: " "), word[word.index(after: space)...].count <= 2,
            word[word.index(after: space)...].allSatisfy({ $0.isASCII && $0.isNumber })
        {
            word = String(word[..<space])
        }
        word = word.trimmingWhitespace()
        guard !word.isEmpty, word.count <= 14, !word.containsBytes(" "), prefixes.contains(word) else { return nil }
        return (word, s[s.index(after: colon)...])
    }

    /// `subject` without its reply and forward prefixes (`Fwd: Re: WG:`), the tags of mail
    /// gateways among them (`[EXTERNAL] RE:`), the brackets of an old-style forward (`[Fwd: …]`)
    /// and a trailing `(fwd)`; the rest as it is (`WG: Termin: 12:00 Uhr` → `Termin: 12:00 Uhr`).
    public static func stripped(_ subject: String) -> String {
        var s = Substring(subject).trimmingWhiteSpaceAndNBSP
        for _ in 0..<32 {
            if let rest = withoutGatewayTag(s) {
                s = rest.trimmingWhiteSpaceAndNBSP
            } else if s.first == "[", s.last == "]", prefix(s.dropFirst(), in: all) != nil {
                s = s.dropFirst().dropLast()
            } else if let (_, rest) = prefix(s, in: all) {
                s = rest.trimmingWhiteSpaceAndNBSP
            } else {
                break
            }
        }
        if s.count > 5, s.suffix(5).lowercased() == "(fwd)" { s = s.dropLast(5).trimmingWhiteSpaceAndNBSP }
        return String(s)
    }

    /// `s` after the gateway tag it starts with (`[EXTERNAL]`, `*EXTERNAL*`, `(EXT)`,
    /// `EXTERNAL:`), or `nil`.
    private static func withoutGatewayTag(_ s: Substring) -> Substring? {
        let pairs: [(Character, Character)] = [("[", "]"), ("*", "*"), ("(", ")")]
        if let first = s.first, let close = pairs.first(where: { $0.0 == first })?.1,
            let end = s.dropFirst().firstIndex(of: close)
        {
            let inner = s[s.index(after: s.startIndex)..<end].lowercased().trimmingWhitespace()
            if gatewayTags.contains(inner) { return s[s.index(after: end)...] }
        }
        if let (_, rest) = prefix(s, in: ["external", "extern"]) { return rest }
        return nil
    }

    /// Whether the outermost prefix marks a forward, in the given languages when known.
    static func isForward(_ subject: String, languages: Set<String> = []) -> Bool {
        guard let first = prefixes(subject).first else { return false }
        let langs = languages.compactMap { MailLanguages.byCode[$0] }
        // A prefix none of the given languages writes (a Hebrew `הועבר:` over a block in
        // English) is judged as without a language.
        if langs.contains(where: { $0.forwardPrefixes.contains(first) || $0.replyPrefixes.contains(first) }) {
            return langs.contains { $0.forwardPrefixes.contains(first) && !$0.replyPrefixes.contains(first) }
        }
        // Without a language, a prefix that is a reply somewhere ("VS" in Finnish) is not a forward.
        return MailLanguages.forwardPrefixes.contains(first) && !MailLanguages.replyPrefixes.contains(first)
    }
}

extension Substring {
    /// Without white space, no-break spaces included, at either end.
    fileprivate var trimmingWhiteSpaceAndNBSP: Substring {
        var s = self
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return s
    }
}
