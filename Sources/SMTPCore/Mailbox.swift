/// A mailbox `Local-part "@" ( Domain / address-literal )` from an SMTP path, as the client sent it.
///
/// - SeeAlso: RFC 5321 §4.1.2 (grammar), RFC 6531 §3.3 (UTF-8 in local parts and domains).
public struct Mailbox: Hashable, Sendable, CustomStringConvertible {
    /// The local part as written, with its quotes if it was a quoted string.
    public var localPart: String
    /// The domain as written, or an address literal with its brackets (`[192.0.2.1]`).
    public var domain: String
    /// Whether the domain is an address literal.
    public var isAddressLiteral: Bool
    /// Whether the local part is a quoted string.
    public var isQuoted: Bool

    /// Creates a mailbox from its parts, as they would be written in a path.
    public init(localPart: String, domain: String, isAddressLiteral: Bool = false, isQuoted: Bool = false) {
        self.localPart = localPart
        self.domain = domain
        self.isAddressLiteral = isAddressLiteral
        self.isQuoted = isQuoted
    }

    /// Whether the address holds any non-ASCII character, and so needs SMTPUTF8 (RFC 6531 §3.4).
    public var requiresSMTPUTF8: Bool {
        localPart.utf8.contains { $0 >= 0x80 } || domain.utf8.contains { $0 >= 0x80 }
    }

    /// The local part without quotes and quoted-pair backslashes.
    public var unquotedLocalPart: String {
        guard isQuoted else { return localPart }
        var result: [UInt8] = []
        var escaped = false
        for byte in localPart.utf8.dropFirst().dropLast() {
            if !escaped && byte == UInt8(ascii: "\\") {
                escaped = true
                continue
            }
            escaped = false
            result.append(byte)
        }
        return String(decoding: result, as: UTF8.self)
    }

    public var description: String { "\(localPart)@\(domain)" }
}

/// The argument of MAIL FROM: a mailbox, or the null path `<>` of bounces.
///
/// - SeeAlso: RFC 5321 §4.1.2 `Reverse-path`, §4.5.5 (the null reverse path).
public enum ReversePath: Hashable, Sendable, CustomStringConvertible {
    /// `<>`: the message is a notification (bounce) and must not be answered by another.
    case null
    /// `<local@domain>`.
    case mailbox(Mailbox)

    public var description: String {
        switch self {
        case .null: return "<>"
        case .mailbox(let mailbox): return "<\(mailbox)>"
        }
    }
}

/// The argument of RCPT TO: a mailbox, or the bare `<Postmaster>` every server must accept.
///
/// - SeeAlso: RFC 5321 §4.1.1.3 and §4.5.1.
public enum ForwardPath: Hashable, Sendable, CustomStringConvertible {
    /// `<Postmaster>` with no domain.
    case postmaster
    /// `<local@domain>`.
    case mailbox(Mailbox)

    public var description: String {
        switch self {
        case .postmaster: return "<postmaster>"
        case .mailbox(let mailbox): return "<\(mailbox)>"
        }
    }
}
