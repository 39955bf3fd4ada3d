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
            let companyDomain = FilingRules.companyDomain(
                of: domain, settings: context.settings, freemailExtra: Set(context.settings.freemailDomainsExtra.map { $0.lowercased() }))
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
                arguments: [AdminInput.lookupKey(reference), organisationID, organisationID])
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
    static func noteText(
        _ db: Database, message: MailMessage, authorID: Int64?, dropboxDomains: [String], limits: FilingLimits
    ) throws -> String {
        if let authorID, let row = try Row.fetchOne(db, sql: "SELECT * FROM user WHERE id = ?", arguments: [authorID]) {
            let user = try user(db, row: row)
            let organisation = try organisationContext(db, user: user, dropboxDomains: Set(dropboxDomains))
            if case .success(let intent) = FilingRules.intent(
                for: message, user: user, kind: .note, organisation: organisation, receivedAt: Date(), limits: limits)
            {
                return intent.noteText
            }
        }
        return FilingRules.noteText(message, maxOctets: limits.maxNoteTextOctets)
    }
}
