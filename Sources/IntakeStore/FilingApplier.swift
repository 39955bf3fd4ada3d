import Filing
import Foundation
import GRDB
import MailParser

/// Carries out the filing rules for one delivery inside a write transaction: trust, duplicates,
/// references and threads, contacts and companies, notes, cases, opportunities and tasks, and the
/// message log. Everything it writes commits together or not at all.
struct FilingApplier {
    /// A record a message is filed under: its `filing` row's type and id, and the label its log
    /// row shows (`CS1001` for a case, else the id).
    typealias FiledRecord = (type: String, id: Int64, label: String)

    /// Records as a log row and `message show` list them: `type:label` (`case:CS1001`, `contact:4`).
    static func labels(_ records: [FiledRecord]) -> [String] { records.map { "\($0.type):\($0.label)" } }

    let db: Database
    let delivery: Delivery
    /// Where users and organisation contexts come from (confirmed for this transaction).
    let directory: DropboxDirectory
    let now: Double
    /// The bounds of what the message files.
    let limits: FilingLimits
    /// The message's row per organisation, once stored.
    private var storedMessage: [Int64?: Int64] = [:]
    /// Whether a row of this delivery's own holds (or names) its raw message.
    private(set) var storedRaw = false

    init(db: Database, delivery: Delivery, directory: DropboxDirectory, limits: FilingLimits) {
        self.limits = limits
        self.db = db
        self.delivery = delivery
        self.directory = directory
        self.now = delivery.receivedAt.timeIntervalSince1970
    }

    mutating func run() throws -> [RecipientResult] {
        var results: [RecipientResult] = []
        var seen: Set<DropboxAddress> = []
        for recipient in delivery.recipients {
            let result: RecipientResult
            var user: DropboxUser?
            if let dropbox = recipient.dropbox {
                if !seen.insert(dropbox).inserted { continue }
                user = try directory.user(db, token: dropbox.token)
                if let user {
                    result = try file(for: user, kind: dropbox.kind, recipient: recipient.address)
                } else {
                    // The token was rotated between RCPT and the end of data.
                    result = refused(
                        recipient.address,
                        FilingRefusal(code: 550, enhancedCode: "5.1.1", text: "\(recipient.address) is not a dropbox address (any more)")
                    )
                }
            } else {
                // A sender's retry of postmaster mail is kept once: the same key from the same
                // header From (anyone may write to postmaster, and another's mail that reuses a
                // Message-ID is kept). No organisation: the unique index, which takes NULLs as
                // distinct, does not see it.
                let kept =
                    storedMessage[nil] != nil
                    ? nil
                    : try Int64.fetchOne(
                        db.cachedStatement(
                            sql: "SELECT id FROM message WHERE organisation_id IS NULL AND deduplication_key = ? AND from_address IS ?"),
                        arguments: [delivery.deduplicationKey, delivery.message.from?.normalized])
                let messageRow = try kept ?? storeMessage(organisationID: nil)
                result = RecipientResult(
                    recipient: recipient.address, outcome: kept == nil ? .unmatched : .duplicate,
                    reason: kept == nil ? "mail for postmaster; kept for an admin" : "mail for postmaster; already kept", refusal: nil,
                    filed: [], unresolvedReferences: []
                )
                try log(result, user: nil, kind: nil, messageRow: messageRow)
                results.append(result)
                continue
            }
            try log(
                result, user: user, kind: recipient.dropbox?.kind, messageRow: result.accepted ? storedMessage[user?.organisationID] : nil)
            results.append(result)
        }
        return results
    }

    // MARK: One recipient

