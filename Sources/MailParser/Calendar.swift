/// The people of a meeting invitation: the organizer and attendees of the iCalendar objects a
/// message carries (`text/calendar` parts, `.ics` files). A calendar service mails each guest on
/// their own, so an invitation that reaches a dropbox often names the other guests only there.
///
/// It reads content lines (RFC 5545 §3.1: unfolded on octets, so that a fold inside a UTF-8
/// character joins it again; `NAME;PARAM=VALUE;…:VALUE`) whose name is `ORGANIZER` or
/// `ATTENDEE` (§3.8.4.3, §3.8.4.1), outside alarms (an alarm's attendee is who its email goes to,
/// §3.6.6). The address is the `EMAIL` parameter's (RFC 7986 §6.1: given when it differs from the
/// value, as Apple's `mailto:…@imip.me.com` relays do), else the `mailto:` URI's (RFC 6068); the
/// `CN` parameter is the name (quoted or not, with RFC 6868's `^` escapes). The text is UTF-8
/// unless labelled otherwise (§3.1.4).
///
/// Not people: rooms, resources and groups (`CUTYPE`), those copied for information
/// (`ROLE=NON-PARTICIPANT`, how Exchange lists rooms and equipment), Google Calendar's own
/// calendars (`…@group.calendar.google.com`, `…@resource.calendar.google.com`) and no-reply
/// addresses (a service that publishes an event).
public enum CalendarPeople {
    /// A person of an invitation.
    public struct Entry: Hashable, Sendable {
        /// Whether they organise the meeting (`ORGANIZER`) or are invited (`ATTENDEE`).
        public var isOrganizer: Bool
        /// Their address, with the `CN` parameter as its name.
        public var address: MailAddress
    }

    /// The most octets of calendar read in one message, in all: a calendar of a year of meetings
    /// is not read whole.
    public static let maxBytes = 256 * 1024

    /// The people of the calendar `bytes`, in order, each address once (an organizer who is also
    /// listed as an attendee counts as the organizer); `charset` is the part's label, if any.
    public static func find(in bytes: [UInt8], charset: String? = nil, limit: Int = 1_000) -> [Entry] {
        var found: [Entry] = []
        var index: [String: Int] = [:]
        var alarms = 0
        // A line met before says nothing new (a calendar may repeat one thousands of times).
        var linesRead: Set<[UInt8]> = []
        let labelled = charset.flatMap { $0.isEmpty ? nil : Charset.canonicalName($0) == "UTF-8" ? nil : $0 }
        for line in contentLines(bytes) {
            if line.equalsLowercased("begin:valarm") {
                alarms += 1
            } else if line.equalsLowercased("end:valarm") {
                alarms = max(0, alarms - 1)
            }
            // Once `limit` people are found, only an organizer among them still counts.
            guard alarms == 0, found.count < limit || line.hasPrefixLowercased("organizer"), linesRead.insert(line).inserted,
                let entry = entry(line, charset: labelled)
            else { continue }
            let key = entry.address.normalized
            if let known = index[key] {
                if entry.isOrganizer { found[known].isOrganizer = true }
                continue
            }
            guard found.count < limit else { continue }
            index[key] = found.count
            found.append(entry)
        }
        return found
    }

    /// The calendar's content lines that may matter here (``mayMatter(_:)``), unfolded: a line
    /// that starts with a space or a tab continues the one before, without that first octet (RFC
    /// 5545 §3.1). A line ends at CRLF, LF or a lone CR. The others are skipped without a copy.
    static func contentLines(_ bytes: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var current: [UInt8]?
        var start = 0
        let count = bytes.count
        while start <= count {
            var end = start
            while end < count, bytes[end] != ASCII.cr, bytes[end] != ASCII.lf { end += 1 }
            let line = bytes[start..<end]
            if let first = line.first, first == ASCII.space || first == ASCII.tab {
                current? += line.dropFirst()
            } else if !line.isEmpty {
                if let current { lines.append(current) }
                current = mayMatter(line) ? Array(line) : nil
            }
            if end < count, bytes[end] == ASCII.cr, end + 1 < count, bytes[end + 1] == ASCII.lf { end += 1 }
            start = end + 1
        }
        if let current { lines.append(current) }
        return lines
    }

    /// Whether a line that starts so may be one read here: `ATTENDEE`, `ORGANIZER`, an alarm's
    /// `BEGIN` or `END` (a name folded within itself is not read: writers fold long lines at 75
    /// octets, never inside the name that starts one).
    static func mayMatter(_ line: ArraySlice<UInt8>) -> Bool {
        namesThatMatter.contains { line.hasPrefixLowercased($0) }
    }

    /// The starts of the content lines ``mayMatter(_:)`` keeps, lower-cased.
    static let namesThatMatter = ["attendee", "organizer", "begin:valarm", "end:valarm"]

