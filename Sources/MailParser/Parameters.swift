/// A `Content-Type` value: media type, subtype and parameters.
/// - SeeAlso: RFC 2045 §5.1 (syntax), RFC 2231 §3–§4 (continuations, charsets), RFC 2046.
public struct ContentType: Sendable, Hashable {
    /// Lower-cased top-level type, e.g. `text`.
    public var type: String
    /// Lower-cased subtype, e.g. `plain`.
    public var subtype: String
    /// Parameters with lower-cased names, RFC 2231 and RFC 2047 decoded.
    public var parameters: [String: String]

    /// `type/subtype`.
    public var mimeType: String { "\(type)/\(subtype)" }
    /// The `charset` parameter when present.
    public var charset: String? { parameters["charset"] }
    /// The `boundary` parameter when present.
    public var boundary: String? { parameters["boundary"] }
    public var isMultipart: Bool { type == "multipart" }

    /// `text/plain; charset=us-ascii`: the default of RFC 2045 §5.2.
    public static let `default` = ContentType(type: "text", subtype: "plain", parameters: [:])
    /// `message/rfc822`: the default inside multipart/digest (RFC 2046 §5.1.5).
    public static let digestDefault = ContentType(type: "message", subtype: "rfc822", parameters: [:])

    public init(type: String, subtype: String, parameters: [String: String]) {
        self.type = type
        self.subtype = subtype
        self.parameters = parameters
    }

    /// Parses a header value; `nil` when there is no usable `type/subtype`.
    public init?(headerValue: String) {
        let (head, params) = ParameterList.split(headerValue)
        let lower = head.lowercased()
        guard let slash = lower.firstIndex(of: "/") else {
            if lower == "text" { self.init(type: "text", subtype: "plain", parameters: params); return }
            return nil
        }
        let t = lower[..<slash].trimmingWhitespace()
        let s = lower[lower.index(after: slash)...].trimmingWhitespace()
        guard !t.isEmpty, !s.isEmpty else { return nil }
        self.init(type: t, subtype: s, parameters: params)
    }
}

/// A `Content-Disposition` value.
/// - SeeAlso: RFC 2183 §2, RFC 2231.
public struct ContentDisposition: Sendable, Hashable {
    /// Lower-cased disposition type: `inline`, `attachment`, or another value.
    public var type: String
    public var parameters: [String: String]
    public var filename: String? { parameters["filename"] }
    public var isAttachment: Bool { type == "attachment" }

    public init(headerValue: String) {
        let (head, params) = ParameterList.split(headerValue)
        self.type = head.lowercased().trimmingWhitespace()
        self.parameters = params
    }
}

extension StringProtocol {
    /// Trims ASCII whitespace, NUL, NBSP and ideographic spaces (on UTF-8 bytes).
    func trimmingWhitespace() -> String {
        let whole = String(self)
        let u = whole.utf8
        var lo = u.startIndex, hi = u.endIndex
        func isWS(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0 || b == 0x0B || b == 0x0C }
        while true {
            if lo < hi, isWS(u[lo]) { lo = u.index(after: lo); continue }
            // U+00A0 (C2 A0), U+3000 (E3 80 80)
            if lo < hi, u[lo] == 0xC2, u.index(after: lo) < hi, u[u.index(after: lo)] == 0xA0 { lo = u.index(lo, offsetBy: 2); continue }
            if lo < hi, u[lo] == 0xE3, u.distance(from: lo, to: hi) >= 3, u[u.index(lo, offsetBy: 1)] == 0x80,
                u[u.index(lo, offsetBy: 2)] == 0x80
            {
                lo = u.index(lo, offsetBy: 3); continue
            }
            break
        }
        while true {
            if hi > lo, isWS(u[u.index(before: hi)]) { hi = u.index(before: hi); continue }
            if u.distance(from: lo, to: hi) >= 2, u[u.index(hi, offsetBy: -1)] == 0xA0, u[u.index(hi, offsetBy: -2)] == 0xC2 {
                hi = u.index(hi, offsetBy: -2); continue
            }
            if u.distance(from: lo, to: hi) >= 3, u[u.index(hi, offsetBy: -1)] == 0x80, u[u.index(hi, offsetBy: -2)] == 0x80,
                u[u.index(hi, offsetBy: -3)] == 0xE3
            {
                hi = u.index(hi, offsetBy: -3); continue
            }
            break
        }
        if lo == u.startIndex, hi == u.endIndex { return whole }
        return String(whole[lo..<hi])
    }
}

