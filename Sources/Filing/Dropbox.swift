/// What a message sent to a dropbox address asks for, from the address's subaddress suffix:
/// `TOKEN@` files notes, `TOKEN+case@` opens a case, and so on.
public enum DropboxKind: String, Sendable, Hashable, CaseIterable, Codable {
    case note
    case `case` = "case"
    case opportunity
    case task
    case taskToday = "task_today"
    case taskTomorrow = "task_tomorrow"

    /// The suffix written after `+` in the address (`nil` for notes).
    public var suffix: String? {
        switch self {
        case .note: return nil
        case .case: return "case"
        case .opportunity: return "opportunity"
        case .task: return "task"
        case .taskToday: return "today"
        case .taskTomorrow: return "tomorrow"
        }
    }

    /// Whether the kind creates a task.
    public var isTask: Bool { self == .task || self == .taskToday || self == .taskTomorrow }
}

/// A dropbox address's local part: the user's secret token and the kind.
///
/// - SeeAlso: RFC 5233 (subaddress extension with `+`).
public struct DropboxAddress: Sendable, Hashable {
    /// The user's token, lowercased (tokens are case-insensitive).
    public var token: String
    /// What the address files.
    public var kind: DropboxKind

    /// Creates an address from its parts.
    public init(token: String, kind: DropboxKind) {
        self.token = token.lowercased()
        self.kind = kind
    }

    /// Reads `token` or `token+suffix`; `nil` for a local part that cannot be a dropbox address.
    public init?(localPart: String) {
        let lowered = localPart.lowercased()
        let pieces = lowered.split(separator: "+", maxSplits: 1, omittingEmptySubsequences: false)
        let token = String(pieces[0])
        guard DropboxToken.isWellFormed(token) else { return nil }
        let kind: DropboxKind
        switch pieces.count == 2 ? String(pieces[1]) : nil {
        case nil: kind = .note
        case "case"?: kind = .case
        case "opportunity"?, "opp"?: kind = .opportunity
        case "task"?: kind = .task
        case "today"?: kind = .taskToday
        case "tomorrow"?: kind = .taskTomorrow
        default: return nil
        }
        self.init(token: token, kind: kind)
    }

    /// The local part as it is handed out.
    public var localPart: String { kind.suffix.map { "\(token)+\($0)" } ?? token }
}

/// The secret part of a user's dropbox addresses: 16 characters of lowercase base32 (80 random bits).
public enum DropboxToken {
    /// The 32 octets a token is made of (ASCII: each character is one octet).
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    /// A new random token.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(decoding: (0..<16).map { _ in alphabet[Int(generator.next(upperBound: UInt8(32)))] }, as: UTF8.self)
    }

    /// Whether `text` has a token's shape.
    public static func isWellFormed(_ text: String) -> Bool {
        text.utf8.count == 16 && text.utf8.allSatisfy(alphabet.contains)
    }
}
