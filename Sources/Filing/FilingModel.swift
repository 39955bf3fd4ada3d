import Foundation
import MailParser

/// A CRM user as the filing rules see them: who they are and which addresses are theirs.
public struct DropboxUser: Sendable, Hashable {
    public var id: Int64
    public var organisationID: Int64
    /// The primary email, lowercased; unique across the system.
    public var email: String
    public var name: String
    /// IANA time zone (`Europe/Berlin`); due dates are computed in it.
    public var timeZone: String
    /// Validated extra addresses the user sends from, lowercased.
    public var trustedAddresses: [String]

    public init(id: Int64, organisationID: Int64, email: String, name: String, timeZone: String, trustedAddresses: [String]) {
        self.id = id
        self.organisationID = organisationID
        self.email = email.lowercased()
        self.name = name
        self.timeZone = timeZone
        self.trustedAddresses = trustedAddresses.map { $0.lowercased() }
    }

    /// Every address of the user's own.
    public var ownAddresses: Set<String> { Set([email] + trustedAddresses) }
}

/// Per-organisation settings that change how messages are filed.
public struct OrganisationSettings: Sendable, Hashable, Codable {
    /// Create contacts for unknown addresses; when off, a message without a known contact is kept
    /// as unmatched for an admin to assign.
    public var createContacts = true
    /// Link contacts at corporate domains to a company made from the domain.
    public var companyFromDomain = true
    /// More free-mail domains than the built-in list.
    public var freemailDomainsExtra: [String] = []

    public init() {}

    /// The setting keys, as the admin API names them.
    public static let keys = ["create_contacts", "company_from_domain", "freemail_domains_extra"]
}

/// What the rules need to know about the user's organisation.
public struct OrganisationContext: Sendable {
    public var id: Int64
    public var name: String
    /// Domains of the organisation's own mail: never contacts.
    public var internalDomains: [String]
    /// Every address of the organisation's users (primary and extra, validated or not),
    /// lowercased: the user's own are among them, and the rules drop the user's trusted ones
    /// first, so what this adds is colleagues' (and the user's own not yet validated).
    public var memberAddresses: Set<String>
    /// The organisation's and this user's exclusion patterns.
    public var exclusions: [ExclusionPattern]
    public var settings: OrganisationSettings
    /// The dropbox domains: their addresses are never contacts.
    public var dropboxDomains: Set<String>

    public init(
        id: Int64, name: String, internalDomains: [String], memberAddresses: Set<String>, exclusions: [ExclusionPattern],
        settings: OrganisationSettings, dropboxDomains: Set<String>
    ) {
        self.id = id
        self.name = name
        self.internalDomains = internalDomains.map { $0.lowercased() }
        self.memberAddresses = memberAddresses
        self.exclusions = exclusions
        self.settings = settings
        self.dropboxDomains = dropboxDomains
    }
}

/// Someone in a message who becomes (or already is) a contact.
public struct ContactCandidate: Sendable, Hashable, Codable {
    /// The normalised address.
    public var address: String
    /// The display name, when the message gives one.
    public var name: String?
    /// Where the address was found (`from`, `cc`, `forwarded-from`, `body`, …).
    public var source: String
    /// The domain a company is made from, or `nil` for free-mail or when companies are off.
    public var companyDomain: String?

    public init(address: String, name: String?, source: String, companyDomain: String?) {
        self.address = address
        self.name = name
        self.source = source
        self.companyDomain = companyDomain
    }

    /// The domain of the address, lower-cased.
    public var addressDomain: String {
        address.lastIndex(of: "@").map { String(address[address.index(after: $0)...]).lowercased() } ?? ""
    }

    /// A name for a new contact: the display name, else the local part made readable.
    public var contactName: String {
        displayName ?? nameFromAddress
    }

    /// The display name, unless it is blank or an address, without what only decorates it
    /// (``plainName(_:)``), and naming the relay for a relayed sender (``relayName(_:)``).
    public var displayName: String? {
        guard let name else { return nil }
        var plain = Self.plainName(name)
        if let relay = relayName(plain) { plain = Self.plainName(relay) }
        guard !plain.isEmpty, !plain.contains("@") else { return nil }
        return plain
    }

