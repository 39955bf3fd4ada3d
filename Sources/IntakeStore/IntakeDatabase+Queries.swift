import Foundation
import Filing
import GRDB

/// A contact as the admin API shows it.
public struct ContactView: Sendable, Hashable, Codable {
    public var id: Int64
    public var name: String
    public var emails: [String]
    public var company: String?
    public var companyID: Int64?
}

/// A company as the admin API shows it.
public struct CompanyView: Sendable, Hashable, Codable {
    public var id: Int64
    public var name: String
    public var domains: [String]
    public var contacts: [Int64]
}

/// A note as the admin API shows it.
public struct NoteView: Sendable, Hashable, Codable {
    public var id: Int64
    public var contact: Int64
    public var message: Int64?
    public var author: String?
    public var createdAt: Double
    public var text: String
}

/// A case or an opportunity as the admin API shows it.
public struct RecordView: Sendable, Hashable, Codable {
    public var id: Int64
    public var ref: String
    public var title: String
    /// `status` of a case, `stage` of an opportunity.
    public var state: String
    public var contacts: [Int64]
    public var messages: [Int64]
}

/// A task as the admin API shows it.
public struct TaskView: Sendable, Hashable, Codable {
    public var id: Int64
    public var title: String
    public var due: String?
    public var owner: String?
    public var contacts: [Int64]
    public var message: Int64?
}

/// A row of the message log.
public struct MessageLogEntry: Sendable, Hashable, Codable {
    public var id: Int64
    public var receivedAt: Double
    public var smtpID: String
    /// The envelope's reverse-path (MAIL FROM), `<>` when null.
    public var envelopeFrom: String
    public var messageID: String?
    public var from: String?
    public var subject: String?
    public var recipient: String
    public var user: String?
    public var kind: String?
    public var outcome: String
    public var reason: String?
    public var unresolvedRefs: [String]
    public var filed: [String]
    public var storedMessage: Int64?
}

extension IntakeDatabase {
    /// The organisation's contacts, optionally only those with `email` or at `company` (id or domain).
    public func contacts(organisation: String, email: String? = nil, company: String? = nil) async throws(StoreError) -> [ContactView] {
        try await read { db in
            let organisation = try Self.organisation(db, organisation)
            var sql = """
                SELECT c.id, c.name, c.company_id, co.name AS company_name,
                    (SELECT json_group_array(email) FROM (SELECT email FROM contact_email WHERE contact_id = c.id ORDER BY email)) AS emails
                FROM contact c LEFT JOIN company co ON co.id = c.company_id WHERE c.organisation_id = ?
                """
            var arguments: StatementArguments = [organisation.id]
            if let email {
                sql += " AND c.id IN (SELECT contact_id FROM contact_email WHERE organisation_id = ? AND email = ?)"
                arguments += [organisation.id, email.lowercased()]
            }
            if let company {
                sql += " AND (CAST(co.id AS TEXT) = ? OR co.domain = ?)"
                arguments += [company, company.lowercased()]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY c.id", arguments: arguments).map {
                ContactView(
                    id: $0["id"], name: $0["name"], emails: Self.decodeList($0["emails"]), company: $0["company_name"],
                    companyID: $0["company_id"])
            }
        }
    }

