import Filing
import Foundation
import GRDB
import MailParser

/// An organisation with its settings, defaults filled in.
public struct OrganisationView: Sendable, Hashable {
    public var organisation: OrganisationRecord
    public var settings: OrganisationSettings
}

/// An exclusion pattern: the organisation's, or one user's own.
public struct ExclusionView: Sendable, Hashable {
    public var id: Int64
    public var pattern: String
    /// The user's primary email; `nil` for the whole organisation.
    public var user: String?
}

/// A stored message in a list: enough to recognise it.
public struct MessageBrief: Sendable, Hashable {
    public var id: Int64
    public var receivedAt: Double
    public var subject: String?
    public var from: String?
}

/// A contact with its notes and the messages filed under it.
public struct ContactDetails: Sendable, Hashable {
    public var contact: ContactView
    public var notes: [NoteView]
    public var messages: [MessageBrief]
}

/// A company with the messages filed under it.
public struct CompanyDetails: Sendable, Hashable {
    public var company: CompanyView
    public var messages: [Int64]
}

/// A stored message: what is kept about it and where it is filed.
public struct StoredMessageView: Sendable, Hashable {
    /// A user whose dropbox received the message, and through which address kind.
    public struct Recipient: Sendable, Hashable {
        public var email: String
        public var kind: String
        public var receivedAt: Double
    }

    public var id: Int64
    public var organisation: String?
    public var receivedAt: Double
    public var messageID: String?
    public var from: String?
    public var fromName: String?
    public var subject: String?
    public var size: Int
    /// The parsed summary kept with the message, as JSON.
    public var summaryJSON: String
    /// The text the message adds to its thread (without quoted replies and signature), parsed
    /// again from the raw message (the summary no longer keeps it; older rows' summaries still
    /// do); `nil` when the raw message cannot be read.
    public var newText: String?
    public var users: [Recipient]
    /// The records it is filed under, as `type:id` (`case:CS1001`, `contact:4`), in
    /// ``Schema/filingOrder``.
    public var filed: [String]
}

/// The record a message is filed under by hand: by id, email / reference.
public enum AssignTarget: Sendable, Hashable {
    case contact(String)
    case `case`(String)
    case opportunity(String)
}

/// What reprocessing a message did.
public struct ReprocessResult: Sendable, Hashable {
    /// The message's row now (reprocessing stores it afresh).
    public var message: Int64?
    public var results: [RecipientResult]
}

extension IntakeDatabase {
    // MARK: Organisations