    /// For a display name `X via Y` that a relay gave, `Y`; else `nil`. Google Groups, Mailman
    /// (against DMARC) and notification services send a person's message from their own address
    /// and name it so (`'Jane Doe' via Sales <sales@googlegroups.com>`, `Jane Doe via dev-list
    /// <dev-list@lists.example.org>`, `Jane Doe via LinkedIn <messages@linkedin.com>`): the
    /// address is the group's or the service's, and every message relayed by it comes from it,
    /// so its contact is the relay, named after it, not the first person met through it. A relay
    /// names the sender in single quotes (Google Groups), or itself after the address's local
    /// part or domain; a business called `Pizzeria via Roma` keeps its name.
    public func relayName(_ name: String) -> String? {
        guard let via = name.range(of: " via ", options: .backwards) else { return nil }
        let relay = name[via.upperBound...].trimmingCharacters(in: .whitespaces)
        let sender = name[..<via.lowerBound].trimmingCharacters(in: .whitespaces)
        guard !relay.isEmpty, !sender.isEmpty else { return nil }
        let quoted = sender.count >= 2 && sender.hasPrefix("'") && sender.hasSuffix("'")
        let local = address.split(separator: "@").first.map(String.init) ?? ""
        let domainLabel = addressDomain.split(separator: ".").first.map(String.init) ?? ""
        let namesTheAddress = Self.sameLetters(relay, local) || Self.sameLetters(relay, domainLabel)
        return quoted || namesTheAddress ? relay : nil
    }

    /// `name` without invisible format characters (bidirectional marks and embeddings, which
    /// Hebrew and Arabic mailers put around names, zero-width spaces, the byte-order mark: Unicode's
    /// `Cf` category, but the joiners that Persian and Indic names are spelt with and the signs
    /// that are drawn), and without a pair of quotation marks around it (`“陈静”`, `«Иван»`,
    /// `「山田」`) that quotes it whole, trimmed.
    public static func plainName(_ name: String) -> String {
        var plain = Substring(name.withoutInvisibleMarks).trimmingCharacters(in: .whitespaces)
        let pairs: [(Character, Character)] = [
            ("“", "”"), ("„", "“"), ("‘", "’"), ("«", "»"), ("»", "«"), ("「", "」"), ("『", "』"), ("\"", "\""),
        ]
        while let first = plain.first, let last = plain.last, plain.count >= 2,
            let pair = pairs.first(where: { $0.0 == first && $0.1 == last }),
            !plain.dropFirst().dropLast().contains(where: { $0 == pair.0 || $0 == pair.1 })
        {
            plain = String(plain.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
        }
        return plain
    }

    /// Whether two names have the same letters and digits in the same order, whatever their
    /// case and punctuation: a display name `jane.fenwick` says no more than `Jane Fenwick`.
    public static func sameLetters(_ a: String, _ b: String) -> Bool {
        func letters(_ s: String) -> String { String(s.lowercased().filter { $0.isLetter || $0.isNumber }) }
        return letters(a) == letters(b)
    }

    /// The local part made readable (`jane.fenwick` → `Jane Fenwick`): a contact's name until a
    /// message gives a display name.
    public var nameFromAddress: String {
        let local = address.split(separator: "@").first.map(String.init) ?? address
        return local.split(whereSeparator: { $0 == "." || $0 == "_" || $0 == "-" })
            .map { $0.prefix(1).uppercased() + $0.dropFirst() }
            .joined(separator: " ")
    }
}

/// A `#CS…` or `#CO…` reference to a case or an opportunity.
public struct ReferenceTag: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        case `case` = "CS"
        case opportunity = "CO"
    }

    public var kind: Kind
    public var number: Int64

    /// Reads `CS1001` / `CO1001`.
    public init?(_ text: String) {
        guard text.count > 2, let kind = Kind(rawValue: String(text.prefix(2)).uppercased()), let number = Int64(text.dropFirst(2)) else {
            return nil
        }
        self.kind = kind
        self.number = number
    }

    public init(kind: Kind, number: Int64) {
        self.kind = kind
        self.number = number
    }

    public var description: String { "\(kind.rawValue)\(number)" }
}

/// What became of a received message for one dropbox recipient, as the message log shows it.
public enum MessageOutcome: String, Sendable, Hashable, Codable {
    case filed
    case refused
    case duplicate
    case automated
    case unmatched
}

/// A refusal by the filing rules: the SMTP reply that carries it, and its outcome in the log.
public struct FilingRefusal: Error, Sendable, Hashable {
    public var code: Int
    /// `class.subject.detail`.
    public var enhancedCode: String
    public var text: String

