import Filing
import Foundation
import GRDB
import IntakeStore
import MailParser
import Testing

/// The store on a real temporary SQLite file, migrated from empty.
@Suite struct StoreTests {
    static func database() throws -> IntakeDatabase {
        let folder = NSTemporaryDirectory() + "intake-store-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return try IntakeDatabase.open(path: folder + "/intake.sqlite")
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
}