    private mutating func file(for user: DropboxUser, kind: DropboxKind, recipient: String) throws -> RecipientResult {
        let organisation = try directory.organisationContext(db, user: user, dropboxDomains: delivery.dropboxDomains)
        let intent: FilingIntent
        switch FilingRules.intent(
            for: delivery.message, user: user, kind: kind, organisation: organisation, receivedAt: delivery.receivedAt,
            limits: limits)
        {
        case .failure(let refusal): return refused(recipient, refusal)
        case .success(let value): intent = value
        }

        // The same message again at a dropbox of the same kind: filed once, credited to every user
        // whose dropbox received it. At a dropbox of another kind (a note, then a case) it is filed
        // for that kind too, under the message stored the first time.
        if let existing = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM message WHERE organisation_id = ? AND deduplication_key = ?"),
            arguments: [user.organisationID, delivery.deduplicationKey]
        ) {
            storedMessage[user.organisationID] = existing
            let creditedUsers = try Int64.fetchAll(
                db.cachedStatement(sql: "SELECT user_id FROM message_user WHERE message_id = ? AND kind = ?"),
                arguments: [existing, kind.rawValue]
            )
            if !creditedUsers.isEmpty {
                let credited = creditedUsers.contains(user.id)
                if !credited { try credit(existing, user: user, kind: kind) }
                return RecipientResult(
                    recipient: recipient, outcome: .duplicate,
                    reason: credited
                        ? "already filed from this dropbox" : "already filed from a colleague's dropbox; credited to this user too",
                    refusal: nil, filed: try IntakeDatabase.filedLabels(db, message: existing), unresolvedReferences: []
                )
            }
        }

        if intent.automated {
            let messageRow = try storeMessage(organisationID: user.organisationID)
            try credit(messageRow, user: user, kind: kind)
            // Filed again, it stays under the records it was assigned to by hand.
            for (type, id, _) in delivery.recordsKept { try fileUnder(messageRow, type: type, id: id) }
            return RecipientResult(
                recipient: recipient, outcome: .automated,
                reason: "an automated message (auto-reply, bulk or delivery report); kept, not filed",
                refusal: nil, filed: Self.labels(delivery.recordsKept), unresolvedReferences: []
            )
        }

