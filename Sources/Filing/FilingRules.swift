import Foundation
import MailParser

/// The CRM rules, as pure functions: who may send into a dropbox, who in a message is a contact,
/// and what a message files.
public enum FilingRules {
    /// Whether the message comes from the user: its header From must be their primary or a
    /// validated extra address; `nil` when it does.
    public static func trustRefusal(for message: MailMessage, user: DropboxUser) -> FilingRefusal? {
        guard let from = message.from, from.isComplete else { return .noFrom }
        if user.ownAddresses.contains(from.normalized) { return nil }
        // An automatic answer (not list or bulk mail, which a person may have written).
        return message.isAutomaticAnswer ? .untrustedAutomated(from.address) : .untrusted(from.address)
    }

    /// The people in the message who are contacts: everyone found in headers, body and forwarded
    /// originals, less the dropbox, the user, their colleagues, internal domains and exclusions.
    public static func contacts(in message: MailMessage, user: DropboxUser, organisation: OrganisationContext) -> [ContactCandidate] {
        let own = user.ownAddresses
        let freemailExtra = Set(organisation.settings.freemailDomainsExtra.map { $0.lowercased() })
        var seen: Set<String> = []
        var result: [ContactCandidate] = []
        for person in message.people {
            let address = person.address.normalized
            let domain = person.address.domain.lowercased()
            guard person.address.isComplete, !seen.contains(address) else { continue }
            seen.insert(address)
            if own.contains(address) || organisation.memberAddresses.contains(address) { continue }
            if organisation.dropboxDomains.contains(domain) { continue }
            if organisation.internalDomains.contains(where: { domain == $0 || domain.hasSuffix("." + $0) }) { continue }
            if organisation.exclusions.contains(where: { $0.matches(address) }) { continue }
            if MailAddress.isMailSystem(person.address) || MailAddress.isExchangeInternal(person.address) { continue }
            let companyDomain = companyDomain(of: domain, settings: organisation.settings, freemailExtra: freemailExtra)
            result.append(
                ContactCandidate(
                    address: address, name: person.name ?? person.address.name, source: person.source.rawValue, companyDomain: companyDomain
                )
            )
        }
        return result
    }

    /// The domain of the company a contact at `domain` works for: its registrable domain
    /// (`uk.globex.example` and `mail.globex.example` are both Globex's `globex.example`); `nil`
    /// for a free-mail provider's, or when the organisation makes no companies from domains.
    public static func companyDomain(of domain: String, settings: OrganisationSettings, freemailExtra: Set<String>) -> String? {
        guard settings.companyFromDomain, !FreemailDomains.contains(domain, extra: freemailExtra) else { return nil }
        return DomainSuffix.registrableDomain(domain)
    }

    /// What the message files for this recipient, or why it is refused.
    public static func intent(
        for message: MailMessage, user: DropboxUser, kind: DropboxKind, organisation: OrganisationContext, receivedAt: Date,
        limits: FilingLimits = FilingLimits()
    ) -> Result<FilingIntent, FilingRefusal> {
        if let refusal = trustRefusal(for: message, user: user) { return .failure(refusal) }
        let found = contacts(in: message, user: user, organisation: organisation)
        let contacts = mostRelevant(found, in: message, keeping: limits.maxContactsPerMessage)
        let due: String? =
            switch kind {
            case .taskToday: localDate(receivedAt, timeZone: user.timeZone, addingDays: 0)
            case .taskTomorrow: localDate(receivedAt, timeZone: user.timeZone, addingDays: 1)
            case .note, .case, .opportunity, .task: nil
            }
        return .success(
            FilingIntent(
                kind: kind,
                title: title(message.subject),
                due: due,
                contacts: contacts,
                referenceTags: message.referenceTags.compactMap(ReferenceTag.init),
                threadMessageIDs: threadMessageIDs(message),
                noteText: noteText(message, maxOctets: limits.maxNoteTextOctets),
                automated: message.isAutomated,
                contactsLeftOut: found.count - contacts.count
            )
        )
    }

    /// The Message-IDs that may name a thread the message belongs to: its In-Reply-To, then its
    /// References; then, for each attached original (a customer's reply forwarded as an
    /// attachment), its own Message-ID, In-Reply-To and References.
    static func threadMessageIDs(_ message: MailMessage) -> [String] {
        var ids = message.inReplyTo + message.references
        for original in message.enclosedMessages {
            ids += [original.messageID].compactMap { $0 } + original.inReplyTo + original.references
        }
        var seen: Set<String> = []
        return ids.filter { seen.insert($0).inserted }
    }

    /// The longest title kept, in characters: a subject longer than this is cut at a word and
    /// ends with `…`.
    public static let maxTitleLength = 200

    /// The subject without `Re:`, `Fwd:`, their translations and the tags of mail gateways
    /// (``SubjectPrefixes/stripped(_:)``), at most ``maxTitleLength`` characters; or `(no subject)`.
    public static func title(_ subject: String?) -> String {
        let text = SubjectPrefixes.stripped(subject ?? "")
        guard !text.isEmpty else { return "(no subject)" }
        guard text.count > maxTitleLength else { return text }
        var cut = text.prefix(maxTitleLength - 1)
        if let space = cut.lastIndex(where: \.isWhitespace), cut.distance(from: cut.startIndex, to: space) > maxTitleLength / 2 {
            cut = cut[..<space]
        }
        return cut.trimmingWhiteSpace + "…"
    }

