/// Something wrong in a message that the parser worked around.
///
/// Parsing never throws; each repair is recorded as a defect so `intakectl inspect` can show
/// why a message reads the way it does. Descriptions never contain message content.
/// - SeeAlso: RFC 5322 §4 (obsolete syntax to accept), RFC 2045 §6.7–§6.8, RFC 2046 §5.1.
public struct MailDefect: Sendable, Hashable, CustomStringConvertible {
    /// The kind of defect, stable for scripts.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case invalidHeaderLine = "invalid_header_line"
        case missingHeaderBodySeparator = "missing_header_body_separator"
        case eightBitHeader = "eight_bit_header"
        case invalidBase64 = "invalid_base64"
        case invalidQuotedPrintable = "invalid_quoted_printable"
        case unknownCharset = "unknown_charset"
        case invalidCharsetBytes = "invalid_charset_bytes"
        case invalidEncodedWord = "invalid_encoded_word"
        case missingBoundary = "missing_boundary"
        case noBoundaryFound = "no_boundary_found"
        case unclosedMultipart = "unclosed_multipart"
        case nestingTooDeep = "nesting_too_deep"
        case tooManyParts = "too_many_parts"
        case invalidAddress = "invalid_address"
        case invalidContentType = "invalid_content_type"
        case nulBytes = "nul_bytes"
        case bareLineFeed = "bare_line_feed"
        case invalidDate = "invalid_date"
        case missingFrom = "missing_from"
        case tooManyDefects = "too_many_defects"
    }

    public var kind: Kind
    /// A short explanation without any content from the message.
    public var detail: String

    public init(kind: Kind, detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue): \(detail)" }
}

/// A bounded, deduplicated list of defects.
struct DefectList: Sendable {
    private(set) var items: [MailDefect] = []
    private var seen: Set<MailDefect> = []
    let limit: Int

    init(limit: Int) { self.limit = limit }

    mutating func add(_ kind: MailDefect.Kind, _ detail: String) {
        let d = MailDefect(kind: kind, detail: detail)
        guard !seen.contains(d) else { return }
        if items.count == limit {
            let more = MailDefect(kind: .tooManyDefects, detail: "further defects not recorded")
            seen.insert(more)
            items.append(more)
            return
        }
        guard items.count < limit else { return }
        seen.insert(d)
        items.append(d)
    }
}
