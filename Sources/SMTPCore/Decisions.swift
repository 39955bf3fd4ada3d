/// The server's answer to "is this recipient acceptable?", asked at RCPT time.
public enum RecipientDecision: Hashable, Sendable {
    /// `250 2.1.5`.
    case accept
    /// Refuse the recipient with this reply (`550 5.1.1`, `550 5.7.1`, `451 4.3.0`, …).
    case reject(SMTPReply)
}

/// The server's answer to "take this message", asked once its data has been read.
public enum DeliveryResult: Hashable, Sendable {
    /// The message is durably kept: `250 2.0.0 <id> <text>`.
    case accepted(id: String, text: String)
    /// The message is refused, temporarily (4xx: the client retries) or permanently (5xx).
    case rejected(SMTPReply)
}

/// The envelope of one mail transaction, as the client gave it.
///
/// - SeeAlso: RFC 5321 §2.3.1 (mail objects: envelope and content).
public struct MailTransaction: Hashable, Sendable {
    /// MAIL FROM.
    public var reversePath: ReversePath
    /// The parameters of MAIL FROM.
    public var parameters: MailParameters
    /// The recipients accepted so far, in order.
    public var recipients: [ForwardPath] = []

    /// A transaction opened by MAIL FROM.
    public init(reversePath: ReversePath, parameters: MailParameters, recipients: [ForwardPath] = []) {
        self.reversePath = reversePath
        self.parameters = parameters
        self.recipients = recipients
    }
}
