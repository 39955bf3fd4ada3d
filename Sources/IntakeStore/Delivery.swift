import Filing
import Foundation
import MailParser

/// One received message with its dropbox recipients, ready to be filed in one transaction.
public struct Delivery: Sendable {
    /// A recipient of the message at a dropbox domain.
    public struct Recipient: Sendable, Hashable {
        /// The address as given in RCPT TO.
        public var address: String
        /// The dropbox it names; `nil` for postmaster.
        public var dropbox: DropboxAddress?

        public init(address: String, dropbox: DropboxAddress?) {
            self.address = address
            self.dropbox = dropbox
        }
    }

    /// The SMTP id of the message (in the Received field and the 250 reply).
    public var smtpID: String
    public var envelopeFrom: String
    public var recipients: [Recipient]
    public var receivedAt: Date
    /// The message as received, with the Received field the server added.
    public var raw: RawMessage
    /// The key that recognises the same message arriving again.
    public var deduplicationKey: String
    public var message: MailMessage
    public var dropboxDomains: Set<String>
    /// The parsed summary kept with the message, as JSON: made before the delivery queues for the
    /// database writer (it hashes the attachments), not inside the transaction.
    let summary: String
    /// The Message-ID as the message and log rows keep it (``FilingRules/normaliseMessageID(_:)``),
    /// made once, beside the summary.
    let messageIDHeader: String?
    /// The cases and opportunities a message filed again (``IntakeDatabase/reprocess(message:dropboxDomains:)``)
    /// stays under: it is attached to them as to those its reference tags name, and opens no other
    /// case or opportunity. None for mail as it arrives.
    var recordsKept: [FilingApplier.FiledRecord] = []

    public init(
        smtpID: String, envelopeFrom: String, recipients: [Recipient], receivedAt: Date, raw: RawMessage, deduplicationKey: String,
        message: MailMessage, dropboxDomains: Set<String>
    ) {
        self.smtpID = smtpID
        self.envelopeFrom = envelopeFrom
        self.recipients = recipients
        self.receivedAt = receivedAt
        self.raw = raw
        self.deduplicationKey = deduplicationKey
        self.message = message
        self.dropboxDomains = dropboxDomains
        self.summary = MessageSummary(message).json
        self.messageIDHeader = message.messageID.map(FilingRules.normaliseMessageID)
    }

    /// The same, from bytes.
    public init(
        smtpID: String, envelopeFrom: String, recipients: [Recipient], receivedAt: Date, raw: [UInt8], deduplicationKey: String,
        message: MailMessage, dropboxDomains: Set<String>
    ) {
        self.init(
            smtpID: smtpID, envelopeFrom: envelopeFrom, recipients: recipients, receivedAt: receivedAt, raw: .bytes(Data(raw)),
            deduplicationKey: deduplicationKey, message: message, dropboxDomains: dropboxDomains)
    }
}

/// What became of a delivery for one recipient.
public struct RecipientResult: Sendable, Hashable {
    public var recipient: String
    public var outcome: MessageOutcome
    /// Why, for every outcome but `filed`.
    public var reason: String?
    /// The SMTP refusal, when the outcome is `refused`.
    public var refusal: FilingRefusal?
    /// The records filed under, as `type:id` (`contact:4`, `case:CS1001`).
    public var filed: [String]
    public var unresolvedReferences: [String]

    /// Whether the recipient took the message (everything but a refusal).
    public var accepted: Bool { outcome != .refused }
}

/// The parsed summary kept with each message, as JSON: its fields, people, forwards, reference
/// tags and attachments. The text itself is left out: the body is kept in the raw message and in
/// each note, and `message show` parses the raw message again for its new text (a copy here made
/// a text message's rows a third larger).
struct MessageSummary: Codable {
    struct Address: Codable {
        var address: String
        var name: String?
    }

    struct Person: Codable {
        var address: String
        var name: String?
        var source: String
    }

    struct Forward: Codable {
        var from: Address?
        var to: [String]
        var cc: [String]
        var date: String?
        var subject: String?
    }

    struct AttachmentSummary: Codable {
        var filename: String?
        var contentType: String
        var size: Int
        var sha256: String

        enum CodingKeys: String, CodingKey {
            case filename
            case contentType = "content_type"
            case size, sha256
        }
    }

    var subject: String?
    var from: Address?
    var messageID: String?
    var inReplyTo: [String]
    var references: [String]
    var people: [Person]
    var forwarded: [Forward]
    var refs: [String]
    var attachments: [AttachmentSummary]
    var automated: Bool
    var defects: [String]

    enum CodingKeys: String, CodingKey {
        case subject, from
        case messageID = "message_id"
        case inReplyTo = "in_reply_to"
        case references, people, forwarded, refs, attachments
        case automated, defects
    }

    init(_ message: MailMessage) {
        subject = message.subject
        from = message.from.map { Address(address: $0.address, name: $0.name) }
        messageID = message.messageID
        inReplyTo = message.inReplyTo
        references = message.references
        people = message.people.map { Person(address: $0.address.normalized, name: $0.name, source: $0.source.rawValue) }
        forwarded = message.forwarded.map { forward in
            Forward(
                from: forward.from.map { Address(address: $0.address, name: forward.fromName ?? $0.name) }
                    ?? forward.fromName.map { Address(address: "", name: $0) },
                to: forward.to.map(\.address), cc: forward.cc.map(\.address), date: forward.date, subject: forward.subject
            )
        }
        refs = message.referenceTags
        attachments = message.attachments.map {
            AttachmentSummary(filename: $0.filename, contentType: $0.contentType, size: $0.size, sha256: $0.sha256)
        }
        automated = message.isAutomated
        defects = message.defects.map(\.description)
    }

    /// The summary as JSON with its keys sorted: equal, as JSON, to what `JSONEncoder` makes with
    /// `.sortedKeys` (a test compares them over the fixture corpus; `/` is not escaped), written
    /// directly.
    var json: String {
        var out = JSONText(capacity: 512)
        out.object { out in
            out.member("attachments", objects: attachments) { out, attachment in
                out.member("content_type", attachment.contentType)
                out.member("filename", attachment.filename)
                out.member("sha256", attachment.sha256)
                out.key("size")
                out.int(attachment.size)
            }
            out.key("automated")
            out.bool(automated)
            out.member("defects", defects)
            out.member("forwarded", objects: forwarded) { out, forward in
                out.member("cc", forward.cc)
                out.member("date", forward.date)
                Self.write("from", forward.from, to: &out)
                out.member("subject", forward.subject)
                out.member("to", forward.to)
            }
            Self.write("from", from, to: &out)
            out.member("in_reply_to", inReplyTo)
            out.member("message_id", messageID)
            out.member("people", objects: people) { out, person in
                out.member("address", person.address)
                out.member("name", person.name)
                out.member("source", person.source)
            }
            out.member("references", references)
            out.member("refs", refs)
            out.member("subject", subject)
        }
        return out.text
    }

    /// An address member, left out when `nil`.
    private static func write(_ name: String, _ address: Address?, to out: inout JSONText) {
        guard let address else { return }
        out.key(name)
        out.object { out in
            out.member("address", address.address)
            out.member("name", address.name)
        }
    }

}
