/// Every limit of the parser in one place. Inputs past a limit are parsed as far as the limit
/// allows and a defect is recorded; nothing is rejected.
public struct MailParserLimits: Sendable, Hashable {
    /// Nested multipart / message entities followed before the rest is read as an opaque leaf.
    /// RFC 2046 §5.1 sets no limit; real mail rarely nests past 8. 32 keeps the recursion within
    /// a 512 KiB thread stack even in debug builds.
    public var maxMIMEDepth: Int = 32
    /// Attached messages (`message/rfc822` inside `message/rfc822`…) analysed as forwarded
    /// originals; deeper ones stay attachments (RFC 2046 §5.2.1 sets no limit).
    public var maxEnclosedMessageDepth: Int = 8
    /// Parts in the whole tree; later parts are not split further.
    public var maxParts: Int = 10_000
    /// Defects recorded per message.
    public var maxDefects: Int = 100
    /// Characters of body text analysed for people, forwards and replies (the full text is kept).
    public var maxAnalysedTextBytes: Int = 2 << 20
    /// Body addresses collected.
    public var maxBodyAddresses: Int = 1_000

    public init() {}

    public static let `default` = MailParserLimits()
}