    /// The person of an `ORGANIZER` or `ATTENDEE` line, if it names one by address; `charset`:
    /// the calendar's when it is not UTF-8.
    static func entry(_ line: [UInt8], charset: String?) -> Entry? {
        let isOrganizer: Bool
        if line.hasPrefixLowercased("organizer") && line.count > 9 && (line[9] == ASCII.semicolon || line[9] == ASCII.colon) {
            isOrganizer = true
        } else if line.hasPrefixLowercased("attendee") && line.count > 8 && (line[8] == ASCII.semicolon || line[8] == ASCII.colon) {
            isOrganizer = false
        } else {
            return nil
        }
        guard let (parameters, value) = split(line) else { return nil }
        func text(_ name: String) -> String? { parameters[name].map { decode($0, charset: charset) } }
        if let type = text("cutype")?.uppercased(), ["ROOM", "RESOURCE", "GROUP"].contains(type) { return nil }
        if text("role")?.uppercased() == "NON-PARTICIPANT" { return nil }
        let candidates = [text("email"), mailtoAddress(decode(value, charset: charset))]
        guard var address = candidates.lazy.compactMap({ $0.flatMap(personAddress) }).first else { return nil }
        let commonName = unescaped(text("cn") ?? "").trimmingWhitespace()
        address.name = commonName.isEmpty || commonName.lowercased() == address.address.lowercased() ? nil : commonName
        return Entry(isOrganizer: isOrganizer, address: address)
    }

    /// The parameters read: the others are skipped.
    static let parameterNames = ["cn", "cutype", "email", "role"]

    /// The parameters read (``parameterNames``, lower-cased; the first value of each, unquoted) and the value of a
    /// content line. The grammar's delimiters are ASCII, which never occurs inside a UTF-8
    /// character, so the line is split on octets; a colon inside a quoted value does not end the
    /// parameters.
    static func split(_ line: [UInt8]) -> ([String: [UInt8]], [UInt8])? {
        var parameters: [String: [UInt8]] = [:]
        var index = 0
        let count = line.count
        while index < count, line[index] != ASCII.semicolon, line[index] != ASCII.colon { index += 1 }
        while index < count, line[index] == ASCII.semicolon {
            index += 1
            let nameStart = index
            while index < count, line[index] != ASCII.equals, line[index] != ASCII.semicolon, line[index] != ASCII.colon { index += 1 }
            guard index < count, line[index] == ASCII.equals else { continue }
            let name = Self.parameterNames.first { line[nameStart..<index].equalsLowercased($0) }
            index += 1
            // The first of its comma-separated values; the others are skipped.
            var value: [UInt8]?
            while index < count, line[index] != ASCII.semicolon, line[index] != ASCII.colon {
                let start = index
                if line[index] == ASCII.quote {
                    guard let close = line[(index + 1)...].firstIndex(of: ASCII.quote) else { return nil }
                    if value == nil { value = Array(line[(start + 1)..<close]) }
                    index = close + 1
                } else {
                    while index < count, ![ASCII.quote, ASCII.semicolon, ASCII.colon, ASCII.comma].contains(line[index]) { index += 1 }
                    if value == nil { value = Array(line[start..<index]) }
                }
                if index < count, line[index] == ASCII.comma { index += 1 }
            }
            if let name, parameters[name] == nil { parameters[name] = value ?? [] }
        }
        guard index < count, line[index] == ASCII.colon else { return nil }
        return (parameters, Array(line[(index + 1)...]))
    }

    /// Octets of the calendar as text: UTF-8 unless `charset` names another (`nil`: UTF-8).
    static func decode(_ bytes: [UInt8], charset: String?) -> String {
        guard let charset else { return String(decoding: bytes, as: UTF8.self) }
        return Charset.decode(bytes, label: charset).text
    }

    /// A parameter value with RFC 6868's escapes read: `^n` a line break (a space here), `^'` a
    /// double quote, `^^` a caret.
    static func unescaped(_ value: String) -> String {
        guard value.contains("^") else { return value }
        var out = ""
        var caret = false
        for scalar in value.unicodeScalars {
            if caret {
                switch scalar {
                case "n", "N": out.append(" ")
                case "'": out.append("\"")
                case "^": out.append("^")
                default:
                    out.append("^")
                    out.unicodeScalars.append(scalar)
                }
                caret = false
            } else if scalar == "^" {
                caret = true
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        if caret { out.append("^") }
        return out
    }

    /// The address of a `mailto:` URI (scheme in any case, `%`-escapes read, no query), or `nil`.
    static func mailtoAddress(_ value: String) -> String? {
        let trimmed = value.trimmingWhitespace()
        guard trimmed.utf8.count > 7, trimmed.prefix(7).lowercased() == "mailto:" else { return nil }
        return String(decoding: ASCII.percentDecoded(trimmed.dropFirst(7).prefix { $0 != "?" }.utf8), as: UTF8.self)
    }

    /// `text` as a person's address: one whole address, no space or control character (a
    /// `%0D%0A` or `%00` in a URI), not a calendar service's own nor a no-reply sender's.
    static func personAddress(_ text: String) -> MailAddress? {
        guard !text.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F || ",;<>()[]\"\\".unicodeScalars.contains($0) }),
            let address = AddressList.parse(text).addresses.first, address.isComplete
        else { return nil }
        let domain = address.domain.lowercased()
        if domain == "calendar.google.com" || domain.hasSuffix(".calendar.google.com") { return nil }
        let local = address.localPart.lowercased().prefix { $0 != "+" }
        if ["noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply"].contains(local) { return nil }
        return address
    }
}
