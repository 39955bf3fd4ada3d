import Filing
import GRDB
import MailParser

/// The database schema, as migrations registered by name. A migration that has shipped is never
/// edited: changes come as new migrations.
enum Schema {
    /// The kinds of record a message is filed under, in the order its filings are listed.
    static let filingTypes = ["case", "opportunity", "task", "contact", "company"]

    /// Where `type` comes in ``filingTypes``; an unknown type last.
    static func filingRank(_ type: String) -> Int {
        filingTypes.firstIndex(of: type) ?? filingTypes.count
    }

    /// The order in which a message's `filing` rows are listed, as SQL: cases, opportunities and
    /// tasks, then contacts and companies, each by id.
    static let filingOrder =
        "CASE record_type "
        + filingTypes.enumerated().map { "WHEN '\($0.element)' THEN \($0.offset) " }.joined()
        + "ELSE \(filingTypes.count) END, record_id"

    /// A `filing` row's record as its log row and `message show` name it, as SQL over the row's
    /// `record_type` and `record_id`: `CS1001` for a case, `CO1001` for an opportunity, else (and
    /// for a case or opportunity whose row is gone) the id. Never NULL.
    static let recordLabel = """
        COALESCE(CASE record_type
            WHEN 'case' THEN '\(ReferenceTag.Kind.case.rawValue)' || (SELECT number FROM case_record WHERE id = record_id)
            WHEN 'opportunity' THEN '\(ReferenceTag.Kind.opportunity.rawValue)' || (SELECT number FROM opportunity WHERE id = record_id)
            END, CAST(record_id AS TEXT))
        """

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 organisations, users, records, messages") { db in
            try db.execute(
                sql: """
                    CREATE TABLE organisation (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
                        internal_domains TEXT NOT NULL DEFAULT '[]',
                        next_case_number INTEGER NOT NULL DEFAULT 1001,
                        next_opportunity_number INTEGER NOT NULL DEFAULT 1001,
                        created_at REAL NOT NULL
                    );
                    CREATE TABLE setting (
                        organisation_id INTEGER NOT NULL REFERENCES organisation(id) ON DELETE CASCADE,
                        key TEXT NOT NULL,
                        value TEXT NOT NULL,
                        PRIMARY KEY (organisation_id, key)
                    );
                    CREATE TABLE user (
                        id INTEGER PRIMARY KEY,
                        organisation_id INTEGER NOT NULL REFERENCES organisation(id) ON DELETE CASCADE,
                        email TEXT NOT NULL UNIQUE,
                        name TEXT NOT NULL,
                        timezone TEXT NOT NULL DEFAULT 'UTC',
                        token TEXT NOT NULL UNIQUE,
                        created_at REAL NOT NULL
                    );
                    CREATE INDEX user_organisation ON user(organisation_id);
                    CREATE TABLE user_address (
                        user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
                        email TEXT NOT NULL,
                        validated INTEGER NOT NULL DEFAULT 1,
                        PRIMARY KEY (user_id, email)
                    );
                    CREATE TABLE exclusion (
                        id INTEGER PRIMARY KEY,
                        organisation_id INTEGER NOT NULL REFERENCES organisation(id) ON DELETE CASCADE,
                        user_id INTEGER REFERENCES user(id) ON DELETE CASCADE,
                        pattern TEXT NOT NULL,
                        UNIQUE (organisation_id, user_id, pattern)
                    );
                    CREATE TABLE company (
                        id INTEGER PRIMARY KEY,
                        organisation_id INTEGER NOT NULL REFERENCES organisation(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        domain TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        UNIQUE (organisation_id, domain)
                    );
                    CREATE TABLE contact (
                        id INTEGER PRIMARY KEY,
                        organisation_id INTEGER NOT NULL REFERENCES organisation(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        company_id INTEGER REFERENCES company(id) ON DELETE SET NULL,
                        created_at REAL NOT NULL
                    );
                    CREATE TABLE contact_email (
                        contact_id INTEGER NOT NULL REFERENCES contact(id) ON DELETE CASCADE,
                        organisation_id INTEGER NOT NULL,
                        email TEXT NOT NULL,
                        PRIMARY KEY (organisation_id, email)
                    );
                    CREATE INDEX contact_email_contact ON contact_email(contact_id);
                    CREATE TABLE message (
                        id INTEGER PRIMARY KEY,
                        -- NULL for mail to postmaster, which belongs to no organisation.
                        organisation_id INTEGER REFERENCES organisation(id) ON DELETE CASCADE,
                        deduplication_key TEXT NOT NULL,
                        message_id_header TEXT,
                        subject TEXT,
                        from_address TEXT,
                        from_name TEXT,
                        received_at REAL NOT NULL,
                        size INTEGER NOT NULL,
                        summary TEXT NOT NULL,
                        raw BLOB NOT NULL,
                        UNIQUE (organisation_id, deduplication_key)
                    );
                    CREATE INDEX message_header_id ON message(organisation_id, message_id_header);
                    CREATE TABLE message_user (
                        message_id INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,
                        user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
                        kind TEXT NOT NULL,
                        received_at REAL NOT NULL,
                        PRIMARY KEY (message_id, user_id, kind)
                    );
                    CREATE TABLE case_record (
                        id INTEGER PRIMARY KEY,
                        organisation_id INTEGER NOT NULL REFERENCES organisation(id) ON DELETE CASCADE,
                        number INTEGER NOT NULL,
                        title TEXT NOT NULL,
                        status TEXT NOT NULL DEFAULT 'open',
                        created_by INTEGER REFERENCES user(id) ON DELETE SET NULL,
                        created_at REAL NOT NULL,
                        UNIQUE (organisation_id, number)
                    );
                    CREATE TABLE opportunity (
                        id INTEGER PRIMARY KEY,
                        organisation_id INTEGER NOT NULL REFERENCES organisation(id) ON DELETE CASCADE,
                        number INTEGER NOT NULL,
                        title TEXT NOT NULL,
                        stage TEXT NOT NULL DEFAULT 'new',
                        created_by INTEGER REFERENCES user(id) ON DELETE SET NULL,
                        created_at REAL NOT NULL,
                        UNIQUE (organisation_id, number)
                    );
                    CREATE TABLE task (
                        id INTEGER PRIMARY KEY,
                        organisation_id INTEGER NOT NULL REFERENCES organisation(id) ON DELETE CASCADE,
                        owner_id INTEGER REFERENCES user(id) ON DELETE SET NULL,
                        title TEXT NOT NULL,
                        due TEXT,
                        message_id INTEGER REFERENCES message(id) ON DELETE SET NULL,
                        created_at REAL NOT NULL
                    );
                    CREATE TABLE note (
                        id INTEGER PRIMARY KEY,
                        organisation_id INTEGER NOT NULL REFERENCES organisation(id) ON DELETE CASCADE,
                        contact_id INTEGER NOT NULL REFERENCES contact(id) ON DELETE CASCADE,
                        message_id INTEGER REFERENCES message(id) ON DELETE SET NULL,
                        author_id INTEGER REFERENCES user(id) ON DELETE SET NULL,
                        text TEXT NOT NULL,
                        created_at REAL NOT NULL
                    );
                    CREATE INDEX note_contact ON note(contact_id);
                    -- Which contacts a case, opportunity or task concerns.
                    CREATE TABLE record_contact (
                        record_type TEXT NOT NULL,
                        record_id INTEGER NOT NULL,
                        contact_id INTEGER NOT NULL REFERENCES contact(id) ON DELETE CASCADE,
                        PRIMARY KEY (record_type, record_id, contact_id)
                    );
                    -- Every record a message is filed under: contact, company, case, opportunity, task.
                    CREATE TABLE filing (
                        message_id INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,
                        record_type TEXT NOT NULL,
                        record_id INTEGER NOT NULL,
                        PRIMARY KEY (message_id, record_type, record_id)
                    );
                    CREATE INDEX filing_record ON filing(record_type, record_id);
                    -- One row per received message and dropbox recipient.
                    CREATE TABLE message_log (
                        id INTEGER PRIMARY KEY,
                        received_at REAL NOT NULL,
                        smtp_id TEXT NOT NULL,
                        envelope_from TEXT NOT NULL,
                        recipient TEXT NOT NULL,
                        header_from TEXT,
                        subject TEXT,
                        message_id_header TEXT,
                        organisation_id INTEGER REFERENCES organisation(id) ON DELETE CASCADE,
                        user_id INTEGER REFERENCES user(id) ON DELETE SET NULL,
                        kind TEXT,
                        outcome TEXT NOT NULL,
                        reason TEXT,
                        unresolved_refs TEXT NOT NULL DEFAULT '[]',
                        filed TEXT NOT NULL DEFAULT '[]',
                        message_id INTEGER REFERENCES message(id) ON DELETE SET NULL
                    );
                    CREATE INDEX message_log_organisation ON message_log(organisation_id, received_at);
                    """
            )
        }
        migrator.registerMigration("v2 raw messages kept as files") { db in
            // When set, the raw message is the file of that SHA-256 in the raw folder
            // (`RawMessageFolder`), and `raw` is empty.
            try db.execute(sql: "ALTER TABLE message ADD COLUMN raw_sha256 TEXT")
        }
        migrator.registerMigration("v3 messages by raw file") { db in
            // For the raw folder's sweep at start-up: which files a row names.
            try db.execute(sql: "CREATE INDEX message_raw_sha256 ON message(raw_sha256) WHERE raw_sha256 IS NOT NULL")
        }
        // Foreign keys checked row by row as message_user is copied (nothing refers to it), not
        // over the whole database at the end, which takes long on a large one.
        migrator.registerMigration("v4 fewer b-trees written per message", foreignKeyChecks: .immediate) { db in
            // Every filed message writes a page of each b-tree it touches into the WAL, and a
            // checkpoint writes it again. Two of those are redundant:
            // - a thread's earlier messages are found by `deduplication_key` ('mid:' and the
            //   normalised Message-ID, under the unique index), so this index served nothing;
            // - message_user keyed by its primary key alone (WITHOUT ROWID) is one b-tree, not a
            //   table and its primary key's index.
            // The copy needs room before the old table's pages are freed: a database at its size
            // cap (`database.max_size`) still migrates, and the cap holds again afterwards.
            let cap = try Int.fetchOne(db, sql: "PRAGMA max_page_count") ?? 0
            try db.execute(sql: "PRAGMA max_page_count = 4294967294")
            defer { if cap > 0 { try? db.execute(sql: "PRAGMA max_page_count = \(cap)") } }
            try db.execute(
                sql: """
                    DROP INDEX message_header_id;
                    CREATE TABLE message_user_v4 (
                        message_id INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,
                        user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
                        kind TEXT NOT NULL,
                        received_at REAL NOT NULL,
                        PRIMARY KEY (message_id, user_id, kind)
                    ) WITHOUT ROWID;
                    INSERT INTO message_user_v4 (message_id, user_id, kind, received_at)
                        SELECT message_id, user_id, kind, received_at FROM message_user;
                    DROP TABLE message_user;
                    ALTER TABLE message_user_v4 RENAME TO message_user;
                    """
            )
        }
        migrator.registerMigration("v5 filing keyed by its primary key", foreignKeyChecks: .immediate) { db in
            // As message_user in v4: filing keyed by its primary key alone (WITHOUT ROWID) is one
            // b-tree, not a table and its primary key's index, one page less in the WAL for every
            // message filed. Its rows have no insertion order any more: readers list them in
            // ``Schema/filingOrder``.
            // A filing whose message is gone (deleted with foreign keys off, as the sqlite3 shell
            // has them) is not copied: it would stop the upgrade.
            try withoutSizeCap(db) {
                try db.execute(
                    sql: """
                        CREATE TABLE filing_v5 (
                            message_id INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,
                            record_type TEXT NOT NULL,
                            record_id INTEGER NOT NULL,
                            PRIMARY KEY (message_id, record_type, record_id)
                        ) WITHOUT ROWID;
                        INSERT INTO filing_v5 (message_id, record_type, record_id)
                            SELECT message_id, record_type, record_id FROM filing WHERE message_id IN (SELECT id FROM message);
                        DROP TABLE filing;
                        ALTER TABLE filing_v5 RENAME TO filing;
                        CREATE INDEX filing_record ON filing(record_type, record_id);
                        """
                )
            }
        }
        migrator.registerMigration("v6 rows found by their message") { db in
            // Reprocessing a message deletes it, its notes and its tasks and points its log rows
            // at the message filed again, and each deletion of a message makes SQLite look for
            // the rows these three tables have naming it (ON DELETE SET NULL). Without an index
            // each is a scan of its whole table under the write lock, while every SMTP commit
            // waits. At 74,000 messages, finding a message's log rows and notes and deleting it
            // took 0.23 s, and 0.5 ms with them; `intakectl message reprocess` took 0.19-0.23 s,
            // and 0.02-0.03 s with them. Messages are numbered in order, so a message filed adds
            // to the last page of each, shared by the messages of one commit. Partial: refused
            // deliveries and notes of no message have no message id.
            try withoutSizeCap(db) {
                try db.execute(
                    sql: """
                        CREATE INDEX message_log_message ON message_log(message_id) WHERE message_id IS NOT NULL;
                        CREATE INDEX note_message ON note(message_id) WHERE message_id IS NOT NULL;
                        CREATE INDEX task_message ON task(message_id) WHERE message_id IS NOT NULL;
                        """
                )
            }
        }
        migrator.registerMigration("v7 one exclusion per pattern and scope") { db in
            // The table's UNIQUE (organisation_id, user_id, pattern) never holds for the
            // organisation's own patterns (user_id NULL: NULLs are distinct), so adding one twice
            // kept two, and removing it removed one. The copies go, the oldest stays, and an index
            // on the scope with NULL as 0 (no user has id 0) keeps one from now on.
            try withoutSizeCap(db) {
                try db.execute(
                    sql: """
                        DELETE FROM exclusion WHERE user_id IS NULL AND id NOT IN (
                            SELECT min(id) FROM exclusion WHERE user_id IS NULL GROUP BY organisation_id, pattern);
                        CREATE UNIQUE INDEX exclusion_scope ON exclusion(organisation_id, ifnull(user_id, 0), pattern);
                        """
                )
            }
        }
        migrator.registerMigration("v8 addresses in their Unicode form") { db in
            // Addresses and domains that admins type are kept with IDNA `xn--` labels decoded
            // (``AdminInput``), the form messages are read in; rows typed before in the `xn--`
            // form never matched a message, and could not be found by what is typed now. They
            // are converted. Where the converted row exists already (the same address typed both
            // ways), the `xn--` copy goes; two users whose emails differ only so keep theirs.
            try withoutSizeCap(db) {
                for row in try Row.fetchAll(db, sql: "SELECT id, email FROM user WHERE email LIKE '%xn--%'") {
                    let email: String = row["email"]
                    guard let decoded = MailAddress(address: email)?.normalized, decoded != email else { continue }
                    try db.execute(sql: "UPDATE OR IGNORE user SET email = ? WHERE id = ?", arguments: [decoded, row["id"] as Int64])
                }
                for row in try Row.fetchAll(db, sql: "SELECT user_id, email FROM user_address WHERE email LIKE '%xn--%'") {
                    let (user, email): (Int64, String) = (row["user_id"], row["email"])
                    guard let decoded = MailAddress(address: email)?.normalized, decoded != email else { continue }
                    try db.execute(
                        sql: "UPDATE OR IGNORE user_address SET email = ? WHERE user_id = ? AND email = ?",
                        arguments: [decoded, user, email])
                    try db.execute(sql: "DELETE FROM user_address WHERE user_id = ? AND email = ?", arguments: [user, email])
                }
                for row in try Row.fetchAll(db, sql: "SELECT id, pattern FROM exclusion WHERE pattern LIKE '%xn--%'") {
                    let (id, pattern): (Int64, String) = (row["id"], row["pattern"])
                    guard let decoded = ExclusionPattern(pattern)?.description, decoded != pattern else { continue }
                    try db.execute(sql: "UPDATE OR IGNORE exclusion SET pattern = ? WHERE id = ?", arguments: [decoded, id])
                    try db.execute(sql: "DELETE FROM exclusion WHERE id = ? AND pattern = ?", arguments: [id, pattern])
                }
                for row in try Row.fetchAll(db, sql: "SELECT id, internal_domains FROM organisation WHERE internal_domains LIKE '%xn--%'") {
                    let domains = Self.unique(IntakeDatabase.decodeList(row["internal_domains"]).map { IDNA.toUnicode($0.lowercased()) })
                    try db.execute(
                        sql: "UPDATE organisation SET internal_domains = ? WHERE id = ?",
                        arguments: [IntakeDatabase.encodeList(domains), row["id"] as Int64])
                }
                let extra = try Row.fetchAll(
                    db, sql: "SELECT organisation_id, value FROM setting WHERE key = 'freemail_domains_extra' AND value LIKE '%xn--%'")
                for row in extra {
                    let domains = Self.unique(IntakeDatabase.decodeList(row["value"]).map { IDNA.toUnicode($0.lowercased()) })
                    try db.execute(
                        sql: "UPDATE setting SET value = ? WHERE organisation_id = ? AND key = 'freemail_domains_extra'",
                        arguments: [IntakeDatabase.encodeList(domains), row["organisation_id"] as Int64])
                }
            }
        }
        // Its rows take their message from `message`: nothing to check over the whole database.
        migrator.registerMigration("v9 attachments by their digest", foreignKeyChecks: .immediate) { db in
            // Attachments are addressed by the SHA-256 of their decoded content: which kept
            // messages carry the one of a digest (`attachment.list`), and its bytes, read from the
            // first of them (`attachment.get`). Messages kept before it are taken from their
            // summaries.
            try withoutSizeCap(db) {
                try db.execute(
                    sql: """
                        CREATE TABLE attachment (
                            sha256 TEXT NOT NULL,
                            message_id INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,
                            size INTEGER NOT NULL,
                            content_type TEXT NOT NULL,
                            filename TEXT,
                            PRIMARY KEY (sha256, message_id)
                        ) WITHOUT ROWID;
                        CREATE INDEX attachment_message ON attachment(message_id);
                        INSERT OR IGNORE INTO attachment (sha256, message_id, size, content_type, filename)
                            SELECT json_extract(a.value, '$.sha256'), m.id, json_extract(a.value, '$.size'),
                                json_extract(a.value, '$.content_type'), json_extract(a.value, '$.filename')
                            FROM message m, json_each(m.summary, '$.attachments') a
                            WHERE json_valid(m.summary) AND json_extract(a.value, '$.sha256') IS NOT NULL;
                        """
                )
            }
        }
        return migrator
    }

    /// `list` without its repetitions, in order.
    private static func unique(_ list: [String]) -> [String] {
        var seen: Set<String> = []
        return list.filter { seen.insert($0).inserted }
    }

    /// Runs `body` with the database's size cap lifted and puts the cap back after it: a
    /// migration that copies a table needs room before the old table's pages are freed, and a
    /// database at its cap (`database.max_size`) still migrates. (``IntakeDatabase`` sets the
    /// cap only after migrating; this keeps a migrator run on a capped connection safe too.)
    private static func withoutSizeCap(_ db: Database, _ body: () throws -> Void) throws {
        let cap = try Int.fetchOne(db, sql: "PRAGMA max_page_count") ?? 0
        try db.execute(sql: "PRAGMA max_page_count = 4294967294")
        defer { if cap > 0 { try? db.execute(sql: "PRAGMA max_page_count = \(cap)") } }
        try body()
    }
}
