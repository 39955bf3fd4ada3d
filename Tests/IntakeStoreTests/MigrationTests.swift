import Foundation
import GRDB
import MailParser
import Testing

@testable import IntakeStore

/// Migrations run on a database that already holds messages, as an upgrade runs them.
@Suite struct MigrationTests {
    /// A database in a folder of its own, migrated up to `migration`; the folder goes with `body`.
    private func database(upTo migration: String, _ body: (DatabaseQueue) throws -> Void) throws {
        let folder = NSTemporaryDirectory() + "intake-migration-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let queue = try DatabaseQueue(path: folder + "/intake.sqlite")
        try Schema.migrator.migrate(queue, upTo: migration)
        try body(queue)
    }

    /// Caps the database at its size, as `database.max_size` leaves a full database, and runs
    /// the remaining migrations.
    private func migrateAtSizeCap(_ queue: DatabaseQueue) throws {
        let pages = try queue.read { db in try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0 }
        try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = \(pages)") }
        try Schema.migrator.migrate(queue)
    }

    /// The organisation Acme (id 1) and a message of its own for each of `ids`, received at that
    /// second, with a Message-ID made of it.
    private func insertMessages(_ ids: ClosedRange<Int>, in db: Database) throws {
        try db.execute(sql: "INSERT INTO organisation (id, name, created_at) VALUES (1, 'Acme', 0)")
        for id in ids {
            try db.execute(
                sql: """
                    INSERT INTO message (id, organisation_id, deduplication_key, received_at, size, summary, raw)
                        VALUES (?, 1, ?, ?, 3, '{}', x'616263')
                    """, arguments: [id, "mid:\(id)@acme.example", id])
        }
    }

    /// A database a newer Intake migrated further is refused, naming what this one does not
    /// know: reading it as the older schema would be wrong.
    @Test func aDatabaseFromANewerVersionIsRefused() throws {
        let folder = NSTemporaryDirectory() + "intake-future-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/intake.sqlite"
        let queue = try DatabaseQueue(path: path)
        try Schema.migrator.migrate(queue)
        try queue.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99 from the future')") }
        try queue.close()
        #expect(throws: StoreError.self) { _ = try IntakeDatabase.open(path: path) }
        do {
            _ = try IntakeDatabase.open(path: path)
        } catch {
            #expect(error.message.contains("was migrated by a newer Intake (v99 from the future)"))
        }
    }

    /// An empty database file beside kept raw messages was truncated or replaced: refused, not
    /// filled with an empty schema. Empty with nothing kept (a first start cut short), it opens.
    @Test func anEmptiedDatabaseBesideKeptMessagesIsRefused() throws {
        let folder = NSTemporaryDirectory() + "intake-emptied-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder + "/intake.sqlite-raw/ab", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/intake.sqlite"
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        _ = try IntakeDatabase.open(path: path)
        try Data().write(to: URL(fileURLWithPath: path))
        try? FileManager.default.removeItem(atPath: path + "-wal")
        try? FileManager.default.removeItem(atPath: path + "-shm")
        try Data("raw".utf8).write(to: URL(fileURLWithPath: folder + "/intake.sqlite-raw/ab/" + String(repeating: "ab", count: 32)))
        do {
            _ = try IntakeDatabase.open(path: path)
            Issue.record("an emptied database was opened")
        } catch {
            #expect(error.message.contains("is empty, but \(path)-raw holds 1 kept messages"), "\(error)")
        }
    }

    @Test func v4KeepsEveryDeliveryOfAMessageInOneBTreeAndDropsTheMessageIDIndex() throws {
        try database(upTo: "v3 messages by raw file") { queue in try v4(queue) }
    }