/// Parameter lists (`; name=value`) with quoted strings, comments, RFC 2231 continuations and
/// charsets, and RFC 2047 words inside quoted values (sent by Outlook and others).
enum ParameterList {
    /// Splits `value; a=b; c="d"` into the leading value and the parameter dictionary.
    static func split(_ value: String) -> (String, [String: String]) {
        let bytes = Array(value.utf8)
        var i = 0
        let n = bytes.count
        // Leading value up to the first ';' outside quotes, without comments.
        var head: [UInt8] = []
        while i < n, bytes[i] != UInt8(ascii: ";") {
            if bytes[i] == UInt8(ascii: "(") { i = skipComment(bytes, i); continue }
            head.append(bytes[i])
            i += 1
        }
        var raw: [(name: String, value: [UInt8], quoted: Bool)] = []
        while i < n {
            i += 1  // skip ';'
            while i < n, ASCII.isSpace(bytes[i]) || bytes[i] == UInt8(ascii: ";") { i += 1 }
            let nameStart = i
            while i < n, bytes[i] != UInt8(ascii: "="), bytes[i] != UInt8(ascii: ";") { i += 1 }
            let name = String(decoding: ArraySlice(bytes[nameStart..<i]).trimmed(), as: UTF8.self).lowercased()
            guard i < n, bytes[i] == UInt8(ascii: "=") else { continue }
            i += 1
            while i < n, ASCII.isWSP(bytes[i]) { i += 1 }
            var v: [UInt8] = []
            var quoted = false
            if i < n, bytes[i] == UInt8(ascii: "\"") {
                quoted = true
                i += 1
                while i < n, bytes[i] != UInt8(ascii: "\"") {
                    if bytes[i] == UInt8(ascii: "\\"), i + 1 < n { i += 1 }
                    v.append(bytes[i])
                    i += 1
                }
                if i < n { i += 1 }
                while i < n, bytes[i] != UInt8(ascii: ";") { i += 1 }  // junk after the quote
            } else {
                while i < n, bytes[i] != UInt8(ascii: ";") {
                    if bytes[i] == UInt8(ascii: "(") { i = skipComment(bytes, i); continue }
                    v.append(bytes[i])
                    i += 1
                }
                v = Array(ArraySlice(v).trimmed())
            }
            if !name.isEmpty { raw.append((name, v, quoted)) }
        }
        return (String(decoding: head, as: UTF8.self).trimmingWhitespace(), combine(raw))
    }

    static func skipComment(_ b: [UInt8], _ start: Int) -> Int {
        var depth = 0
        var i = start
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "\\"): i += 1
            case UInt8(ascii: "("): depth += 1
            case UInt8(ascii: ")"):
                depth -= 1
                if depth == 0 { return i + 1 }
            default: break
            }
            i += 1
        }
        return b.count
    }

    /// Applies RFC 2231 §3 (continuations `name*0`, `name*1`…) and §4 (`name*=charset'lang'%XX`).
    static func combine(_ raw: [(name: String, value: [UInt8], quoted: Bool)]) -> [String: String] {
        var result: [String: String] = [:]
        var continued: [String: [(index: Int, value: [UInt8], encoded: Bool)]] = [:]
        for (name, value, _) in raw {
            let parts = name.split(separator: "*", omittingEmptySubsequences: false)
            if parts.count == 1 {
                if result[name] == nil { result[name] = decodeValue(value) }
            } else if parts.count == 2, parts[1].isEmpty {
                // name*=charset'lang'value
                let base = String(parts[0])
                result[base] = decode2231(value, charset: nil, first: true)
            } else if let idx = Int(parts[1]) {
                let base = String(parts[0])
                let encoded = parts.count == 3
                continued[base, default: []].append((idx, value, encoded))
            }
        }
        for (base, segments) in continued {
            let sorted = segments.sorted { $0.index < $1.index }
            var bytes: [UInt8] = []
            var charset: String? = nil
            for (k, seg) in sorted.enumerated() {
                if seg.encoded {
                    let (cs, decoded) = percentDecode2231(seg.value, first: k == 0)
                    if k == 0 { charset = cs }
                    bytes.append(contentsOf: decoded)
                } else {
                    bytes.append(contentsOf: seg.value)
                }
            }
            let text = charset.map { Charset.decode(bytes, label: $0).text } ?? decodeValue(bytes)
            result[base] = text
        }
        return result
    }

    static func decodeValue(_ value: [UInt8]) -> String {
        let (s, _) = Bytes.headerString(ArraySlice(value))
        return EncodedWords.decode(s).text
    }

    static func decode2231(_ value: [UInt8], charset: String?, first: Bool) -> String {
        let (cs, bytes) = percentDecode2231(value, first: first)
        if let cs { return Charset.decode(bytes, label: cs).text }
        return decodeValue(bytes)
    }

    /// Splits `charset'lang'` off the first segment and decodes `%XX`.
    static func percentDecode2231(_ value: [UInt8], first: Bool) -> (String?, [UInt8]) {
        var start = 0
        var charset: String? = nil
        if first {
            let quotes = value.indices.filter { value[$0] == UInt8(ascii: "'") }
            if quotes.count >= 2 {
                charset = String(decoding: value[0..<quotes[0]], as: UTF8.self)
                start = quotes[1] + 1
                if charset?.isEmpty == true { charset = nil }
            }
        }
        return (charset, ASCII.percentDecoded(value[start...]))
    }
}
