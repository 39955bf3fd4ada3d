/// The people of a meeting invitation: the organizer and attendees of the iCalendar objects a
/// message carries (`text/calendar` parts, `.ics` files). A calendar service mails each guest on
/// their own, so an invitation that reaches a dropbox often names the other guests only there.
///
/// It reads content lines (RFC 5545 §3.1: unfolded, `NAME;PARAM=VALUE;…:VALUE`) whose name is
/// `ORGANIZER` or `ATTENDEE` (§3.8.4.3, §3.8.4.1) and whose value is a `mailto:` URI (RFC 6068),
/// or whose `EMAIL` parameter (RFC 7986 §6.1) gives the address; the `CN` parameter is the name
/// (quoted or not, with RFC 6868's `^` escapes). Rooms and resources (`CUTYPE=ROOM`,
/// `CUTYPE=RESOURCE`) are not people.
public enum CalendarPeople {
    /// A person of an invitation.
    public struct Entry: Hashable, Sendable {
        /// Whether they organise the meeting (`ORGANIZER`) or are invited (`ATTENDEE`).
        public var isOrganizer: Bool
        public var address: MailAddress
    }

    /// The most content read for people, in all: a calendar of a year of meetings is not read whole.
    static let maxBytes = 256 * 1024

    /// The people of the calendar `text`, in order (each address once, organizer first when both).
    public static func find(in text: String, limit: Int = 1_000) -> [Entry] {
        var found: [Entry] = []
        var seen: Set<String> = []
        for line in contentLines(String(decoding: text.utf8.prefix(maxBytes), as: UTF8.self)) where found.count < limit {
            guard let entry = entry(line), !seen.contains(entry.address.normalized) else { continue }
            seen.insert(entry.address.normalized)
            found.append(entry)
        }
        return found
    }

    /// The calendar's content lines, unfolded: a line that starts with a space or a tab continues
    /// the one before, without that first character (RFC 5545 §3.1). Lines end in CRLF or LF.
    static func contentLines(_ text: String) -> [Substring] {
        var lines: [Substring] = []
        var current: [UInt8] = []
        var utf8 = Array(text.utf8)
        if utf8.last != ASCII.lf { utf8.append(ASCII.lf) }
        var start = 0
        while let end = utf8[start...].firstIndex(of: ASCII.lf) {
            var line = utf8[start..<end]
            start = end + 1
            if line.last == ASCII.cr { line = line.dropLast() }
            if let first = line.first, first == ASCII.space || first == ASCII.tab {
                current += line.dropFirst()
            } else {
                if !current.isEmpty { lines.append(String(decoding: current, as: UTF8.self)[...]) }
                current = Array(line)
            }
        }
        if !current.isEmpty { lines.append(String(decoding: current, as: UTF8.self)[...]) }
        return lines
    }

    /// The person of an `ORGANIZER` or `ATTENDEE` line, if it names one by address.
    static func entry(_ line: Substring) -> Entry? {
        let head = line.prefix(9).uppercased()
        guard head.hasPrefix("ATTENDEE") || head == "ORGANIZER", let (name, parameters, value) = split(line) else { return nil }
        let isOrganizer: Bool
        switch name.uppercased() {
        case "ORGANIZER": isOrganizer = true
        case "ATTENDEE": isOrganizer = false
        default: return nil
        }
        if let type = parameters["CUTYPE"]?.uppercased(), type == "ROOM" || type == "RESOURCE" { return nil }
        let target = mailtoAddress(value) ?? parameters["EMAIL"].map { String($0) }
        guard let target, let parsed = AddressList.parse(target).addresses.first, parsed.isComplete,
            !parsed.address.contains(where: { $0 == " " || $0 == "," || $0 == ";" })
        else { return nil }
        var address = parsed
        let commonName = parameters["CN"]?.trimmingWhitespace() ?? ""
        address.name = commonName.isEmpty || commonName.lowercased() == address.address.lowercased() ? nil : commonName
        return Entry(isOrganizer: isOrganizer, address: address)
    }

    /// The name, the parameters (names upper-cased; the first value of each) and the value of a
    /// content line; a colon inside a quoted parameter value does not end the parameters.
    static func split(_ line: Substring) -> (Substring, [String: String], Substring)? {
        var parameters: [String: String] = [:]
        var index = line.startIndex
        let nameEnd = line.firstIndex { $0 == ";" || $0 == ":" } ?? line.endIndex
        guard nameEnd < line.endIndex else { return nil }
        let name = line[..<nameEnd]
        index = nameEnd
        while index < line.endIndex, line[index] == ";" {
            index = line.index(after: index)
            let equals = line[index...].firstIndex { $0 == "=" || $0 == ";" || $0 == ":" } ?? line.endIndex
            guard equals < line.endIndex, line[equals] == "=" else {
                index = equals
                continue
            }
            let parameterName = line[index..<equals].uppercased()
            index = line.index(after: equals)
            // The first of its comma-separated values; the others are skipped.
            var value = ""
            var first = true
            while index < line.endIndex, line[index] != ";", line[index] != ":" {
                if line[index] == "\"" {
                    let open = line.index(after: index)
                    guard let close = line[open...].firstIndex(of: "\"") else { return nil }
                    if first { value = String(line[open..<close]) }
                    index = line.index(after: close)
                } else {
                    let end = line[index...].firstIndex { $0 == "\"" || $0 == ";" || $0 == ":" || $0 == "," } ?? line.endIndex
                    if first { value = String(line[index..<end]) }
                    index = end
                }
                if index < line.endIndex, line[index] == "," {
                    first = false
                    index = line.index(after: index)
                }
            }
            if parameters[parameterName] == nil { parameters[parameterName] = unescaped(value) }
        }
        guard index < line.endIndex, line[index] == ":" else { return nil }
        return (name, parameters, line[line.index(after: index)...])
    }

    /// A parameter value with RFC 6868's escapes read: `^n` a line break (a space here), `^'` a
    /// double quote, `^^` a caret.
    static func unescaped(_ value: String) -> String {
        guard value.contains("^") else { return value }
        var out = ""
        var caret = false
        for character in value {
            if caret {
                switch character {
                case "n", "N": out.append(" ")
                case "'": out.append("\"")
                case "^": out.append("^")
                default: out.append("^"); out.append(character)
                }
                caret = false
            } else if character == "^" {
                caret = true
            } else {
                out.append(character)
            }
        }
        if caret { out.append("^") }
        return out
    }

    /// The address of a `mailto:` URI (scheme in any case, `%`-escapes read, no query), or `nil`.
    static func mailtoAddress(_ value: Substring) -> String? {
        let trimmed = value.trimmingWhitespace()
        guard trimmed.count > 7, trimmed.prefix(7).lowercased() == "mailto:" else { return nil }
        let target = trimmed.dropFirst(7).prefix { $0 != "?" }
        return target.removingPercentEncodingLeniently()
    }
}

extension Substring {
    /// `%XX` escapes read as UTF-8 octets; a `%` not followed by two hex digits stays as it is.
    fileprivate func removingPercentEncodingLeniently() -> String {
        guard contains("%") else { return String(self) }
        var bytes: [UInt8] = []
        let utf8 = Array(self.utf8)
        var k = 0
        while k < utf8.count {
            if utf8[k] == UInt8(ascii: "%"), k + 2 < utf8.count, let high = hexValue(utf8[k + 1]), let low = hexValue(utf8[k + 2]) {
                bytes.append(high << 4 | low)
                k += 3
            } else {
                bytes.append(utf8[k])
                k += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func hexValue(_ octet: UInt8) -> UInt8? {
        switch octet {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): octet - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): octet - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): octet - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