    public init(code: Int, enhancedCode: String, text: String) {
        self.code = code
        self.enhancedCode = enhancedCode
        self.text = text
    }

    /// The header From is not one of the user's addresses.
    public static func untrusted(_ address: String) -> FilingRefusal {
        FilingRefusal(
            code: 550, enhancedCode: "5.7.1",
            text: "\(address) is not a trusted address of this dropbox; add it with intakectl sender add"
        )
    }

    /// An auto-reply, a bounce or a delivery report whose header From is not one of the user's
    /// addresses: a customer's out-of-office answering a message the dropbox was copied on.
    /// Refused as any stranger's mail is, without telling anyone to trust its sender.
    public static func untrustedAutomated(_ address: String) -> FilingRefusal {
        FilingRefusal(
            code: 550, enhancedCode: "5.7.1",
            text: "an automatic answer (auto-reply, bounce or delivery report) from \(address), which is not a trusted address "
                + "of this dropbox; not filed"
        )
    }

    /// The message has no usable From.
    public static let noFrom = FilingRefusal(
        code: 550, enhancedCode: "5.7.1", text: "the message has no From address, so its sender cannot be trusted"
    )

    /// A note with nobody to file it under whose reference tags name no record of the
    /// organisation.
    public static func unknownReference(_ tags: [String]) -> FilingRefusal {
        let named = tags.map { "#" + $0 }.joined(separator: ", ")
        let records = tags.count == 1 ? "is no case or opportunity" : "are no cases or opportunities"
        return FilingRefusal(
            code: 550, enhancedCode: "5.6.0",
            text: "\(named) \(records) of your organisation, and no contact address was found in this message; "
                + "check the reference, or CC the dropbox on mail you send to your contact")
    }

    /// A note with nobody to file it under.
    public static let noContact = FilingRefusal(
        code: 550, enhancedCode: "5.6.0",
        text: "no contact address found in this message; forward the original message itself (inline or as an attachment) "
            + "so its sender is kept, or CC the dropbox on mail you send to your contact"
    )
}

/// What the rules decided for one message and one dropbox recipient: the store carries it out in a
/// transaction, matching and creating records.
public struct FilingIntent: Sendable, Hashable {
    public var kind: DropboxKind
    /// Title for a case, opportunity or task: the subject without reply/forward prefixes.
    public var title: String
    /// Due date of a task, `YYYY-MM-DD` in the user's time zone.
    public var due: String?
    /// The contacts, in the order found.
    public var contacts: [ContactCandidate]
    /// Reference tags in the subject and body.
    public var referenceTags: [ReferenceTag]
    /// Message-IDs named by In-Reply-To and References: the thread.
    public var threadMessageIDs: [String]
    /// The text of the note.
    public var noteText: String
    /// An auto-reply or other automated message: kept, not filed.
    public var automated: Bool
    /// Contacts found beyond ``FilingLimits/maxContactsPerMessage``, not filed under.
    public var contactsLeftOut: Int

    public init(
        kind: DropboxKind, title: String, due: String?, contacts: [ContactCandidate], referenceTags: [ReferenceTag],
        threadMessageIDs: [String], noteText: String, automated: Bool, contactsLeftOut: Int = 0
    ) {
        self.contactsLeftOut = contactsLeftOut
        self.kind = kind
        self.title = title
        self.due = due
        self.contacts = contacts
        self.referenceTags = referenceTags
        self.threadMessageIDs = threadMessageIDs
        self.noteText = noteText
        self.automated = automated
    }
}

/// The bounds of what one message files: without them, a forwarded mailing-list message naming
/// thousands wrote a note per person, each with the whole body (gigabytes, and every other
/// session's reply held behind its transaction). The daemon's settings
/// `filing.max_contacts_per_message` and `filing.max_note_text_octets`.
public struct FilingLimits: Sendable, Hashable {
    /// The most contacts one message is filed under (which: the senders, then the recipients,
    /// then the body's addresses); how many more it named goes in the message log.
    public var maxContactsPerMessage: Int
    /// The longest note text kept, in UTF-8 octets; a longer one is cut after a whole character,
    /// with a line that says so (the raw message keeps all of it).
    public var maxNoteTextOctets: Int

    public init(maxContactsPerMessage: Int = 50, maxNoteTextOctets: Int = 128 * 1024) {
        self.maxContactsPerMessage = maxContactsPerMessage
        self.maxNoteTextOctets = maxNoteTextOctets
    }
}
