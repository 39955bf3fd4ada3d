import Foundation

/// An address pattern whose matches are never contacts: a full address (`a@b.example`), a domain
/// (`@b.example`, subdomains included) or a local part at any domain (`noreply@*`).
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
        let domain = String(pattern[pattern.index(after: at)...])
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

    /// Whether a normalised address matches.
    public func matches(_ address: String) -> Bool {
        let lowered = address.lowercased()
        guard let at = lowered.lastIndex(of: "@") else { return false }
        let local = lowered[..<at]
        let domain = lowered[lowered.index(after: at)...]
        switch form {
        case .address(let value): return lowered == value
        case .domain(let value): return domain == value || domain.hasSuffix("." + value)
        case .localPart(let value): return local == value
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
