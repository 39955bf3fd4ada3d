import NIOCore
import SMTPCore

/// The seam between the SMTP receiver and what it delivers to: the server asks it whether a
/// recipient is acceptable, and hands it each message whose data was read in full.
///
/// Answers are awaited before the reply is sent: a `250` after end of data means `receive(_:)`
/// returned `.accepted`, so an implementation returns that only once the message is durable.
public protocol SMTPMessageReceiver: Sendable {
    /// Whether `recipient` is acceptable in this transaction (RFC 5321 §4.1.1.3).
    func checkRecipient(_ recipient: ForwardPath, transaction: MailTransaction, session: SMTPSessionInfo) async -> RecipientDecision

    /// The same answer when it can be given at once, from memory, on the session's event loop;
    /// `nil` (the default) when it needs ``checkRecipient(_:transaction:session:)``. The server
    /// asks this first and handles an answer in the loop that reads the commands, so pipelined
    /// recipients answered at once neither wait for a task nor nest.
    func recipientDecisionAtOnce(_ recipient: ForwardPath, transaction: MailTransaction, session: SMTPSessionInfo) -> RecipientDecision?

    /// Takes the message: keep it durably and answer `.accepted`, or refuse it.
    ///
    /// When the content is a file, the receiver may move it away; the server deletes it afterwards
    /// if it is still there, and closes its descriptor: the receiver neither closes it nor uses it
    /// once it has answered.
    func receive(_ message: ReceivedMessage) async -> DeliveryResult

    /// The same, answering through `promise`. The server calls this one, on the session's event
    /// loop; the default runs ``receive(_:)`` in a task. A receiver that can answer from a thread
    /// of its own implements it to spare the hops through the task.
    func receive(_ message: ReceivedMessage, completing promise: EventLoopPromise<DeliveryResult>)

    /// What sees the content of a message that goes to a file, as it is written; `nil` (the
    /// default): nothing does.
    func makeContentObserver() -> (any MessageContentObserver)?
}

extension SMTPMessageReceiver {
    public func recipientDecisionAtOnce(
        _ recipient: ForwardPath, transaction: MailTransaction, session: SMTPSessionInfo
    ) -> RecipientDecision? {
        nil
    }

    public func receive(_ message: ReceivedMessage, completing promise: EventLoopPromise<DeliveryResult>) {
        promise.completeWithTask { await receive(message) }
    }

    public func makeContentObserver() -> (any MessageContentObserver)? { nil }
}

/// Sees the content of a message that goes to a file as it is written: every octet in order,
/// piece by piece, on a thread of the listener's pool; the last piece, and ``finish()``, may be on
/// the session's event loop, so neither may block. A receiver does work on a large message
/// while it arrives, instead of after its end, and finds the result in ``MessageContent/file(path:descriptor:size:sha256:observed:)``.
public protocol MessageContentObserver: Sendable {
    /// The next piece.
    mutating func observe(_ piece: UnsafeRawBufferPointer)
    /// What it found, once the content has ended.
    mutating func finish() -> any Sendable
}

/// Who is on the other end of a session.
public struct SMTPSessionInfo: Hashable, Sendable {
    /// The session's id, as it appears in logs.
    public var id: String
    /// The client's IP address.
    public var peerAddress: String
    /// The name the client gave in EHLO or HELO.
    public var heloName: String
    /// Whether the session runs over TLS.
    public var tls: Bool

    /// Creates the description of a session.
    public init(id: String, peerAddress: String, heloName: String, tls: Bool) {
        self.id = id
        self.peerAddress = peerAddress
        self.heloName = heloName
        self.tls = tls
    }
}

/// A message whose data was read in full, with its envelope.
public struct ReceivedMessage: Sendable {
    /// The id the server gave the message; it appears in the Received field, the logs and the reply.
    public var id: String
    /// The session it came in.
    public var session: SMTPSessionInfo
    /// The envelope.
    public var transaction: MailTransaction
    /// The content, starting with the Received field the server added (RFC 5321 §4.4).
    public var content: MessageContent
    /// When the data ended, in seconds since 1970.
    public var receivedAt: Double

    /// Creates a received message.
    public init(id: String, session: SMTPSessionInfo, transaction: MailTransaction, content: MessageContent, receivedAt: Double) {
        self.id = id
        self.session = session
        self.transaction = transaction
        self.content = content
        self.receivedAt = receivedAt
    }
}

/// Where the content of a received message is: in memory when small, in a file when large.
public enum MessageContent: Sendable {
    /// The whole content.
    case memory(ByteBuffer)
    /// A file in the server's temporary folder holding the whole content, with the content's
    /// SHA-256 (32 octets), computed as it was written, and what the receiver's
    /// ``MessageContentObserver`` found, if it made one.
    ///
    /// `descriptor` is the file's, open for reading and writing from its first piece until the
    /// session has the receiver's answer (the session closes it then: it is valid until the
    /// receiver completes its promise). A receiver that makes the file durable syncs it through
    /// this descriptor: it reports an error in writing back any of the content, where a
    /// descriptor opened later could miss one. A receiver may read the content through it
    /// (`pread`), wherever the file has moved meanwhile.
    case file(path: String, descriptor: CInt, size: Int, sha256: [UInt8], observed: (any Sendable)?)

    /// The content's size in octets.
    public var size: Int {
        switch self {
        case .memory(let buffer): return buffer.readableBytes
        case .file(_, _, let size, _, _): return size
        }
    }
}
