import Foundation
import MailParser

/// An address pattern whose matches are never contacts: a full address (`a@b.example`), a domain
/// (`@b.example`, subdomains included) or a local part at any domain (`noreply@*`); the first and
/// the last take in their subaddresses (`noreply+bounce@…`).
/// - SeeAlso: RFC 5233 (subaddress extension).
public struct ExclusionPattern: Sendable, Hashable, CustomStringConvertible {
    private enum Form: Hashable, Sendable {
        case address(String)
        case domain(String)
        case localPart(String)
    }

    private let form: Form

    /// Parses a pattern; `nil` when it has none of the three forms.
    public init?(_ text: String) {
        let pattern = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard let at = pattern.lastIndex(of: "@") else { return nil }
        let local = String(pattern[..<at])
        // In the form addresses are compared in: IDNA `xn--` labels decoded (RFC 5890).
        let domain = IDNA.toUnicode(String(pattern[pattern.index(after: at)...]))
        guard !domain.isEmpty else { return nil }
        if local.isEmpty {
            guard !domain.contains("*"), domain.contains(".") else { return nil }
            form = .domain(domain)
        } else if domain == "*" {
            guard !local.contains("*") else { return nil }
            form = .localPart(local)
        } else {
            guard !domain.contains("*"), !local.contains("*") else { return nil }
            form = .address(local + "@" + domain)
        }
    }

    /// Whether a normalised address matches. A subaddress is its mailbox's (RFC 5233):
    /// `noreply@*` and `noreply@b.example` match `noreply+bounce@b.example`; a pattern with a
    /// `+detail` of its own matches that subaddress only.
    public func matches(_ address: String) -> Bool {
        let lowered = address.lowercased()
        guard let at = lowered.lastIndex(of: "@") else { return false }
        let local = lowered[..<at]
        let domain = lowered[lowered.index(after: at)...]
        // RFC 5233 §2: the user is the local part before the first separator.
        let user = local.firstIndex(of: "+").map { local[..<$0] }
        switch form {
        case .address(let value): return lowered == value || user.map { "\($0)@\(domain)" == value } ?? false
        case .domain(let value): return domain == value || domain.hasSuffix("." + value)
        case .localPart(let value): return local == value || user == value[...]
        }
    }

    public var description: String {
        switch form {
        case .address(let value): return value
        case .domain(let value): return "@" + value
        case .localPart(let value): return value + "@*"
        }
    }
}