    private func v4(_ queue: DatabaseQueue) throws {
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO organisation (id, name, created_at) VALUES (1, 'Acme', 0);
                    INSERT INTO user (id, organisation_id, email, name, token, created_at) VALUES
                        (1, 1, 'ada@acme.example', 'Ada', 'tokenada', 0), (2, 1, 'bob@acme.example', 'Bob', 'tokenbob', 0);
                    INSERT INTO message (id, organisation_id, deduplication_key, message_id_header, received_at, size, summary, raw)
                        VALUES (1, 1, 'mid:one@acme.example', 'one@acme.example', 10, 3, '{}', x'616263'),
                               (2, 1, 'mid:two@acme.example', 'two@acme.example', 20, 3, '{}', x'616263');
                    INSERT INTO message_user (message_id, user_id, kind, received_at) VALUES
                        (1, 1, 'note', 10), (1, 2, 'case', 11), (2, 1, 'note', 20);
                    """)
            // Enough deliveries that the copy needs more pages than the dropped index frees.
            for id in 3...2000 {
                try db.execute(
                    sql: """
                        INSERT INTO message (id, organisation_id, deduplication_key, message_id_header, received_at, size, summary, raw)
                            VALUES (?, 1, ?, ?, ?, 3, '{}', x'616263')
                        """, arguments: [id, "mid:\(id)@acme.example", "\(id)@acme.example", id])
                try db.execute(
                    sql: "INSERT INTO message_user (message_id, user_id, kind, received_at) VALUES (?, 1, 'note', ?), (?, 2, 'note', ?)",
                    arguments: [id, id, id, id])
            }
        }
        try migrateAtSizeCap(queue)

        try queue.read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT message_id, user_id, kind, received_at FROM message_user ORDER BY message_id, user_id")
            #expect(rows.count == 3 + 2 * 1998)
            #expect(rows.prefix(3).map { [$0["message_id"], $0["user_id"]] as [Int64] } == [[1, 1], [1, 2], [2, 1]])
            #expect(rows.prefix(3).map { $0["kind"] as String } == ["note", "case", "note"])
            #expect(rows.prefix(3).map { $0["received_at"] as Double } == [10, 11, 20])
            #expect(try Int.fetchOne(db, sql: "PRAGMA max_page_count") ?? 0 < 4_294_967_294)
            let definition = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_schema WHERE name = 'message_user'") ?? ""
            #expect(definition.hasSuffix("WITHOUT ROWID"))
            let indexes = try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name IN ('message', 'message_user')")
            #expect(!indexes.contains("message_header_id"))
            #expect(!indexes.contains { $0.hasPrefix("sqlite_autoindex_message_user") })
            #expect(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").isEmpty)
        }
        // The primary key still refuses a second row for the same delivery.
        try queue.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO message_user (message_id, user_id, kind, received_at) VALUES (1, 1, 'note', 99)")
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM message_user") == 3 + 2 * 1998)
        }
    }

    @Test func v5KeepsEveryFilingInOneBTree() throws {
        try database(upTo: "v4 fewer b-trees written per message") { queue in
            try queue.write { db in
                try insertMessages(1...2000, in: db)
                for id in 1...2000 {
                    try db.execute(
                        sql: "INSERT INTO filing (message_id, record_type, record_id) VALUES (?, 'contact', ?), (?, 'company', 7)",
                        arguments: [id, id % 50, id])
                }
                try db.execute(sql: "INSERT INTO filing (message_id, record_type, record_id) VALUES (1, 'case', 3)")
            }
            // A filing whose message was deleted with foreign keys off, as the sqlite3 shell has them.
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA foreign_keys = OFF")
                try db.execute(sql: "INSERT INTO filing (message_id, record_type, record_id) VALUES (9999, 'contact', 1)")
                try db.execute(sql: "PRAGMA foreign_keys = ON")
            }
            try migrateAtSizeCap(queue)
            try queue.read { db in
                #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM filing") == 2 * 2000 + 1)
                // Records before people, whatever order they were filed in.
                #expect(try IntakeDatabase.filedLabels(db, message: 1) == ["case:3", "contact:1", "company:7"])
                let definition = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_schema WHERE name = 'filing'") ?? ""
                #expect(definition.hasSuffix("WITHOUT ROWID"))
                let indexes = try String.fetchAll(db, sql: "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'filing'")
                #expect(indexes == ["filing_record"])
                #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM filing WHERE record_type = 'company' AND record_id = 7") == 2000)
                #expect(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").isEmpty)
                #expect(try Int.fetchOne(db, sql: "PRAGMA max_page_count") ?? 0 < 4_294_967_294)
            }
            // The primary key still refuses a second row for the same filing.
            try queue.write { db in
                try db.execute(sql: "INSERT OR IGNORE INTO filing (message_id, record_type, record_id) VALUES (1, 'contact', 1)")
                #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM filing") == 2 * 2000 + 1)
            }
        }
    }

    @Test func v6FindsTheLogRowsNotesAndTasksOfAMessageByIndex() throws {
        try database(upTo: "v5 filing keyed by its primary key") { queue in
            try queue.write { db in
                try insertMessages(1...1000, in: db)
                try db.execute(sql: "INSERT INTO contact (id, organisation_id, name, created_at) VALUES (1, 1, 'Jane', 0)")
                for id in 1...1000 {
                    // A refused delivery's log row names no message.
                    try db.execute(
                        sql: """
                            INSERT INTO message_log (received_at, smtp_id, envelope_from, recipient, outcome, message_id)
                                VALUES (?, 's', 'a@acme.example', 'd@dropbox.localhost', 'filed', ?),
                                    (?, 's', 'a@acme.example', 'd@dropbox.localhost', 'refused', NULL)
                            """, arguments: [id, id, id])
                    try db.execute(
                        sql: "INSERT INTO note (organisation_id, contact_id, message_id, text, created_at) VALUES (1, 1, ?, 'n', 0)",
                        arguments: [id])
                    if id % 10 == 0 {
                        try db.execute(
                            sql: "INSERT INTO task (organisation_id, title, message_id, created_at) VALUES (1, 't', ?, 0)", arguments: [id])
                    }
                }
            }
            try migrateAtSizeCap(queue)
            try queue.write { db in
                for (table, index) in [("message_log", "message_log_message"), ("note", "note_message"), ("task", "task_message")] {
                    let plan = try Row.fetchAll(
                        db, sql: "EXPLAIN QUERY PLAN SELECT id FROM \(table) WHERE message_id = ?", arguments: [500]
                    )
                    .map { $0["detail"] as String }.joined(separator: "; ")
                    #expect(plan.contains("INDEX \(index)"), "\(table): \(plan)")
                }
                // Deleting a message still leaves its rows naming no message.
                try db.execute(sql: "DELETE FROM message WHERE id = 500")
                #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM message_log WHERE message_id IS NULL") == 1001)
                #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM note WHERE message_id IS NULL") == 1)
                #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM task WHERE message_id IS NULL") == 1)
                #expect(try Int.fetchOne(db, sql: "PRAGMA max_page_count") ?? 0 < 4_294_967_294)
            }
        }
    }

    /// v7: an organisation's pattern added twice before it is kept once (the oldest), a user's own
    /// patterns stay, and adding one again is no change.
    @Test func v7KeepsOneExclusionPerPatternAndScope() throws {
        try database(upTo: "v6 rows found by their message") { queue in
            try queue.write { db in
                try insertMessages(1...1, in: db)
                try db.execute(
                    sql: """
                        INSERT INTO user (id, organisation_id, email, name, token, created_at)
                            VALUES (7, 1, 'alice@acme.example', 'Alice', 'tok', 0);
                        INSERT INTO exclusion (id, organisation_id, user_id, pattern) VALUES
                            (1, 1, NULL, 'noreply@*'), (2, 1, NULL, 'noreply@*'), (3, 1, 7, 'noreply@*'), (4, 1, NULL, '@spam.test');
                        """)
            }
            try migrateAtSizeCap(queue)
            try queue.write { db in
                #expect(try Int64.fetchAll(db, sql: "SELECT id FROM exclusion ORDER BY id") == [1, 3, 4])
                try db.execute(sql: "INSERT OR IGNORE INTO exclusion (organisation_id, user_id, pattern) VALUES (1, NULL, 'noreply@*')")
                try db.execute(sql: "INSERT OR IGNORE INTO exclusion (organisation_id, user_id, pattern) VALUES (1, 7, 'noreply@*')")
                #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM exclusion") == 3)
            }
        }
    }

    /// v8: addresses and domains typed with IDNA labels before are kept in the Unicode form that
    /// messages are read in; an `xn--` copy of a row that exists in Unicode goes.
    @Test func v8KeepsTypedAddressesInTheirUnicodeForm() throws {
        try database(upTo: "v7 one exclusion per pattern and scope") { queue in
            try queue.write { db in
                try insertMessages(1...1, in: db)
                try db.execute(
                    sql: """
                        UPDATE organisation SET internal_domains = '["xn--bro-hoa.example","acme.example","büro.example"]' WHERE id = 1;
                        INSERT INTO setting (organisation_id, key, value) VALUES (1, 'freemail_domains_extra', '["xn--mil-qla.example"]');
                        INSERT INTO user (id, organisation_id, email, name, token, created_at)
                            VALUES (7, 1, 'anna@xn--mller-kva.example', 'Anna', 'tok', 0);
                        INSERT INTO user_address (user_id, email) VALUES (7, 'anna@xn--bro-hoa.example'), (7, 'a@büro.example'),
                            (7, 'a@xn--bro-hoa.example');
                        INSERT INTO exclusion (id, organisation_id, user_id, pattern) VALUES
                            (1, 1, NULL, '@xn--spm-rla.example'), (2, 1, NULL, '@späm.example'), (3, 1, NULL, 'news@xn--bro-hoa.example');
                        """)
            }
            try migrateAtSizeCap(queue)
            try queue.read { (db: Database) throws in
                #expect(try String.fetchOne(db, sql: "SELECT email FROM user WHERE id = 7") == "anna@müller.example")
                #expect(
                    try String.fetchAll(db, sql: "SELECT email FROM user_address ORDER BY email") == [
                        "a@büro.example", "anna@büro.example",
                    ])
                #expect(
                    try String.fetchAll(db, sql: "SELECT pattern FROM exclusion ORDER BY id") == ["@späm.example", "news@büro.example"])
                #expect(
                    try String.fetchOne(db, sql: "SELECT internal_domains FROM organisation WHERE id = 1")
                        == #"["büro.example","acme.example"]"#)
                #expect(try String.fetchOne(db, sql: "SELECT value FROM setting") == #"["mäil.example"]"#)
            }
        }
    }

    /// v9 indexes the attachments of the messages kept before it by their digest, from their
    /// summaries; a summary without attachments, or that is not JSON, adds none.
    @Test func v9IndexesTheAttachmentsOfKeptMessages() throws {
        try database(upTo: "v8 addresses in their Unicode form") { queue in
            try queue.write { db in
                try insertMessages(1...3, in: db)
                let sha = String(repeating: "ab", count: 32)
                let other = String(repeating: "cd", count: 32)
                try db.execute(
                    sql: "UPDATE message SET summary = ? WHERE id = 1",
                    arguments: [
                        #"{"attachments":[{"content_type":"application/pdf","filename":"a.pdf","sha256":"\#(sha)","size":3},"#
                            + #"{"content_type":"image/png","filename":null,"sha256":"\#(other)","size":9},"#
                            + #"{"content_type":"application/pdf","filename":"a.pdf","sha256":"\#(sha)","size":3}]}"#
                    ])
                try db.execute(sql: "UPDATE message SET summary = ? WHERE id = 2", arguments: [#"{"attachments":[],"subject":"x"}"#])
                try db.execute(sql: "UPDATE message SET summary = 'not json' WHERE id = 3")
            }
            try migrateAtSizeCap(queue)
            try queue.read { (db: Database) throws in
                let rows = try Row.fetchAll(
                    db, sql: "SELECT sha256, message_id, size, content_type, filename FROM attachment ORDER BY sha256")
                #expect(rows.map { $0["message_id"] as Int64 } == [1, 1])
                #expect(rows.map { $0["size"] as Int } == [3, 9])
                #expect(rows.map { $0["filename"] as String? } == ["a.pdf", nil])
                #expect(rows.map { $0["content_type"] as String } == ["application/pdf", "image/png"])
            }
        }
    }

    /// What each shipped migration makes of the schema, as a SHA-256 of `sqlite_master` after it:
    /// a migration is never edited once shipped, and this notices an edit that changes the
    /// schema. A new migration adds its line here.
    static let shippedSchemas: [(migration: String, sha256: String)] = [
        ("v1 organisations, users, records, messages", "320b1d24f89d2908dcc7b1018afae19a209059cc213d4f6ae08b1210af651525"),
        ("v2 raw messages kept as files", "897763d9198e73fcbef4b6b0deb561c88395ab77165a4e7177ba14d133a4df00"),
        ("v3 messages by raw file", "de2f265b6f8c9c541e0c4d61e9f9a27362304e5d8d24de3e56dce79b89fe4d32"),
        ("v4 fewer b-trees written per message", "afb6dc2a23a47e549477fb35f3007d7dcdcc3f735598c52d5d4c1e51abffe3f5"),
        ("v5 filing keyed by its primary key", "d95ca1d5254167101d03bc20097f8e9783ea85b769c9ffc7094c7b825728ef5a"),
        ("v6 rows found by their message", "c45207dafd1c62e338d425d92ab22591a1d9a79507e18c66933a80a83740d011"),
        ("v7 one exclusion per pattern and scope", "f30215eefa22d7398eba4e8bffb5702c80ee54a00603ed1b2d2785ed6ae09e20"),
        ("v8 addresses in their Unicode form", "f30215eefa22d7398eba4e8bffb5702c80ee54a00603ed1b2d2785ed6ae09e20"),
        ("v9 attachments by their digest", "d50d95ea1d003e53c7de77b9e154e9456162cc143630b4a3d3112d808591f824"),
    ]

    @Test func shippedMigrationsAreNeverEdited() throws {
        let migrations = Schema.migrator.migrations
        var fingerprints: [(String, String)] = []
        for migration in migrations {
            try database(upTo: migration) { queue in
                let schema = try queue.read { db in
                    try String.fetchAll(
                        db, sql: "SELECT type || ' ' || name || ' ' || ifnull(sql, '') FROM sqlite_master ORDER BY type, name")
                }
                fingerprints.append((migration, SHA256.hex(Array(schema.joined(separator: "\n").utf8))))
            }
        }
        #expect(fingerprints.map(\.0) == Self.shippedSchemas.map(\.migration))
        // The first that differs is the one edited; the later ones differ through it.
        if let edited = zip(fingerprints, Self.shippedSchemas).first(where: { $0.0.1 != $0.1.sha256 }) {
            Issue.record("the migration \(edited.0.0) makes another schema than when it shipped: was it edited?")
        }
    }
}