        // References and threads name the records the message belongs to, as do the records a
        // message filed again stays under.
        var attached = delivery.recordsKept
        var unresolved: [String] = []
        for tag in intent.referenceTags {
            let table = tag.kind == .case ? "case_record" : "opportunity"
            if let id = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM \(table) WHERE organisation_id = ? AND number = ?"),
                arguments: [user.organisationID, tag.number]
            ) {
                // `#CS1001` and `#CS01001` name one record: it is listed once.
                Self.addOnce((tag.kind == .case ? "case" : "opportunity", id, tag.description), to: &attached)
            } else {
                unresolved.append(tag.description)
            }
        }
        // A reply in a case's thread stays under the case, whatever else it names.
        for record in try threadRecords(intent.threadMessageIDs, organisationID: user.organisationID) {
            Self.addOnce(record, to: &attached)
        }

        // Contacts: matched on any of their addresses, created when missing (and allowed).
        var contacts: [(id: Int64, companyID: Int64?)] = []
        var unknown: [String] = []
        for candidate in intent.contacts {
            if let contact = try findContact(candidate.address, organisationID: user.organisationID) {
                // A contact first met without a display name (an address in a body or a Cc) is
                // named after its local part; the first message that gives a name renames it.
                if let better = candidate.displayName, ContactCandidate.sameLetters(contact.name, candidate.nameFromAddress),
                    !ContactCandidate.sameLetters(better, contact.name)
                {
                    try db.executeCached(sql: "UPDATE contact SET name = ? WHERE id = ?", arguments: [better, contact.id])
                }
                contacts.append((contact.id, contact.companyID))
            } else if organisation.settings.createContacts {
                contacts.append(try createContact(candidate, organisationID: user.organisationID))
            } else {
                unknown.append(candidate.address)
            }
        }

        if kind == .note && contacts.isEmpty && attached.isEmpty {
            if !unknown.isEmpty {
                let messageRow = try storeMessage(organisationID: user.organisationID)
                try credit(messageRow, user: user, kind: kind)
                return RecipientResult(
                    recipient: recipient, outcome: .unmatched,
                    reason: "no known contact and create_contacts is off; assign it with intakectl message assign",
                    refusal: nil, filed: [], unresolvedReferences: unresolved
                )
            }
            guard !unresolved.isEmpty else { return refused(recipient, .noContact) }
            // `#CS9999` mistyped in a note about a case: the tag is what went wrong.
            return refused(recipient, .unknownReference(unresolved), unresolved: unresolved)
        }

        let messageRow = try storeMessage(organisationID: user.organisationID)
        try credit(messageRow, user: user, kind: kind)
        var filed: [FiledRecord] = []
        for (type, id, label) in attached {
            try fileUnder(messageRow, type: type, id: id)
            for contact in contacts { try link(contact.id, to: type, id: id) }
            filed.append((type, id, label))
        }
        switch kind {
        case .note:
            for contact in contacts {
                try db.executeCached(
                    sql:
                        "INSERT INTO note (organisation_id, contact_id, message_id, author_id, text, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [user.organisationID, contact.id, messageRow, user.id, intent.noteText, now]
                )
            }
        case .case, .opportunity:
            let type = kind == .case ? "case" : "opportunity"
            if !attached.contains(where: { $0.type == type }) {
                let (id, label) = try createRecord(type: type, title: intent.title, user: user)
                try fileUnder(messageRow, type: type, id: id)
                for contact in contacts { try link(contact.id, to: type, id: id) }
                filed.append((type, id, label))
            }
        case .task, .taskToday, .taskTomorrow:
            try db.executeCached(
                sql: "INSERT INTO task (organisation_id, owner_id, title, due, message_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [user.organisationID, user.id, intent.title, intent.due, messageRow, now]
            )
            let id = db.lastInsertedRowID
            try fileUnder(messageRow, type: "task", id: id)
            for contact in contacts { try link(contact.id, to: "task", id: id) }
            filed.append(("task", id, String(id)))
        }
        for contact in contacts {
            try fileUnder(messageRow, type: "contact", id: contact.id)
            filed.append(("contact", contact.id, String(contact.id)))
            if let company = contact.companyID {
                try fileUnder(messageRow, type: "company", id: company)
                Self.addOnce(("company", company, String(company)), to: &filed)
            }
        }
        // Listed as `message show` lists them (``Schema/filingOrder``), so that a duplicate's log
        // row names them as the original's does.
        filed.sort { (Schema.filingRank($0.type), $0.id) < (Schema.filingRank($1.type), $1.id) }
        var reasons: [String] = []
        if !unresolved.isEmpty { reasons.append("unknown reference \(unresolved.joined(separator: ", "))") }
        if !unknown.isEmpty {
            // Filed under a record all the same: the people it names are not lost from sight.
            reasons.append(
                "not contacts, as create_contacts is off: \(unknown.joined(separator: ", ")); "
                    + "file it under them with intakectl message assign once they are")
        }
        if intent.contactsLeftOut > 0 {
            reasons.append(
                "\(intent.contactsLeftOut) more people not filed: at most \(limits.maxContactsPerMessage) contacts per message")
        }
        return RecipientResult(
            recipient: recipient, outcome: .filed,
            reason: reasons.isEmpty ? nil : reasons.joined(separator: "; "),
            refusal: nil, filed: Self.labels(filed), unresolvedReferences: unresolved
        )
    }

    private func refused(_ recipient: String, _ refusal: FilingRefusal, unresolved: [String] = []) -> RecipientResult {
        RecipientResult(
            recipient: recipient, outcome: .refused, reason: refusal.text, refusal: refusal, filed: [],
            unresolvedReferences: unresolved
        )
    }

    // MARK: Records

    private func findContact(_ address: String, organisationID: Int64) throws -> (id: Int64, name: String, companyID: Int64?)? {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql:
                        "SELECT c.id, c.name, c.company_id FROM contact_email e JOIN contact c ON c.id = e.contact_id WHERE e.organisation_id = ? AND e.email = ?"
                ),
                arguments: [organisationID, address.lowercased()]
            )
        else { return nil }
        return (row["id"], row["name"], row["company_id"])
    }

    private func createContact(_ candidate: ContactCandidate, organisationID: Int64) throws -> (id: Int64, companyID: Int64?) {
        try Self.createContact(candidate, organisationID: organisationID, now: now, in: db)
    }

    /// Creates a contact with its address, linked to the company of its `companyDomain`
    /// (created when missing): as filing does, and `contact create`.
    static func createContact(
        _ candidate: ContactCandidate, organisationID: Int64, now: Double, in db: Database
    ) throws -> (id: Int64, companyID: Int64?) {
        var companyID: Int64?
        if let domain = candidate.companyDomain {
            // A company made before companies were keyed by the registrable domain may have the
            // full domain of the address (`mail.globex.example`): the contact joins it.
            companyID = try Int64.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT id FROM company WHERE organisation_id = ? AND (domain = ? OR domain = ?)
                        ORDER BY domain = ? DESC, id LIMIT 1
                        """),
                arguments: [organisationID, domain, candidate.addressDomain, domain]
            )
            if companyID == nil {
                try db.executeCached(
                    sql: "INSERT INTO company (organisation_id, name, domain, created_at) VALUES (?, ?, ?, ?)",
                    arguments: [organisationID, FilingRules.companyName(domain: domain), domain, now]
                )
                companyID = db.lastInsertedRowID
            }
        }
        try db.executeCached(
            sql: "INSERT INTO contact (organisation_id, name, company_id, created_at) VALUES (?, ?, ?, ?)",
            arguments: [organisationID, candidate.contactName, companyID, now]
        )
        let id = db.lastInsertedRowID
        try db.executeCached(
            sql: "INSERT INTO contact_email (contact_id, organisation_id, email) VALUES (?, ?, ?)",
            arguments: [id, organisationID, candidate.address.lowercased()]
        )
        return (id, companyID)
    }

    private func createRecord(type: String, title: String, user: DropboxUser) throws -> (Int64, String) {
        let (table, counter, prefix) =
            type == "case"
            ? ("case_record", "next_case_number", ReferenceTag.Kind.case.rawValue)
            : ("opportunity", "next_opportunity_number", ReferenceTag.Kind.opportunity.rawValue)
        guard
            let number = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT \(counter) FROM organisation WHERE id = ?"), arguments: [user.organisationID])
        else { throw StoreError(code: .notFound, message: "the user's organisation is gone") }
        try db.executeCached(sql: "UPDATE organisation SET \(counter) = \(counter) + 1 WHERE id = ?", arguments: [user.organisationID])
        try db.executeCached(
            sql: "INSERT INTO \(table) (organisation_id, number, title, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [user.organisationID, number, title, user.id, now]
        )
        return (db.lastInsertedRowID, "\(prefix)\(number)")
    }

    /// Cases and opportunities that earlier messages of the thread are filed under. A message with
    /// a Message-ID is stored under the deduplication key made of it, which finds it.
    private func threadRecords(_ messageIDs: [String], organisationID: Int64) throws -> [FiledRecord] {
        let keys = messageIDs.compactMap { FilingRules.deduplicationKey(messageID: $0) }
        guard !keys.isEmpty else { return [] }
        let placeholders = Array(repeating: "?", count: keys.count).joined(separator: ", ")
        var arguments = StatementArguments([organisationID])
        arguments += StatementArguments(keys)
        let rows = try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT DISTINCT record_type, record_id, \(Schema.recordLabel) AS label
                    FROM message m JOIN filing f ON f.message_id = m.id
                    WHERE m.organisation_id = ? AND m.deduplication_key IN (\(placeholders))
                        AND record_type IN ('case', 'opportunity')
                    ORDER BY record_type, record_id
                    """),
            arguments: arguments
        )
        return rows.map { ($0["record_type"], $0["record_id"], $0["label"]) }
    }

    /// Appends `record` to `records` unless they already name its record (the same type and id).
    private static func addOnce(_ record: FiledRecord, to records: inout [FiledRecord]) {
        if !records.contains(where: { $0.type == record.type && $0.id == record.id }) { records.append(record) }
    }

    private func fileUnder(_ messageRow: Int64, type: String, id: Int64) throws {
        try db.executeCached(
            sql: "INSERT OR IGNORE INTO filing (message_id, record_type, record_id) VALUES (?, ?, ?)", arguments: [messageRow, type, id]
        )
    }

    private func link(_ contactID: Int64, to type: String, id: Int64) throws {
        try db.executeCached(
            sql: "INSERT OR IGNORE INTO record_contact (record_type, record_id, contact_id) VALUES (?, ?, ?)",
            arguments: [type, id, contactID]
        )
    }

    private func credit(_ messageRow: Int64, user: DropboxUser, kind: DropboxKind) throws {
        try db.executeCached(
            sql: "INSERT OR IGNORE INTO message_user (message_id, user_id, kind, received_at) VALUES (?, ?, ?, ?)",
            arguments: [messageRow, user.id, kind.rawValue, now]
        )
    }

    // MARK: Message and log

    /// Stores the raw message and its summary once per organisation; returns its row.
    private mutating func storeMessage(organisationID: Int64?) throws -> Int64 {
        if let existing = storedMessage[organisationID] { return existing }
        let message = delivery.message
        // A raw message in a spool file goes in as a zero-filled BLOB of its size, then in pieces;
        // one kept in the raw folder is only named.
        let (rawValue, rawSQL, rawSHA256): (DatabaseValue, String, String?) =
            switch delivery.raw {
            case .bytes(let data): (data.databaseValue, "?", nil)
            case .file(_, let size): (size.databaseValue, "zeroblob(?)", nil)
            case .kept(let sha256, _): (Data().databaseValue, "?", sha256)
            }
        try db.executeCached(
            sql: """
                INSERT INTO message (organisation_id, deduplication_key, message_id_header, subject, from_address, from_name,
                    received_at, size, summary, raw, raw_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, \(rawSQL), ?)
                """,
            arguments: [
                organisationID, delivery.deduplicationKey, delivery.messageIDHeader, message.subject,
                message.from?.normalized, message.from?.name, now, delivery.raw.count, delivery.summary, rawValue, rawSHA256,
            ]
        )
        let row = db.lastInsertedRowID
        if case .file(let path, let size) = delivery.raw {
            try RawMessage.copy(file: path, size: size, into: db, table: "message", column: "raw", row: row)
        }
        for attachment in message.attachments {
            try db.executeCached(
                sql: "INSERT OR IGNORE INTO attachment (sha256, message_id, size, content_type, filename) VALUES (?, ?, ?, ?, ?)",
                arguments: [attachment.sha256, row, attachment.size, attachment.contentType, attachment.filename])
        }
        storedMessage[organisationID] = row
        storedRaw = true
        return row
    }

    private func log(_ result: RecipientResult, user: DropboxUser?, kind: DropboxKind?, messageRow: Int64?) throws {
        let message = delivery.message
        try db.executeCached(
            sql: """
                INSERT INTO message_log (received_at, smtp_id, envelope_from, recipient, header_from, subject, message_id_header,
                    organisation_id, user_id, kind, outcome, reason, unresolved_refs, filed, message_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                now, delivery.smtpID, delivery.envelopeFrom, result.recipient, message.from?.normalized, message.subject,
                delivery.messageIDHeader, user?.organisationID, user?.id, kind?.rawValue,
                result.outcome.rawValue, result.reason, IntakeDatabase.encodeList(result.unresolvedReferences),
                IntakeDatabase.encodeList(result.filed), messageRow,
            ]
        )
    }
}

extension IntakeDatabase {
    /// Files one delivery in the current transaction.
    static func file(_ delivery: Delivery, in db: Database, directory: DropboxDirectory, limits: FilingLimits) throws -> [RecipientResult] {
        try fileNamingRaw(delivery, in: db, directory: directory, limits: limits).results
    }

    /// The same, and whether a row it wrote holds or names the raw message (not so for a
    /// duplicate or a refusal).
    static func fileNamingRaw(
        _ delivery: Delivery, in db: Database, directory: DropboxDirectory, limits: FilingLimits
    ) throws -> (results: [RecipientResult], storedRaw: Bool) {
        var applier = FilingApplier(db: db, delivery: delivery, directory: directory, limits: limits)
        let results = try applier.run()
        return (results, applier.storedRaw)
    }
}
