/// An enhanced mail system status code, `class.subject.detail`, carried after the reply code.
///
/// - SeeAlso: RFC 3463 §2 (the codes), RFC 2034 §3 (their place in SMTP replies).
public struct EnhancedStatusCode: Hashable, Sendable, CustomStringConvertible {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    public var statusClass: Int
    /// The subject: 0 other, 1 addressing, 2 mailbox, 3 mail system, 4 network and routing,
    /// 5 mail delivery protocol, 6 message content, 7 security or policy.
    public var subject: Int
    /// The detail within the subject.
    public var detail: Int

    /// Creates the code `statusClass.subject.detail`.
    public init(_ statusClass: Int, _ subject: Int, _ detail: Int) {
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    public var description: String { "\(statusClass).\(subject).\(detail)" }
}
