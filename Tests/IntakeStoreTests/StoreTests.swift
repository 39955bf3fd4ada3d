import Filing
import Foundation
import GRDB
import IntakeStore
import MailParser
import Testing

/// The store on a real temporary SQLite file, migrated from empty.
@Suite struct StoreTests {
    static func database(ownerCheckpoints: Bool = false) throws -> IntakeDatabase {
        let folder = NSTemporaryDirectory() + "intake-store-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return try IntakeDatabase.open(path: folder + "/intake.sqlite", ownerCheckpoints: ownerCheckpoints)
    }

    static func delivery(_ text: String, to user: UserRecord, kind: DropboxKind = .note, id: String = "smtp1") -> Delivery {
        let raw = Array(text.utf8)
        let message = MailMessage.parse(raw)
        return Delivery(
            smtpID: id, envelopeFrom: "<\(user.email)>",
            recipients: [.init(address: "\(user.token)@dropbox.localhost", dropbox: DropboxAddress(token: user.token, kind: kind))],
            receivedAt: Date(), raw: raw, deduplicationKey: FilingRules.deduplicationKey(messageID: message.messageID, content: raw),
            message: message, dropboxDomains: ["dropbox.localhost"]
        )
    }

    @Test func migratesFromEmptyInWALWithFullSync() async throws {
        let database = try Self.database()
        let (mode, sync) = try await database.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "", try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1)
        }
        #expect(mode == "wal")
        #expect(sync == 2)
        // The writer's own connection, which every commit goes through: FULL (2), each commit
        // fsynced.
        let writerSync = try await database.writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(writerSync == 2)
    }

    @Test func aCheckpointBesideTheWriterNeverStartsOnAWALCopiedWhole() async throws {
        let database = try Self.database(ownerCheckpoints: true)
        _ = try await database.createOrganisation(name: "one", internalDomains: [])
        #expect(database.walHoldsUncopiedPages())
        try database.checkpointNow()
        #expect(!database.walHoldsUncopiedPages())
        #expect(database.walPages == 0)
        for name in ["two", "three", "four"] { _ = try await database.createOrganisation(name: name, internalDomains: []) }
        #expect(database.walHoldsUncopiedPages())
        #expect(database.walPages > 0)
        try database.checkpointBesideWriter()
        #expect(!database.walHoldsUncopiedPages())
        #expect(database.walPages == 0)
        // Copied whole: the next checkpoint beside does nothing, and the next commit starts the
        // WAL over.
        let frames = database.walFrames
        try database.checkpointBesideWriter()
        _ = try await database.createOrganisation(name: "five", internalDomains: [])
        #expect(database.walFrames < frames)
        #expect(database.walHoldsUncopiedPages())
        #expect(try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM organisation") } == 5)
    }

    @Test func adminRecordsAndTheirErrors() async throws {
        let database = try Self.database()
        _ = try await database.createOrganisation(name: "acme", internalDomains: ["ACME.example"])
        await #expect(throws: StoreError.self) { try await database.createOrganisation(name: "acme") }
        let alice = try await database.createUser(
            organisation: "acme", email: "Alice@Acme.example", name: "Alice", timeZone: "Europe/Berlin")
        #expect(alice.email == "alice@acme.example")
        #expect(DropboxToken.isWellFormed(alice.token))
        #expect(alice.addresses(domain: "dropbox.localhost")[.taskTomorrow] == "\(alice.token)+tomorrow@dropbox.localhost")
        do {
            _ = try await database.createUser(organisation: "acme", email: "alice@acme.example", name: "Again")
            Issue.record("a second user with the same email must be refused")
        } catch {
            #expect(error.code == .conflict)
        }
        do {
            _ = try await database.createUser(organisation: "nope", email: "x@y.example", name: "X")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.message == "no organisation named nope")
        }
        do {
            _ = try await database.createUser(organisation: "acme", email: "z@acme.example", name: "Z", timeZone: "Mars/Olympus")
        } catch {
            #expect(error.code == .invalid)
        }
        let rotated = try await database.rotateToken(user: "alice@acme.example")
        #expect(rotated.token != alice.token)
        #expect(try await database.dropboxUser(token: alice.token) == nil)
        #expect(try await database.dropboxUser(token: rotated.token.uppercased())?.email == "alice@acme.example")
    }

    @Test func groupCommitKeepsEachDeliveryWhole() async throws {
        let database = try Self.database()
        _ = try await database.createOrganisation(name: "acme")
        let alice = try await database.createUser(organisation: "acme", email: "alice@acme.example", name: "Alice")
        let good = Self.delivery(
            "From: alice@acme.example\r\nTo: jo@client.example\r\nSubject: a\r\nMessage-ID: <a@x>\r\n\r\nhi\r\n", to: alice)
        let untrusted = Self.delivery("From: eve@evil.example\r\nTo: jo@client.example\r\nSubject: b\r\n\r\nhi\r\n", to: alice, id: "smtp2")
        let again = Self.delivery(
            "From: alice@acme.example\r\nTo: jo@client.example\r\nSubject: a\r\nMessage-ID: <a@x>\r\n\r\nhi\r\n", to: alice, id: "smtp3")
        let results = await database.file([good, untrusted, again])
        let outcomes = results.map { (try? $0.get())?.map(\.outcome) }
        #expect(outcomes == [[.filed], [.refused], [.duplicate]])
        #expect(try await database.storedMessageCount() == 1)
        #expect(try await database.contacts(organisation: "acme").map(\.emails) == [["jo@client.example"]])
        #expect(try await database.messageLog(organisation: nil).count == 3)
    }

    /// A batch filed without waiting for the disk: its commit is visible at once, the WAL sync
    /// that makes it durable follows, and the writer is back at FULL for every other write.
    @Test func aBatchFiledBeforeItsSyncLeavesTheWriterAtFullSync() async throws {
        let database = try Self.database(ownerCheckpoints: true)
        _ = try await database.createOrganisation(name: "acme")
        let alice = try await database.createUser(organisation: "acme", email: "alice@acme.example", name: "Alice")
        let walFramesBefore = database.walFrames
        let results = database.fileDeferringSync([
            Self.delivery("From: alice@acme.example\r\nTo: jo@client.example\r\nSubject: a\r\nMessage-ID: <a@x>\r\n\r\nhi\r\n", to: alice),
            Self.delivery("From: eve@evil.example\r\nTo: jo@client.example\r\nSubject: b\r\n\r\nhi\r\n", to: alice, id: "smtp2"),
        ])
        #expect(results.map { (try? $0.get())?.map(\.outcome) } == [[.filed], [.refused]])
        #expect(database.walFrames > walFramesBefore)
        try database.syncWAL()
        try database.syncWAL()
        #expect(try await database.storedMessageCount() == 1)
        let writerSync = try await database.writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(writerSync == 2)
        // The WAL starts over after a checkpoint; the sync goes on working on the same file.
        try database.checkpointNow()
        _ = try await database.createOrganisation(name: "other")
        try database.syncWAL()
    }

    /// The directory in memory never outlives a change: one made through this database (an
    /// admin change) and one made by another connection to the file (another process) are both
    /// seen by the next filing transaction.
    @Test func theDirectoryInMemorySeesEveryChange() async throws {
        let folder = NSTemporaryDirectory() + "intake-store-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let database = try IntakeDatabase.open(path: folder + "/intake.sqlite")
        _ = try await database.createOrganisation(name: "acme")
        var alice = try await database.createUser(organisation: "acme", email: "alice@acme.example", name: "Alice")
        func send(_ n: Int, from: String = "alice@acme.example") async -> [MessageOutcome]? {
            let delivery = Self.delivery(
                "From: \(from)\r\nTo: jo\(n)@client.example\r\nSubject: \(n)\r\nMessage-ID: <\(n)@x>\r\n\r\nhi\r\n",
                to: alice, id: "smtp\(n)")
            return (try? await database.file(delivery).get())?.map(\.outcome)
        }
        #expect(await send(1) == [.filed])
        #expect(await send(2, from: "alice@home.example") == [.refused])

        // Through this database (as the admin socket does): the next transaction reads again.
        _ = try await database.addSender(user: "alice@acme.example", email: "alice@home.example")
        #expect(await send(3, from: "alice@home.example") == [.filed])
        _ = try await database.addExclusion(organisation: "acme", pattern: "jo4@client.example")
        #expect(await send(4) == [.refused])

        // Through another connection to the same file (as the sqlite3 shell would).
        let other = try IntakeDatabase.open(path: folder + "/intake.sqlite")
        _ = try await other.removeSender(user: "alice@acme.example", email: "alice@home.example")
        #expect(await send(5, from: "alice@home.example") == [.refused])
        let old = alice
        alice = try await other.rotateToken(user: "alice@acme.example")
        #expect(await send(6) == [.filed])
        alice = old
        #expect(await send(7) == [.refused])
    }

    @Test func aRawMessageInAFileIsCopiedIntoTheDatabaseAndAMissingOneFailsAlone() async throws {
        let database = try Self.database()
        _ = try await database.createOrganisation(name: "acme")
        let alice = try await database.createUser(organisation: "acme", email: "alice@acme.example", name: "Alice")
        // Larger than one copy step, and not a multiple of it.
        var text = "From: alice@acme.example\r\nTo: jo@client.example\r\nSubject: big\r\nMessage-ID: <big@x>\r\n\r\n"
        while text.utf8.count < 700_001 { text += "a line of the body, line \(text.utf8.count)\r\n" }
        let path = NSTemporaryDirectory() + "intake-raw-\(UUID().uuidString.prefix(8))"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var fromFile = Self.delivery(text, to: alice)
        fromFile.raw = .file(path: path, size: text.utf8.count)
        var missing = Self.delivery(
            "From: alice@acme.example\r\nTo: kim@client.example\r\nSubject: gone\r\nMessage-ID: <gone@x>\r\n\r\nhi\r\n", to: alice,
            id: "smtp2")
        missing.raw = .file(path: path + "-gone", size: 80)
        let results = await database.file([fromFile, missing])
        #expect((try? results[0].get())?.map(\.outcome) == [.filed])
        #expect((try? results[1].get()) == nil)
        #expect(try await database.storedMessageCount() == 1)
        let stored = try #require(try await database.messageLog(organisation: nil).first?.storedMessage)
        #expect(try await database.rawMessage(stored) == Array(text.utf8))
        // Nothing of the failed delivery is left: no contact, no log row.
        #expect(try await database.contacts(organisation: "acme").map(\.emails) == [["jo@client.example"]])
        #expect(try await database.messageLog(organisation: nil).count == 1)
    }

    /// `message show` parses the raw message again for its new text, and still shows the rest
    /// when the raw file cannot be read.
    @Test func aStoredMessageShowsItsNewTextWhileItsRawMessageCanBeRead() async throws {
        let database = try Self.database()
        _ = try await database.createOrganisation(name: "acme")
        let alice = try await database.createUser(organisation: "acme", email: "alice@acme.example", name: "Alice")
        let text = "From: alice@acme.example\r\nTo: jo@client.example\r\nSubject: kept\r\nMessage-ID: <kept@x>\r\n\r\nSee you soon.\r\n"
        let rawFolder = try #require(database.rawFolder)
        let sha256 = MailParser.SHA256.hex(Array(text.utf8))
        let path = NSTemporaryDirectory() + "intake-raw-\(UUID().uuidString.prefix(8))"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(descriptor) }
        try rawFolder.keep(path, sha256: sha256, descriptor: descriptor)
        var delivery = Self.delivery(text, to: alice)
        delivery.raw = .kept(sha256: sha256, size: text.utf8.count)
        #expect((try? await database.file([delivery])[0].get())?.map(\.outcome) == [.filed])
        let id = try #require(try await database.messageLog(organisation: nil).first?.storedMessage)

        let shown = try await database.storedMessage(id)
        #expect(shown.newText == "See you soon.")
        #expect(!shown.summaryJSON.contains("new_text"))
        #expect(shown.filed == ["contact:1", "company:1"])
        // The log row lists them in the same order.
        #expect(try await database.messageLog(organisation: nil).first?.filed == shown.filed)

        try FileManager.default.removeItem(atPath: rawFolder.file(sha256))
        let withoutRaw = try await database.storedMessage(id)
        #expect(withoutRaw.newText == nil)
        #expect(withoutRaw.subject == "kept")
        #expect(withoutRaw.filed == ["contact:1", "company:1"])
    }

    /// Two spellings of one reference tag attach the message to the record once, and its log row
    /// names the record once.
    @Test func twoSpellingsOfOneTagNameTheRecordOnce() async throws {
        let database = try Self.database()
        _ = try await database.createOrganisation(name: "acme")
        let alice = try await database.createUser(organisation: "acme", email: "alice@acme.example", name: "Alice")
        let opening = "From: alice@acme.example\r\nTo: jo@client.example\r\nSubject: Broken pump\r\nMessage-ID: <c1@x>\r\n\r\nIt leaks.\r\n"
        let created = await database.file([Self.delivery(opening, to: alice, kind: .case)])
        #expect((try? created[0].get())?.first?.filed.first == "case:CS1001")
        let followUp =
            "From: alice@acme.example\r\nTo: jo@client.example\r\nSubject: Pump #CS1001\r\nMessage-ID: <c2@x>\r\n\r\nSee #CS01001.\r\n"
        let results = await database.file([Self.delivery(followUp, to: alice, id: "smtp2")])
        let filed = try #require(try results[0].get().first?.filed)
        #expect(filed.filter { $0.hasPrefix("case:") } == ["case:CS1001"])
        let id = try #require(try await database.messageLog(organisation: nil).first?.storedMessage)
        #expect(try await database.storedMessage(id).filed == filed)
    }

    /// `Message-ID: <>` names no message: the message and its log row keep none, and a second
    /// message with the same empty Message-ID is not its duplicate (both are keyed by content).
    @Test func anEmptyMessageIDIsKeptAsNone() async throws {
        let database = try Self.database()
        _ = try await database.createOrganisation(name: "acme")
        let alice = try await database.createUser(organisation: "acme", email: "alice@acme.example", name: "Alice")
        for (index, body) in ["First.", "Second."].enumerated() {
            let text = "From: alice@acme.example\r\nTo: jo@client.example\r\nSubject: Hi\r\nMessage-ID: <>\r\n\r\n\(body)\r\n"
            let results = await database.file([Self.delivery(text, to: alice, id: "smtp\(index)")])
            #expect(try results[0].get().first?.outcome == .filed)
        }
        let headers = try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT message_id_header FROM message UNION ALL SELECT message_id_header FROM message_log")
                .map { $0["message_id_header"] as String? }
        }
        #expect(headers == [nil, nil, nil, nil])
        #expect(try await database.messageLog(organisation: nil).allSatisfy { $0.messageID == nil })
    }
}