    /// The organisation's companies.
    public func companies(organisation: String) async throws(StoreError) -> [CompanyView] {
        try await read { db in
            let organisation = try Self.organisation(db, organisation)
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT co.id, co.name, co.domain,
                        (SELECT json_group_array(id) FROM (SELECT id FROM contact WHERE company_id = co.id ORDER BY id)) AS contacts
                    FROM company co WHERE co.organisation_id = ? ORDER BY co.id
                    """,
                arguments: [organisation.id]
            ).map { CompanyView(id: $0["id"], name: $0["name"], domains: [$0["domain"]], contacts: Self.decodeIDs($0["contacts"])) }
        }
    }

    /// The organisation's notes, optionally of one contact.
    public func notes(organisation: String, contact: Int64? = nil) async throws(StoreError) -> [NoteView] {
        try await read { db in
            let organisation = try Self.organisation(db, organisation)
            var sql = """
                SELECT n.id, n.contact_id, n.message_id, u.email AS author, n.created_at, n.text
                FROM note n LEFT JOIN user u ON u.id = n.author_id WHERE n.organisation_id = ?
                """
            var arguments: StatementArguments = [organisation.id]
            if let contact {
                sql += " AND n.contact_id = ?"
                arguments += [contact]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY n.id", arguments: arguments).map {
                NoteView(
                    id: $0["id"], contact: $0["contact_id"], message: $0["message_id"], author: $0["author"], createdAt: $0["created_at"],
                    text: $0["text"])
            }
        }
    }

    /// The organisation's cases (`opportunities: false`) or opportunities.
    public func records(organisation: String, opportunities: Bool) async throws(StoreError) -> [RecordView] {
        try await read { db in
            let organisation = try Self.organisation(db, organisation)
            return try Self.recordViews(
                db, type: opportunities ? "opportunity" : "case", where: "r.organisation_id = ? ORDER BY r.number",
                arguments: [organisation.id])
        }
    }

    /// Cases or opportunities (`type`) with their contacts and messages, as the admin API shows
    /// them; `where` filters the record table `r`.
    static func recordViews(_ db: Database, type: String, where condition: String, arguments: StatementArguments) throws -> [RecordView] {
        let (table, prefix, state) =
            type == "opportunity"
            ? ("opportunity", ReferenceTag.Kind.opportunity.rawValue, "stage") : ("case_record", ReferenceTag.Kind.case.rawValue, "status")
        return try Row.fetchAll(
            db,
            sql: """
                SELECT r.id, r.number, r.title, r.\(state) AS state,
                    (SELECT json_group_array(contact_id) FROM (SELECT contact_id FROM record_contact
                        WHERE record_type = '\(type)' AND record_id = r.id ORDER BY contact_id)) AS contacts,
                    (SELECT json_group_array(message_id) FROM (SELECT message_id FROM filing
                        WHERE record_type = '\(type)' AND record_id = r.id ORDER BY message_id)) AS messages
                FROM \(table) r WHERE \(condition)
                """,
            arguments: arguments
        ).map {
            RecordView(
                id: $0["id"], ref: prefix + String($0["number"] as Int64), title: $0["title"], state: $0["state"],
                contacts: Self.decodeIDs($0["contacts"]), messages: Self.decodeIDs($0["messages"])
            )
        }
    }

    /// The organisation's tasks, optionally of one owner (id or email).
    public func tasks(organisation: String, owner: String? = nil) async throws(StoreError) -> [TaskView] {
        try await read { db in
            let organisation = try Self.organisation(db, organisation)
            var sql = """
                SELECT t.id, t.title, t.due, u.email AS owner, t.message_id,
                    (SELECT json_group_array(contact_id) FROM (SELECT contact_id FROM record_contact
                        WHERE record_type = 'task' AND record_id = t.id ORDER BY contact_id)) AS contacts
                FROM task t LEFT JOIN user u ON u.id = t.owner_id WHERE t.organisation_id = ?
                """
            var arguments: StatementArguments = [organisation.id]
            if let owner {
                sql += " AND t.owner_id = ?"
                arguments += [try Self.userID(db, owner)]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY t.id", arguments: arguments).map {
                TaskView(
                    id: $0["id"], title: $0["title"], due: $0["due"], owner: $0["owner"], contacts: Self.decodeIDs($0["contacts"]),
                    message: $0["message_id"])
            }
        }
    }

    /// The message log, newest first; `organisation: nil` lists rows of every organisation and
    /// none (postmaster, refusals before a user was known).
    public func messageLog(
        organisation: String?, user: String? = nil, outcome: String? = nil, limit: Int = 100
    ) async throws(StoreError) -> [MessageLogEntry] {
        try await read { db in
            var sql = """
                SELECT l.*, u.email AS user_email FROM message_log l LEFT JOIN user u ON u.id = l.user_id WHERE 1 = 1
                """
            var arguments: StatementArguments = []
            if let organisation {
                sql += " AND l.organisation_id = ?"
                arguments += [try Self.organisation(db, organisation).id]
            }
            if let user {
                sql += " AND l.user_id = ?"
                arguments += [try Self.userID(db, user)]
            }
            if let outcome {
                sql += " AND l.outcome = ?"
                arguments += [outcome]
            }
            sql += " ORDER BY l.id DESC LIMIT ?"
            arguments += [max(1, min(limit, 10_000))]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map {
                MessageLogEntry(
                    id: $0["id"], receivedAt: $0["received_at"], smtpID: $0["smtp_id"], envelopeFrom: $0["envelope_from"],
                    messageID: $0["message_id_header"],
                    from: $0["header_from"],
                    subject: $0["subject"], recipient: $0["recipient"], user: $0["user_email"], kind: $0["kind"], outcome: $0["outcome"],
                    reason: $0["reason"], unresolvedRefs: Self.decodeList($0["unresolved_refs"]), filed: Self.decodeList($0["filed"]),
                    storedMessage: $0["message_id"]
                )
            }
        }
    }

    /// The raw bytes of a stored message.
    public func rawMessage(_ id: Int64) async throws(StoreError) -> [UInt8] {
        let rawFolder = self.rawFolder
        return try await read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT raw, raw_sha256, size FROM message WHERE id = ?", arguments: [id]) else {
                throw StoreError(code: .notFound, message: "no message \(id)")
            }
            return try Self.raw(row, in: rawFolder)
        }
    }

    /// The raw message of a `message` row (with its `raw`, `raw_sha256` and `size`): the BLOB, or
    /// the file it names in the raw folder.
    static func raw(_ row: Row, in rawFolder: RawMessageFolder?) throws -> [UInt8] {
        guard let sha256 = row["raw_sha256"] as String? else { return [UInt8](row["raw"] as Data) }
        guard let rawFolder else {
            throw StoreError(code: .unavailable, message: "the message is kept as a file and this database has no raw folder")
        }
        return try rawFolder.contents(sha256, size: row["size"])
    }

    /// How many stored messages the database holds: each stored once, however many recipients.
    public func storedMessageCount() async throws(StoreError) -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM message") ?? 0 }
    }

    static func decodeIDs(_ json: String?) -> [Int64] {
        guard let json else { return [] }
        return (try? JSONDecoder().decode([Int64].self, from: Data(json.utf8))) ?? []
    }
}