    /// The name of the company a domain belongs to: the label it is registered under, in words
    /// (`acme-corp.co.uk` → `Acme Corp`, `toyota.or.jp` → `Toyota`).
    public static func companyName(domain: String) -> String {
        let labels = domain.split(separator: ".")
        var main = labels.first.map(String.init) ?? domain
        if let platform = DomainSuffix.platform(of: labels) {
            // A platform's tenant is named after its own label: `acme.onmicrosoft.com` is Acme.
            main = String(labels[labels.count - platform.split(separator: ".").count - 1])
        } else {
            let tld = labels.last ?? ""
            for label in labels.dropLast() where !DomainSuffix.isSecondLevel(label, under: tld) && label.count > 1 {
                main = String(label)
            }
        }
        return main.split(whereSeparator: { $0 == "-" || $0 == "_" }).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(
            separator: " ")
    }

    /// At most `count` of `found`: the senders first (From, Sender, Reply-To, a forwarded
    /// original's From and Reply-To, an invitation's organizer), then the recipients (and an
    /// invitation's attendees), then the addresses in the body, each in
    /// the order found; a list's thousand recipients do not push out the customer whose mail was
    /// forwarded.
    static func mostRelevant(_ found: [ContactCandidate], in message: MailMessage, keeping count: Int) -> [ContactCandidate] {
        guard found.count > count else { return found }
        var ranks: [String: Int] = [:]
        for person in message.people { ranks[person.address.normalized] = person.sources.map(rank).min() ?? 2 }
        let kept = found.indices.sorted { (ranks[found[$0].address] ?? 2, $0) < (ranks[found[$1].address] ?? 2, $1) }
            .prefix(count).sorted()
        return kept.map { found[$0] }
    }

    private static func rank(_ source: PersonSource) -> Int {
        switch source {
        case .from, .sender, .replyTo, .forwardedFrom, .forwardedReplyTo, .invitationOrganizer: 0
        case .body: 2
        default: 1
        }
    }

    /// The text of a note: the subject and the body, at most `maxOctets` octets of UTF-8, cut
    /// after a whole character with a line that says so (the raw message keeps all of it).
    public static func noteText(_ message: MailMessage, maxOctets: Int = FilingLimits().maxNoteTextOctets) -> String {
        let subject = message.subject.map { "Subject: \($0)\n\n" } ?? ""
        let text = subject + message.bodyText
        guard text.utf8.count > maxOctets else { return text }
        // Cut after the last whole character that fits.
        var end = text.startIndex
        var octets = 0
        for character in text {
            octets += character.utf8.count
            if octets > maxOctets { break }
            end = text.index(after: end)
        }
        return String(text[..<end])
            + "\n\n[The text goes on; the note keeps its first \(maxOctets % 1024 == 0 ? "\(maxOctets / 1024) KiB" : "\(maxOctets) octets"). The whole message is kept.]"
    }

    /// The calendar date `days` after `date` in `timeZone`, as `YYYY-MM-DD`.
    public static func localDate(_ date: Date, timeZone: String, addingDays days: Int) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: timeZone) ?? TimeZone(identifier: "UTC")!
        let shifted = calendar.date(byAdding: .day, value: days, to: date) ?? date
        let parts = calendar.dateComponents([.year, .month, .day], from: shifted)
        return String(format: "%04d-%02d-%02d", parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1)
    }

    /// The key that recognises the same message arriving again: its normalised Message-ID, else
    /// (none, or one that normalises to nothing, such as `<\u{A0}>`) a hash of its content.
    public static func deduplicationKey(messageID: String?, content: some Collection<UInt8>) -> String {
        if let messageID, let key = deduplicationKey(messageID: messageID) { return key }
        return "sha256:" + SHA256.hex(content)
    }

    /// The deduplication key of a message whose Message-ID is `messageID`, or `nil` when that
    /// normalises to nothing (such messages are keyed by their content): also how a reply's
    /// In-Reply-To or References find the messages of its thread.
    public static func deduplicationKey(messageID: String) -> String? {
        let normalised = normaliseMessageID(messageID)
        return normalised.isEmpty ? nil : "mid:" + normalised
    }

    /// A Message-ID without brackets or spaces, its domain lowercased (RFC 5322 §3.6.4).
    public static func normaliseMessageID(_ id: String) -> String {
        var text = id[...].trimmingWhiteSpace
        if text.first == "<" { text = text.dropFirst() }
        if text.last == ">" { text = text.dropLast() }
        // No white space belongs inside the brackets either (§3.6.4's msg-id has none).
        text = text.trimmingWhiteSpace
        guard let at = text.lastIndex(of: "@") else { return String(text) }
        return String(text[...at]) + text[text.index(after: at)...].lowercased()
    }
}

extension Substring {
    /// The text without the white space (Unicode's `White_Space`, line breaks included, and the
    /// zero width space, as Foundation has it) at either end: Foundation's
    /// `trimmingCharacters(in: .whitespacesAndNewlines)`, without going through `NSString` and
    /// without copying (a test compares them).
    var trimmingWhiteSpace: Substring {
        let scalars = unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        while start < end, Self.isWhiteSpace(scalars[start]) { scalars.formIndex(after: &start) }
        while start < end {
            let last = scalars.index(before: end)
            guard Self.isWhiteSpace(scalars[last]) else { break }
            end = last
        }
        return Substring(scalars[start..<end])
    }

    /// Whether `scalar` is trimmed: ASCII is decided without Unicode's property tables.
    @inline(__always)
    private static func isWhiteSpace(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return scalar == " " || (0x09...0x0D).contains(scalar.value) }
        return scalar.properties.isWhitespace || scalar == "\u{200B}"
    }
}

extension String {
    /// ``Substring/trimmingWhiteSpace`` as a string.
    var trimmingWhiteSpace: String { String(self[...].trimmingWhiteSpace) }
}