    /// Every organisation, by id.
    public func organisations() async throws(StoreError) -> [OrganisationView] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM organisation ORDER BY id").map { row in
                let record = OrganisationRecord(id: row["id"], name: row["name"], internalDomains: Self.decodeList(row["internal_domains"]))
                return OrganisationView(organisation: record, settings: try Self.settings(db, organisationID: record.id))
            }
        }
    }

    /// The organisation, by id or name.
    public func organisation(_ reference: String) async throws(StoreError) -> OrganisationView {
        try await read { db in
            let record = try Self.organisation(db, reference)
            return OrganisationView(organisation: record, settings: try Self.settings(db, organisationID: record.id))
        }
    }

    /// The organisation's settings, defaults filled in.
    public func settings(organisation: String) async throws(StoreError) -> OrganisationSettings {
        try await read { db in try Self.settings(db, organisationID: try Self.organisation(db, organisation).id) }
    }

    // MARK: Users

    /// The organisation's users, by id.
    public func users(organisation: String) async throws(StoreError) -> [UserRecord] {
        try await read { db in
            let organisation = try Self.organisation(db, organisation)
            return try Int64.fetchAll(db, sql: "SELECT id FROM user WHERE organisation_id = ? ORDER BY id", arguments: [organisation.id])
                .map { try Self.userRecord(db, id: $0) }
        }
    }

    /// Deletes a user; returns them as they were. Their notes and tasks stay, without author or owner.
    public func deleteUser(_ reference: String) async throws(StoreError) -> UserRecord {
        try await write { db in
            let record = try Self.userRecord(db, id: try Self.userID(db, reference))
            try db.execute(sql: "DELETE FROM user WHERE id = ?", arguments: [record.id])
            return record
        }
    }

    // MARK: Exclusions

    /// The organisation's exclusions; with `user`, only that user's own.
    public func exclusions(organisation: String, user: String? = nil) async throws(StoreError) -> [ExclusionView] {
        try await read { db in
            let organisation = try Self.organisation(db, organisation)
            var sql = """
                SELECT e.id, e.pattern, u.email FROM exclusion e LEFT JOIN user u ON u.id = e.user_id WHERE e.organisation_id = ?
                """
            var arguments: StatementArguments = [organisation.id]
            if let user {
                sql += " AND e.user_id = ?"
                arguments += [try Self.userID(db, user)]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY e.id", arguments: arguments).map {
                ExclusionView(id: $0["id"], pattern: $0["pattern"], user: $0["email"])
            }
        }
    }

    /// Removes an exclusion: the organisation's, or with `user` that user's own.
    public func removeExclusion(organisation: String, user: String? = nil, pattern: String) async throws(StoreError) -> ExclusionView {
        let normalised = ExclusionPattern(pattern)?.description ?? pattern.trimmingCharacters(in: .whitespaces).lowercased()
        return try await write { db in
            let organisation = try Self.organisation(db, organisation)
            let userID = try user.map { try Self.userID(db, $0) }
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT e.id, e.pattern, u.email FROM exclusion e LEFT JOIN user u ON u.id = e.user_id
                        WHERE e.organisation_id = ? AND e.pattern = ? AND e.user_id IS ?
                        """,
                    arguments: [organisation.id, normalised, userID]
                )
            else {
                let scope = user.map { "of \($0)" } ?? "of \(organisation.name)"
                // The same pattern in the other scope: say how to name it.
                let owners = try String.fetchAll(
                    db,
                    sql: """
                        SELECT ifnull(u.email, '') FROM exclusion e LEFT JOIN user u ON u.id = e.user_id
                        WHERE e.organisation_id = ? AND e.pattern = ? AND e.user_id IS NOT ? ORDER BY e.id
                        """,
                    arguments: [organisation.id, normalised, userID])
                var hint = ""
                if let owner = owners.first {
                    hint =
                        owner.isEmpty
                        ? "; it is the organisation's own: remove it without --user"
                        : "; it is \(owner)'s own: remove it with --user \(owner)"
                }
                throw StoreError(code: .notFound, message: "\(normalised) is not an exclusion \(scope)\(hint)")
            }
            try db.execute(sql: "DELETE FROM exclusion WHERE id = ?", arguments: [row["id"] as Int64])
            return ExclusionView(id: row["id"], pattern: row["pattern"], user: row["email"])
        }
    }

    // MARK: Contacts, companies, cases, opportunities

    /// A contact, by id or email (`organisation` narrows an email to one organisation), with its
    /// notes and messages.
    public func contact(_ reference: String, organisation: String? = nil) async throws(StoreError) -> ContactDetails {
        try await read { db in
            let organisationID = try organisation.map { try Self.organisation(db, $0).id }
            let id = try Self.contactID(db, reference, organisationID: organisationID)
            guard let contact = try Self.contactView(db, id: id) else {
                throw StoreError(code: .notFound, message: "no contact \(reference)")
            }
            let notes = try Row.fetchAll(
                db,
                sql: """
                    SELECT n.id, n.contact_id, n.message_id, u.email AS author, n.created_at, n.text
                    FROM note n LEFT JOIN user u ON u.id = n.author_id WHERE n.contact_id = ? ORDER BY n.id
                    """,
                arguments: [id]
            ).map {
                NoteView(
                    id: $0["id"], contact: $0["contact_id"], message: $0["message_id"], author: $0["author"], createdAt: $0["created_at"],
                    text: $0["text"])
            }
            return ContactDetails(contact: contact, notes: notes, messages: try Self.messagesFiled(db, type: "contact", id: id))
        }
    }

    /// A company, by id or domain (`organisation` narrows a domain to one organisation).
    public func company(_ reference: String, organisation: String? = nil) async throws(StoreError) -> CompanyDetails {
        try await read { db in
            let organisationID = try organisation.map { try Self.organisation(db, $0).id }
            let column = Int64(reference) != nil ? "CAST(co.id AS TEXT)" : "co.domain"
            var sql = """
                SELECT co.id, co.name, co.domain,
                    (SELECT json_group_array(id) FROM (SELECT id FROM contact WHERE company_id = co.id ORDER BY id)) AS contacts
                FROM company co WHERE \(column) = ?
                """
            var arguments: StatementArguments = [Int64(reference) != nil ? reference : reference.lowercased()]
            if let organisationID {
                sql += " AND co.organisation_id = ?"
                arguments += [organisationID]
            }
            let rows = try Row.fetchAll(db, sql: sql, arguments: arguments)
            guard let row = rows.first else { throw StoreError(code: .notFound, message: "no company \(reference)") }
            guard rows.count == 1 else {
                throw StoreError(code: .invalid, message: "several organisations have a company \(reference); give org as well")
            }
            let company = CompanyView(id: row["id"], name: row["name"], domains: [row["domain"]], contacts: Self.decodeIDs(row["contacts"]))
            return CompanyDetails(company: company, messages: try Self.messagesFiled(db, type: "company", id: company.id).map(\.id))
        }
    }

    /// A case (`opportunities: false`) or an opportunity, by id or reference (`CS1001`).
    public func record(_ reference: String, organisation: String? = nil, opportunities: Bool) async throws(StoreError) -> RecordView {
        try await read { db in
            let organisationID = try organisation.map { try Self.organisation(db, $0).id }
            let type = opportunities ? "opportunity" : "case"
            let id = try Self.recordID(db, reference, type: type, organisationID: organisationID)
            return try Self.recordView(db, type: type, id: id)
        }
    }

    // MARK: Messages

    /// A stored message: its summary, the users whose dropboxes received it, where it is filed,
    /// and its new text, parsed again from the raw message when that can be read.
    public func storedMessage(_ id: Int64) async throws(StoreError) -> StoredMessageView {
        let rawFolder = self.rawFolder
        // The raw message in the database comes with the row; one kept as a file is read after
        // the transaction, not under its snapshot.
        let (found, rawInDatabase, rawFile) = try await read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT m.id, o.name AS organisation, m.received_at, m.message_id_header, m.from_address, m.from_name, m.subject,
                            m.size, m.summary, m.raw_sha256, CASE WHEN m.raw_sha256 IS NULL THEN m.raw END AS raw
                            FROM message m LEFT JOIN organisation o ON o.id = m.organisation_id WHERE m.id = ?
                        """,
                    arguments: [id]
                )
            else { throw StoreError(code: .notFound, message: "no message \(id)") }
            let users = try Row.fetchAll(
                db,
                sql: """
                    SELECT u.email, mu.kind, mu.received_at FROM message_user mu JOIN user u ON u.id = mu.user_id
                    WHERE mu.message_id = ? ORDER BY mu.received_at, u.email
                    """,
                arguments: [id]
            ).map { StoredMessageView.Recipient(email: $0["email"], kind: $0["kind"], receivedAt: $0["received_at"]) }
            let view = StoredMessageView(
                id: row["id"], organisation: row["organisation"], receivedAt: row["received_at"], messageID: row["message_id_header"],
                from: row["from_address"], fromName: row["from_name"], subject: row["subject"], size: row["size"],
                summaryJSON: row["summary"], newText: nil, users: users, filed: try Self.filedLabels(db, message: id)
            )
            let file = (row["raw_sha256"] as String?).map { (sha256: $0, size: row["size"] as Int) }
            return (view, (row["raw"] as Data?).map { [UInt8]($0) }, file)
        }
        var view = found
        // A raw file that cannot be read (a database restored beside another raw folder) leaves
        // the new text out; the rest still shows.
        let raw = try? rawInDatabase ?? rawFile.flatMap { file in try rawFolder?.contents(file.sha256, size: file.size) }
        view.newText = raw.map { MailMessage.parse($0).newText }
        return view
    }

    /// Files a stored message by hand under a contact (a note by the user whose dropbox received
    /// it, and the contact's company), a case or an opportunity (linked to the message's
    /// contacts). Log rows of the message that were unmatched or automated become filed.
    /// - Returns: the records added, as `type:id`.
    public func assign(message id: Int64, to target: AssignTarget, dropboxDomains: [String]) async throws(StoreError) -> [String] {
        let parsed: MailMessage?
        if case .contact = target {
            parsed = MailMessage.parse(try await rawMessage(id))
        } else {
            parsed = nil
        }
        let now = Date().timeIntervalSince1970
        return try await write { db in
            guard let organisationID = try Self.messageOrganisation(db, id) else {
                throw StoreError(
                    code: .invalid,
                    message: "message \(id) was sent to postmaster and belongs to no organisation; it cannot be filed under a record")
            }
            var added: [(type: String, id: Int64, label: String)] = []
            switch target {
            case .contact(let reference):
                let contactID = try Self.contactID(db, reference, organisationID: organisationID)
                added.append(("contact", contactID, "contact:\(contactID)"))
                if let companyID = try Int64.fetchOne(db, sql: "SELECT company_id FROM contact WHERE id = ?", arguments: [contactID]) {
                    added.append(("company", companyID, "company:\(companyID)"))
                }
            case .case(let reference):
                let recordID = try Self.recordID(db, reference, type: "case", organisationID: organisationID)
                added.append(("case", recordID, "case:" + (try Self.recordView(db, type: "case", id: recordID).ref)))
            case .opportunity(let reference):
                let recordID = try Self.recordID(db, reference, type: "opportunity", organisationID: organisationID)
                added.append(("opportunity", recordID, "opportunity:" + (try Self.recordView(db, type: "opportunity", id: recordID).ref)))
            }
            let primary = added[0]
            if try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM filing WHERE message_id = ? AND record_type = ? AND record_id = ?)",
                arguments: [id, primary.type, primary.id]) == true
            {
                throw StoreError(code: .conflict, message: "message \(id) is filed under \(primary.label) already")
            }
            for record in added {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO filing (message_id, record_type, record_id) VALUES (?, ?, ?)",
                    arguments: [id, record.type, record.id])
            }
            let author = try Row.fetchOne(
                db, sql: "SELECT user_id, kind FROM message_user WHERE message_id = ? ORDER BY received_at, user_id LIMIT 1",
                arguments: [id])
            switch target {
            case .contact:
                let text = try Self.noteText(db, message: parsed!, authorID: author?["user_id"], dropboxDomains: dropboxDomains)
                try db.execute(
                    sql:
                        "INSERT INTO note (organisation_id, contact_id, message_id, author_id, text, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [organisationID, primary.id, id, author?["user_id"] as Int64?, text, now]
                )
            case .case, .opportunity:
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO record_contact (record_type, record_id, contact_id)
                        SELECT ?, ?, record_id FROM filing WHERE message_id = ? AND record_type = 'contact'
                        """,
                    arguments: [primary.type, primary.id, id]
                )
            }
            for row in try Row.fetchAll(db, sql: "SELECT id, outcome, reason, filed FROM message_log WHERE message_id = ?", arguments: [id])
            {
                let outcome: String = row["outcome"]
                let before = Self.decodeList(row["filed"])
                let filed = before + added.map(\.label).filter { !before.contains($0) }
                let becomesFiled = outcome == MessageOutcome.unmatched.rawValue || outcome == MessageOutcome.automated.rawValue
                try db.execute(
                    sql: "UPDATE message_log SET filed = ?, outcome = ?, reason = ? WHERE id = ?",
                    arguments: [
                        Self.encodeList(filed), becomesFiled ? MessageOutcome.filed.rawValue : outcome,
                        becomesFiled ? "filed by hand (message.assign)" : row["reason"] as String?, row["id"] as Int64,
                    ]
                )
            }
            return added.map(\.label)
        }
    }

    /// Runs the filing rules again on a kept message, for the users whose dropboxes received it
    /// (with their current settings, senders, exclusions and contacts): its notes, tasks and
    /// filings are replaced by what the rules decide now, in one transaction. A message filed
    /// under cases or opportunities stays under them, and opens no new one: they keep their
    /// numbers and what they hold, and the contacts the rules find now are linked to them too.
    /// When the rules now refuse the message for every user, nothing changes (`invalid`).
    public func reprocess(message id: Int64, dropboxDomains: [String]) async throws(StoreError) -> ReprocessResult {
        struct Source: Sendable {
            var raw: [UInt8]
            var rawSHA256: String?
            var organisationID: Int64?
            var deduplicationKey: String
            var receivedAt: Double
            var smtpID: String?
            var envelopeFrom: String?
        }
        let rawFolder = self.rawFolder
        let source = try await read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM message WHERE id = ?", arguments: [id]) else {
                throw StoreError(code: .notFound, message: "no message \(id)")
            }
            let log = try Row.fetchOne(
                db, sql: "SELECT smtp_id, envelope_from FROM message_log WHERE message_id = ? ORDER BY id", arguments: [id])
            return Source(
                raw: try Self.raw(row, in: rawFolder), rawSHA256: row["raw_sha256"], organisationID: row["organisation_id"],
                deduplicationKey: row["deduplication_key"],
                receivedAt: row["received_at"], smtpID: log?["smtp_id"], envelopeFrom: log?["envelope_from"]
            )
        }
        guard source.organisationID != nil else {
            throw StoreError(code: .invalid, message: "message \(id) was sent to postmaster: no user's rules apply; use message.assign")
        }
        let parsed = MailMessage.parse(source.raw)
        let domain = dropboxDomains.first ?? "dropbox.localhost"
        return try await write { db in
            guard
                try String.fetchOne(db, sql: "SELECT deduplication_key FROM message WHERE id = ?", arguments: [id])
                    == source.deduplicationKey
            else { throw StoreError(code: .notFound, message: "message \(id) is gone") }
            let recipients = try Row.fetchAll(
                db,
                sql:
                    "SELECT u.token, mu.kind FROM message_user mu JOIN user u ON u.id = mu.user_id WHERE mu.message_id = ? ORDER BY mu.received_at",
                arguments: [id]
            ).compactMap { row -> Delivery.Recipient? in
                guard let kind = DropboxKind(rawValue: row["kind"]) else { return nil }
                let dropbox = DropboxAddress(token: row["token"], kind: kind)
                return Delivery.Recipient(address: dropbox.localPart + "@" + domain, dropbox: dropbox)
            }
            guard !recipients.isEmpty else {
                throw StoreError(code: .invalid, message: "no user of message \(id) is left to file it for; use message.assign")
            }
            let logRows = try Int64.fetchAll(db, sql: "SELECT id FROM message_log WHERE message_id = ?", arguments: [id])
            let recordsKept = try Self.filedRecords(db, message: id).filter { $0.type == "case" || $0.type == "opportunity" }
            try db.execute(
                sql: "DELETE FROM record_contact WHERE record_type = 'task' AND record_id IN (SELECT id FROM task WHERE message_id = ?)",
                arguments: [id])
            try db.execute(sql: "DELETE FROM task WHERE message_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM note WHERE message_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM message WHERE id = ?", arguments: [id])
            var delivery = Delivery(
                smtpID: source.smtpID ?? "reprocess-\(id)", envelopeFrom: source.envelopeFrom ?? "<>", recipients: recipients,
                receivedAt: Date(timeIntervalSince1970: source.receivedAt),
                raw: source.rawSHA256.map { .kept(sha256: $0, size: source.raw.count) } ?? .bytes(Data(source.raw)),
                deduplicationKey: source.deduplicationKey,
                message: parsed, dropboxDomains: Set(dropboxDomains)
            )
            delivery.recordsKept = recordsKept
            let results = try Self.file(delivery, in: db, directory: directory)
            guard results.contains(where: \.accepted) else {
                let reason = results.compactMap(\.reason).first ?? "refused"
                throw StoreError(code: .invalid, message: "the filing rules now refuse message \(id) (\(reason)); nothing changed")
            }
            let newID = try Int64.fetchOne(
                db, sql: "SELECT id FROM message WHERE organisation_id IS ? AND deduplication_key = ?",
                arguments: [source.organisationID, source.deduplicationKey])
            if let newID, !logRows.isEmpty {
                try db.execute(
                    sql: "UPDATE message_log SET message_id = ? WHERE id IN (\(logRows.map(String.init).joined(separator: ",")))",
                    arguments: [newID])
            }
            return ReprocessResult(message: newID, results: results)
        }
    }

    // MARK: Status

    /// How many rows each kind of record has.
    public func counts() async throws(StoreError) -> [String: Int] {
        try await read { db in
            var counts: [String: Int] = [:]
            for (name, table) in [
                ("organisations", "organisation"), ("users", "user"), ("contacts", "contact"), ("companies", "company"),
                ("notes", "note"), ("cases", "case_record"), ("opportunities", "opportunity"), ("tasks", "task"),
                ("messages", "message"), ("log_entries", "message_log"),
            ] {
                counts[name] = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0
            }
            counts["unmatched"] = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM message_log WHERE outcome = 'unmatched'") ?? 0
            return counts
        }
    }

    // MARK: Helpers

    static func messageOrganisation(_ db: Database, _ id: Int64) throws -> Int64? {
        guard let row = try Row.fetchOne(db, sql: "SELECT organisation_id FROM message WHERE id = ?", arguments: [id]) else {
            throw StoreError(code: .notFound, message: "no message \(id)")
        }
        return row["organisation_id"]
    }

    /// Creates a contact in the organisation, linked to the company of its domain as filing
    /// would link it (none for free-mail, or with `company_from_domain` off); named `name`, else
    /// from the address's local part. Messages can then be assigned to it (``assign(message:to:)``).
    public func createContact(organisation: String, email: String, name: String?) async throws(StoreError) -> ContactView {
        let email = try AdminInput.address(email, field: "email")
        let name = try name.map { name throws(StoreError) in try AdminInput.name(name, of: "a contact") }
        return try await write { db in
            let organisation = try Self.organisation(db, organisation)
            if let existing = try Int64.fetchOne(
                db, sql: "SELECT contact_id FROM contact_email WHERE organisation_id = ? AND email = ?",
                arguments: [organisation.id, email])
            {
                throw StoreError(code: .conflict, message: "\(email) is contact \(existing) already")
            }
            let context = try Self.organisationContext(db, organisationID: organisation.id)
            if context.memberAddresses.contains(email) {
                throw StoreError(code: .invalid, message: "\(email) belongs to a user of \(organisation.name); users are never contacts")
            }
            let domain = MailAddress(address: email)?.domain ?? ""
            let companyDomain =
                context.settings.companyFromDomain && !FreemailDomains.contains(domain, extra: Set(context.settings.freemailDomainsExtra))
                ? domain : nil
            let candidate = ContactCandidate(address: email, name: name, source: "admin", companyDomain: companyDomain)
            let (id, _) = try FilingApplier.createContact(
                candidate, organisationID: organisation.id, now: Date().timeIntervalSince1970, in: db)
            guard let view = try Self.contactView(db, id: id) else {
                throw StoreError(code: .internalError, message: "contact \(id) is gone after creating it")
            }
            return view
        }
    }

    /// A contact by id or email, in one organisation or across all of them.
    static func contactID(_ db: Database, _ reference: String, organisationID: Int64?) throws -> Int64 {
        let rows: [Int64]
        if let id = Int64(reference) {
            rows = try Int64.fetchAll(
                db, sql: "SELECT id FROM contact WHERE id = ? AND (? IS NULL OR organisation_id = ?)",
                arguments: [id, organisationID, organisationID])
        } else if reference.contains("@") {
            rows = try Int64.fetchAll(
                db, sql: "SELECT contact_id FROM contact_email WHERE email = ? AND (? IS NULL OR organisation_id = ?)",
                arguments: [MailAddress(address: reference)?.normalized ?? reference.lowercased(), organisationID, organisationID])
        } else {
            throw StoreError(code: .invalid, message: "contact must be an id or an email address, not \(reference)")
        }
        guard let id = rows.first else {
            throw StoreError(code: .notFound, message: "no contact \(reference)" + (organisationID == nil ? "" : " in this organisation"))
        }
        guard rows.count == 1 else {
            throw StoreError(code: .invalid, message: "several organisations have a contact \(reference); give org as well")
        }
        return id
    }

    /// A case or opportunity by id or reference (`CS1001`, `#CS1001`).
    static func recordID(_ db: Database, _ reference: String, type: String, organisationID: Int64?) throws -> Int64 {
        let table = type == "case" ? "case_record" : "opportunity"
        let rows: [Int64]
        if let id = Int64(reference) {
            rows = try Int64.fetchAll(
                db, sql: "SELECT id FROM \(table) WHERE id = ? AND (? IS NULL OR organisation_id = ?)",
                arguments: [id, organisationID, organisationID])
        } else {
            let text = reference.hasPrefix("#") ? String(reference.dropFirst()) : reference
            let expected: ReferenceTag.Kind = type == "case" ? .case : .opportunity
            guard let tag = ReferenceTag(text), tag.kind == expected else {
                throw StoreError(
                    code: .invalid, message: "\(type) must be an id or a reference such as \(expected.rawValue)1001, not \(reference)")
            }
            rows = try Int64.fetchAll(
                db, sql: "SELECT id FROM \(table) WHERE number = ? AND (? IS NULL OR organisation_id = ?)",
                arguments: [tag.number, organisationID, organisationID])
        }
        guard let id = rows.first else {
            throw StoreError(code: .notFound, message: "no \(type) \(reference)" + (organisationID == nil ? "" : " in this organisation"))
        }
        guard rows.count == 1 else {
            throw StoreError(code: .invalid, message: "several organisations have a \(type) \(reference); give org as well")
        }
        return id
    }

    static func contactView(_ db: Database, id: Int64) throws -> ContactView? {
        try Row.fetchOne(
            db,
            sql: """
                SELECT c.id, c.name, c.company_id, co.name AS company_name,
                    (SELECT json_group_array(email) FROM (SELECT email FROM contact_email WHERE contact_id = c.id ORDER BY email)) AS emails
                FROM contact c LEFT JOIN company co ON co.id = c.company_id WHERE c.id = ?
                """,
            arguments: [id]
        ).map {
            ContactView(
                id: $0["id"], name: $0["name"], emails: Self.decodeList($0["emails"]), company: $0["company_name"],
                companyID: $0["company_id"])
        }
    }

    static func recordView(_ db: Database, type: String, id: Int64) throws -> RecordView {
        guard let view = try recordViews(db, type: type, where: "r.id = ?", arguments: [id]).first else {
            throw StoreError(code: .notFound, message: "no \(type) \(id)")
        }
        return view
    }

    static func messagesFiled(_ db: Database, type: String, id: Int64) throws -> [MessageBrief] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT m.id, m.received_at, m.subject, m.from_address FROM filing f JOIN message m ON m.id = f.message_id
                WHERE f.record_type = ? AND f.record_id = ? ORDER BY m.received_at, m.id
                """,
            arguments: [type, id]
        ).map { MessageBrief(id: $0["id"], receivedAt: $0["received_at"], subject: $0["subject"], from: $0["from_address"]) }
    }

    /// Where a message is filed, as `type:id`, cases and opportunities by reference.
    static func filedLabels(_ db: Database, message id: Int64) throws -> [String] {
        FilingApplier.labels(try filedRecords(db, message: id))
    }

    /// The records a message is filed under, in ``Schema/filingOrder``.
    static func filedRecords(_ db: Database, message id: Int64) throws -> [FilingApplier.FiledRecord] {
        try Row.fetchAll(
            db,
            sql:
                "SELECT record_type, record_id, \(Schema.recordLabel) AS label FROM filing WHERE message_id = ? ORDER BY \(Schema.filingOrder)",
            arguments: [id]
        ).map { ($0["record_type"], $0["record_id"], $0["label"]) }
    }

    /// The note text the filing rules give a message for its author; without an author, the
    /// subject and the body.
    static func noteText(_ db: Database, message: MailMessage, authorID: Int64?, dropboxDomains: [String]) throws -> String {
        if let authorID, let row = try Row.fetchOne(db, sql: "SELECT * FROM user WHERE id = ?", arguments: [authorID]) {
            let user = try user(db, row: row)
            let organisation = try organisationContext(db, user: user, dropboxDomains: Set(dropboxDomains))
            if case .success(let intent) = FilingRules.intent(
                for: message, user: user, kind: .note, organisation: organisation, receivedAt: Date())
            {
                return intent.noteText
            }
        }
        return (message.subject.map { "Subject: \($0)\n\n" } ?? "") + message.bodyText
    }
}
