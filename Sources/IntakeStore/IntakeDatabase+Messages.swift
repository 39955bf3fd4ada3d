import Filing
import Foundation
import GRDB
import MailParser

/// The admin API's messages: the log, a stored message, its raw bytes, filing by hand and
/// filing again.
extension IntakeDatabase {

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
                let text = try Self.noteText(
                    db, message: parsed!, authorID: author?["user_id"], dropboxDomains: dropboxDomains, limits: filingLimits)
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
                // In the order they were credited: the first files the message as its author and
                // task owner. Credits of one transaction share a time; their log rows do not.
                sql: """
                    SELECT u.token, mu.kind FROM message_user mu JOIN user u ON u.id = mu.user_id WHERE mu.message_id = ?
                    ORDER BY mu.received_at, (
                        SELECT min(l.id) FROM message_log l WHERE l.message_id = mu.message_id AND l.user_id = mu.user_id AND l.kind = mu.kind)
                    """,
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
            let credits = try Row.fetchAll(
                db, sql: "SELECT user_id, kind, received_at FROM message_user WHERE message_id = ?", arguments: [id])
            let lastLogRow = try Int64.fetchOne(db, sql: "SELECT max(id) FROM message_log") ?? 0
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
            let results = try Self.file(delivery, in: db, directory: directory, limits: filingLimits)
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
                try Self.foldReprocessedLog(db, message: newID, after: lastLogRow)
            }
            if let newID {
                // Each user keeps the time the message reached them.
                for credit in credits {
                    try db.execute(
                        sql: "UPDATE message_user SET received_at = ? WHERE message_id = ? AND user_id = ? AND kind = ?",
                        arguments: [credit["received_at"] as Double, newID, credit["user_id"] as Int64, credit["kind"] as String])
                }
            }
            return ReprocessResult(message: newID, results: results)
        }
    }

    /// A reprocessed message's log: each row the filing wrote after `lastRow` (this write
    /// transaction's, the only writer's) replaces the outcome, reason, unresolved tags and records
    /// of the row its user and kind had from the message's arrival, and goes: the log keeps one
    /// row per recipient as received (an unmatched message now filed no longer shows as
    /// unmatched). Rows are paired by user and kind, not by address: the address a reprocess
    /// writes is the user's current token, in its canonical form, at the first dropbox domain.
    /// A row with nothing to replace stays, pointed at `message`.
    static func foldReprocessedLog(_ db: Database, message: Int64, after lastRow: Int64) throws {
        let fresh = try Row.fetchAll(
            db, sql: "SELECT id, user_id, kind, outcome, reason, unresolved_refs, filed FROM message_log WHERE id > ? ORDER BY id",
            arguments: [lastRow])
        var replaced: Set<Int64> = []
        for row in fresh {
            // The rows from the message's arrival point at it already.
            let earlier = try Int64.fetchOne(
                db, sql: "SELECT min(id) FROM message_log WHERE message_id = ? AND id <= ? AND user_id IS ? AND kind IS ?",
                arguments: [message, lastRow, row["user_id"] as Int64?, row["kind"] as String?])
            guard let earlier, replaced.insert(earlier).inserted else {
                try db.execute(sql: "UPDATE message_log SET message_id = ? WHERE id = ?", arguments: [message, row["id"] as Int64])
                continue
            }
            try db.execute(
                sql: "UPDATE message_log SET outcome = ?, reason = ?, unresolved_refs = ?, filed = ? WHERE id = ?",
                arguments: [
                    row["outcome"] as String, row["reason"] as String?, row["unresolved_refs"] as String, row["filed"] as String, earlier,
                ])
            try db.execute(sql: "DELETE FROM message_log WHERE id = ?", arguments: [row["id"] as Int64])
        }
    }
}
