import Foundation
import MailParser

/// What admins type (addresses, domains, names), checked and put in the form the filing rules
/// compare: addresses as ``MailAddress/normalized`` (local part case-folded, domain lower-cased
/// with IDNA `xn--` labels decoded, RFC 5890), so that `anna@xn--mller-kva.example` typed by an
/// admin is the `anna@müller.example` a message's From field says.
enum AdminInput {
    /// An address `local@domain`: a local part without spaces, control characters or the
    /// specials of RFC 5322 §3.2.3 (quoted local parts are not taken here), and a domain name
    /// of two labels or more.
    static func address(_ text: String, field: String) throws(StoreError) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let refusal = StoreError(code: .invalid, message: "\(field) must be an address such as alice@example.com, not \(trimmed)")
        guard let at = trimmed.lastIndex(of: "@") else { throw refusal }
        let local = trimmed[..<at]
        let specials: Set<Character> = ["<", ">", "(", ")", "[", "]", ",", ";", ":", "\\", "\"", "@"]
        guard !local.isEmpty, local.utf8.count <= 64, !local.hasPrefix("."), !local.hasSuffix("."), !local.contains(".."),
            local.unicodeScalars.allSatisfy({ $0.value > 0x20 && !isInvisible($0) && !specials.contains(Character($0)) }),
            let domain = try? self.domain(String(trimmed[trimmed.index(after: at)...]), field: field),
            let address = MailAddress(address: "\(local)@\(domain)")
        else { throw refusal }
        return address.normalized
    }

    /// The key an address typed to find a record is compared by: ``MailAddress/normalized``,
    /// or the text lower-cased when it is no address.
    static func lookupKey(_ reference: String) -> String {
        MailAddress(address: reference)?.normalized ?? reference.lowercased()
    }

    /// A domain name of two labels or more (RFC 1035 §2.3.1; letters beyond ASCII allowed, as
    /// in an IDN), lower-cased with `xn--` labels decoded; a leading `@` is dropped.
    static func domain(_ text: String, field: String) throws(StoreError) -> String {
        var trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if trimmed.hasPrefix("@") { trimmed.removeFirst() }
        if trimmed.hasSuffix(".") { trimmed.removeLast() }
        let decoded = IDNA.toUnicode(trimmed)
        let labels = decoded.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, decoded.utf8.count <= 253,
            labels.allSatisfy({ label in
                !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                    && label.unicodeScalars.allSatisfy(isLabelScalar)
            })
        else {
            throw StoreError(code: .invalid, message: "\(field) must be a domain name such as example.com, not \(text)")
        }
        return decoded
    }

    /// What a domain label is made of, scalar by scalar: `-`, letters, marks and digits (a
    /// joiner or another format character inside a letter's cluster is not one).
    static func isLabelScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "-" { return true }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .nonspacingMark, .spacingMark,
            .decimalNumber:
            return true
        default:
            return false
        }
    }

    /// Control characters, line and paragraph separators (general categories Cc, Zl, Zp) and
    /// the bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069,
    /// U+061C), which reorder what logs and tables show. The joiners and direction marks that
    /// names are written with (U+200C, U+200D, U+200E, U+200F) are not among them.
    static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x202A...0x202E, 0x2066...0x2069, 0x061C: return true
        default: break
        }
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }

    /// A time zone of the tz database by its name (`Europe/Berlin`, `America/St_Johns`, `UTC`).
    /// Abbreviations and offsets (`IST`, `CET`, `GMT+5`) are refused: `IST` is India's, Ireland's
    /// and Israel's, and an offset knows no daylight saving time.
    static func timeZone(_ text: String) throws(StoreError) -> String {
        let name = text.trimmingCharacters(in: .whitespaces)
        // `Etc/GMT+5` is a tz database name too, but an offset (of UTC-5).
        let offset = name.hasPrefix("Etc/GMT") && name.count > "Etc/GMT".count
        guard name == "UTC" || name == "GMT" || name.contains("/"), !offset, TimeZone(identifier: name) != nil else {
            throw StoreError(code: .invalid, message: "timezone must be an IANA time zone such as Europe/Berlin or UTC, not \(text)")
        }
        return name
    }

    /// A name: not empty, no control characters, and not only digits (a number names a record
    /// by its id, so a name made of digits could never be found).
    static func name(_ text: String, of what: String) throws(StoreError) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw StoreError(code: .invalid, message: "\(what) needs a name") }
        guard !trimmed.unicodeScalars.contains(where: isInvisible) else {
            throw StoreError(code: .invalid, message: "\(what)'s name must be plain text, without control characters")
        }
        guard !trimmed.allSatisfy(\.isNumber) else {
            throw StoreError(code: .invalid, message: "\(what)'s name must not be a number (numbers are ids), not \(trimmed)")
        }
        return trimmed
    }
}
