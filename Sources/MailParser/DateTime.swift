import Foundation

/// RFC 5322 date-time parsing, lenient with obsolete forms (two-digit years, named zones,
/// missing seconds or weekday, comments).
/// - SeeAlso: RFC 5322 §3.3 (date and time), §4.3 (obsolete date and time).
public enum MailDate {
    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    /// Obsolete zone names (RFC 5322 §4.3), in minutes east of UTC.
    static let zones: [String: Int] = [
        "ut": 0, "utc": 0, "gmt": 0, "z": 0, "est": -300, "edt": -240, "cst": -360, "cdt": -300,
        "mst": -420, "mdt": -360, "pst": -480, "pdt": -420, "cet": 60, "cest": 120, "bst": 60,
    ]

    /// Parses a Date header value; `nil` when no day, month, year and time can be found.
    public static func parse(_ value: String) -> Date? {
        var cleaned = ""
        var depth = 0
        for ch in value {
            if ch == "(" { depth += 1; continue }
            if ch == ")" { depth = max(0, depth - 1); continue }
            if depth == 0 { cleaned.append(ch == "," ? " " : ch) }
        }
        let tokens = cleaned.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }).map(String.init)
        var day: Int?, month: Int?, year: Int?
        var hour = 0, minute = 0, second = 0, sawTime = false
        var zoneMinutes = 0
        for tok in tokens {
            let lower = tok.lowercased()
            if tok.containsBytes(":"), !sawTime {
                let parts = tok.split(separator: ":").map { Int($0) }
                guard parts.count >= 2, let h = parts[0], let m = parts[1] else { continue }
                hour = h; minute = m; second = parts.count > 2 ? (parts[2] ?? 0) : 0
                sawTime = true
            } else if let first = tok.first, first == "+" || first == "-", tok.count == 5, let v = Int(tok.dropFirst()) {
                zoneMinutes = (first == "-" ? -1 : 1) * (v / 100 * 60 + v % 100)
            } else if let v = Int(tok) {
                if day == nil, v >= 1, v <= 31, tok.count <= 2, month == nil || year == nil {
                    day = v
                } else if year == nil {
                    year = v < 50 && tok.count <= 2 ? 2000 + v : (v < 1000 ? 1900 + v : v)
                }
            } else if month == nil, lower.count >= 3, let m = months.firstIndex(of: String(lower.prefix(3))) {
                month = m + 1
            } else if let z = zones[lower] {
                zoneMinutes = z
            }
        }
        guard let d = day, let mo = month, let y = year, sawTime,
            (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        let days = daysFromCivil(y, mo, d)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - zoneMinutes * 60
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

/// Message identifiers from Message-ID, In-Reply-To and References, normalised to the text
/// between the angle brackets (also accepted without brackets).
/// - SeeAlso: RFC 5322 §3.6.4 (identification fields), §4.5.4 (obsolete forms).
public enum MessageIDs {
    /// Every identifier in the value, in order, without brackets, comments or duplicates.
    public static func parse(_ value: String) -> [String] {
        let b = Array(value.utf8)
        var ids: [String] = []
        var seen = Set<String>()
        var i = 0
        var bare: [UInt8] = []
        func addBare() {
            defer { bare.removeAll() }
            // Without brackets only a word with an '@' counts as an identifier.
            guard bare.contains(UInt8(ascii: "@")) else { return }
            add(bare)
        }
        func add(_ bytes: [UInt8]) {
            let s = String(decoding: bytes.filter { !ASCII.isSpace($0) }, as: UTF8.self)
            if !s.isEmpty, seen.insert(s).inserted { ids.append(s) }
        }
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "(") {
                addBare()
                i = ParameterList.skipComment(b, i)
            } else if c == UInt8(ascii: "<") {
                addBare()
                var j = i + 1
                while j < b.count, b[j] != UInt8(ascii: ">"), b[j] != UInt8(ascii: "<") { j += 1 }
                add(Array(b[(i + 1)..<j]))
                i = j < b.count && b[j] == UInt8(ascii: ">") ? j + 1 : j
            } else if ASCII.isSpace(c) || c == UInt8(ascii: ",") {
                addBare()
                i += 1
            } else {
                bare.append(c)
                i += 1
            }
        }
        addBare()
        return ids
    }
}
