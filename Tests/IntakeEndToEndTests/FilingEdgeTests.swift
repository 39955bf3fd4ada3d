import Filing
import Foundation
import GRDB
import IntakeStore
import Testing

/// The edges of the CRM rules end to end, over SMTP into the running daemon and checked in its
/// SQLite file: what strangers' automated mail, a second organisation, several tags, threads of
/// opportunities, several refusing recipients and a failing commit come to.
@Suite struct FilingEdgeTests {
    static let bob = FilingTests.bob
    static let sarah = FilingTests.sarah
    static let customer = "jane.fenwick@fenwick-logistics.example"

    /// A customer's out-of-office answering a message the dropbox was copied on, and a bounce:
    /// refused as any stranger's mail, saying what they are, without telling anyone to trust the
    /// sender; no contact, nothing kept.
    @Test func automatedMailFromAStrangerIsRefusedAsSuch() async throws {
        let crm = try await CRMFixture.start()
        let outOfOffice = mail(
            from: "Jane Fenwick <\(Self.customer)>", to: "Bob Carter <\(Self.bob)>", cc: crm.dropbox(Self.bob),
            subject: "Automatic reply: Quote for 40 chairs", extraHeaders: ["Auto-Submitted: auto-replied"])
        let refused = try await crm.send(outOfOffice, from: "", to: [crm.dropbox(Self.bob)])
        #expect(refused.code == 550)
        #expect(refused.text.hasPrefix("5.7.1 an automatic answer (auto-reply, bounce or delivery report) from \(Self.customer)"))
        #expect(!refused.text.contains("sender add"))
        let bounce = mail(
            from: "Mail Delivery System <MAILER-DAEMON@mx.client.example>", to: "Bob Carter <\(Self.bob)>",
            cc: crm.dropbox(Self.bob), subject: "Undelivered Mail Returned to Sender")
        #expect(try await crm.send(bounce, from: "", to: [crm.dropbox(Self.bob)]).code == 550)
        let log = try await crm.log()
        #expect(log.map(\.outcome) == ["refused", "refused"])
        #expect(log.allSatisfy { $0.reason?.hasPrefix("an automatic answer") == true })
        #expect(log.map(\.envelopeFrom) == ["<>", "<>"])
        #expect(try await crm.contactEmails().isEmpty)
        #expect(try await crm.database.storedMessageCount() == 0)
        await crm.stop()
    }

    /// A message without a Message-ID sent again (a retry) is known by its content.
    @Test func aMessageWithoutMessageIDIsKnownAgainByItsContent() async throws {
        let crm = try await CRMFixture.start()
        let message = mail(to: Self.customer, subject: "No id").split(separator: "\r\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("Message-ID:") }.joined(separator: "\r\n")
        for _ in 0..<2 { #expect(try await crm.send(message, to: [crm.dropbox(Self.bob)]).code == 250) }
        #expect(try await crm.database.storedMessageCount() == 1)
        #expect(try await crm.database.notes(organisation: CRMFixture.organisation).count == 1)
        let log = try await crm.log()
        #expect(log.map(\.outcome) == ["duplicate", "filed"])
        #expect(log.allSatisfy { $0.messageID == nil })
        await crm.stop()
    }

    /// A 250 lost on the way (the client gone right after its final dot): the message is filed,
    /// and the sender's retry is answered 250 and filed nothing twice.
    @Test func aRetryAfterALost250FilesNothingTwice() async throws {
        let crm = try await CRMFixture.start()
        let message = mail(to: "Jane Fenwick <\(Self.customer)>", subject: "Quote", messageID: "<lost-250@harbourview.example>")
        let client = try RawSMTPClient.greeted(port: crm.daemon.port)
        try client.startMessage(from: Self.bob, to: crm.dropbox(Self.bob))
        try client.send(message + "\r\n.\r\n")
        client.abort()
        var rows: [MessageLogEntry] = []
        for _ in 0..<600 where rows.isEmpty {
            try await Task.sleep(for: .milliseconds(50))
            rows = try await crm.log()
        }
        #expect(rows.map(\.outcome) == ["filed"])
        #expect(try await crm.send(message, to: [crm.dropbox(Self.bob)]).code == 250)
        #expect(try await crm.log().map(\.outcome) == ["duplicate", "filed"])
        #expect(try await crm.database.storedMessageCount() == 1)
        #expect(try await crm.database.notes(organisation: CRMFixture.organisation).count == 1)
        await crm.stop()
    }

    /// Bob forwards what his colleague Anna forwarded him: Anna (a colleague at another domain)
    /// is no contact, and the message is filed under the original's sender.
    @Test func aColleaguesForwardForwardedByTheUserIsFiled() async throws {
        let crm = try await CRMFixture.start(users: [
            ("bob.carter@harbourview.example", "Bob Carter", "Europe/London"), ("anna.berg@example.org", "Anna Berg", "Europe/Berlin"),
        ])
        let sent = try await crm.send(
            try CRMFixture.fixture("clients/apple_forward_of_gmail_forward.eml"), from: Self.bob, to: [crm.dropbox(Self.bob)])
        #expect(sent.code == 250)
        #expect(try await crm.contactEmails() == ["yusuf@demir-tekstil.example"])
        #expect(try await crm.log().first?.outcome == "filed")
        await crm.stop()
    }

    /// A contact with a second address (a CRM adds it) is matched on either, in any letter case.
    @Test func aContactIsMatchedOnAnyOfItsAddresses() async throws {
        let crm = try await CRMFixture.start()
        #expect(try await crm.send(mail(to: "Jane Fenwick <\(Self.customer)>", subject: "Quote"), to: [crm.dropbox(Self.bob)]).code == 250)
        try await crm.database.write { db in
            try db.execute(
                sql:
                    "INSERT INTO contact_email (contact_id, organisation_id, email) SELECT contact_id, organisation_id, ? FROM contact_email",
                arguments: ["jane@fenwick-home.example"])
        }
        let toHome = mail(to: "Jane <Jane@Fenwick-Home.example>", subject: "Weekend delivery")
        #expect(try await crm.send(toHome, to: [crm.dropbox(Self.bob)]).code == 250)
        let contacts = try await crm.database.contacts(organisation: CRMFixture.organisation)
        #expect(contacts.map(\.emails) == [["jane.fenwick@fenwick-logistics.example", "jane@fenwick-home.example"]])
        #expect(try await crm.database.notes(organisation: CRMFixture.organisation).count == 2)
        await crm.stop()
    }

    /// The log row names the envelope, the header From and the Message-ID; a dropbox address in
    /// a visible Cc is no contact.
    @Test func theLogNamesTheEnvelopeAndTheVisibleDropboxIsNoContact() async throws {
        let crm = try await CRMFixture.start()
        let message = mail(
            to: "Jane Fenwick <\(Self.customer)>", cc: "CRM <\(crm.dropbox(Self.bob))>", subject: "Quote",
            messageID: "<quote-7@harbourview.example>")
        #expect(try await crm.send(message, to: [crm.dropbox(Self.bob)]).code == 250)
        #expect(try await crm.contactEmails() == [Self.customer])
        let row = try #require(try await crm.log().first)
        #expect(row.envelopeFrom == "<\(Self.bob)>")
        #expect(row.recipient == crm.dropbox(Self.bob))
        #expect(row.from == Self.bob)
        #expect(row.messageID == "quote-7@harbourview.example")
        #expect(row.subject == "Quote")
        #expect(row.user == Self.bob)
        #expect(row.kind == "note")
        await crm.stop()
    }

    /// Each organisation numbers its own cases from CS1001, and a tag names a record of the
    /// sender's organisation only: another's is unresolved.
    @Test func organisationsNumberAndResolveTheirOwnRecords() async throws {
        let folder = Daemon.temporaryDirectory("intake-crm")
        let other = "anna@fenwick.example"
        let annaRecord = try await {
            let database = try IntakeDatabase.open(path: folder + "/intake.sqlite")
            _ = try await database.createOrganisation(name: "fenwick", internalDomains: ["fenwick.example"])
            return try await database.createUser(organisation: "fenwick", email: other, name: "Anna Berg")
        }()
        var crm = try await CRMFixture.start(folder: folder)
        crm.users[other] = annaRecord
        for subject in ["Late delivery", "Damaged pallet"] {
            let sent = try await crm.send(
                mail(from: "Anna Berg <\(other)>", to: "buyer@client.example", subject: subject), from: other,
                to: [crm.dropbox(other, .case)])
            #expect(sent.code == 250)
        }
        #expect(try await crm.send(mail(to: Self.customer, subject: "Wobbly desk"), to: [crm.dropbox(Self.bob, .case)]).code == 250)
        #expect(try await crm.database.records(organisation: "fenwick", opportunities: false).map(\.ref) == ["CS1001", "CS1002"])
        #expect(try await crm.database.records(organisation: CRMFixture.organisation, opportunities: false).map(\.ref) == ["CS1001"])
        // #CS1002 is Fenwick's: for Bob it names nothing, and the note is filed as if it had no tag.
        let note = mail(to: Self.customer, subject: "Desk and #CS1002")
        #expect(try await crm.send(note, to: [crm.dropbox(Self.bob)]).code == 250)
        let row = try #require(try await crm.log().first)
        #expect(row.outcome == "filed")
        #expect(row.unresolvedRefs == ["CS1002"])
        #expect(try await crm.database.records(organisation: "fenwick", opportunities: false).last?.messages.count == 1)
        await crm.stop()
    }

    /// A message with several tags is filed under every record they name.
    @Test func severalTagsFileUnderEveryRecord() async throws {
        let crm = try await CRMFixture.start()
        #expect(try await crm.send(mail(to: Self.customer, subject: "Wobbly desk"), to: [crm.dropbox(Self.bob, .case)]).code == 250)
        #expect(try await crm.send(mail(to: Self.customer, subject: "Chairs"), to: [crm.dropbox(Self.bob, .opportunity)]).code == 250)
        #expect(try await crm.send(mail(to: Self.customer, subject: "Leeds order"), to: [crm.dropbox(Self.bob, .opportunity)]).code == 250)
        let note = mail(to: Self.customer, subject: "Status #CS1001", body: "See #CO1001 and #CO1002.\n")
        #expect(try await crm.send(note, to: [crm.dropbox(Self.bob)]).code == 250)
        let cases = try await crm.database.records(organisation: CRMFixture.organisation, opportunities: false)
        let opportunities = try await crm.database.records(organisation: CRMFixture.organisation, opportunities: true)
        #expect(cases.map(\.messages.count) == [2])
        #expect(opportunities.map(\.messages.count) == [2, 2])
        #expect(try await crm.log().first?.filed.prefix(3) == ["case:CS1001", "opportunity:CO1001", "opportunity:CO1002"])
        await crm.stop()
    }

    /// A reply in an opportunity's thread is filed under it and opens no second one; an
    /// opportunity and a task with no contact are created all the same.
    @Test func opportunityThreadsAndRecordsWithoutContacts() async throws {
        let crm = try await CRMFixture.start()
        let first = "<chairs-for-leeds@harbourview.example>"
        let opening = mail(to: Self.customer, subject: "Chairs for Leeds", messageID: first)
        #expect(try await crm.send(opening, to: [crm.dropbox(Self.bob, .opportunity)]).code == 250)
        let reply = mail(
            to: Self.customer, subject: "Re: Chairs for Leeds", extraHeaders: ["In-Reply-To: \(first)", "References: \(first)"])
        #expect(try await crm.send(reply, to: [crm.dropbox(Self.bob, .opportunity)]).code == 250)
        var opportunities = try await crm.database.records(organisation: CRMFixture.organisation, opportunities: true)
        #expect(opportunities.map(\.ref) == ["CO1001"])
        #expect(opportunities.first?.messages.count == 2)
        let teamOnly = mail(to: "Sarah Okafor <\(Self.sarah)>", subject: "Plan the stand")
        #expect(try await crm.send(teamOnly, to: [crm.dropbox(Self.bob, .opportunity), crm.dropbox(Self.bob, .task)]).code == 250)
        opportunities = try await crm.database.records(organisation: CRMFixture.organisation, opportunities: true)
        #expect(opportunities.map(\.ref) == ["CO1001", "CO1002"])
        #expect(opportunities.last?.contacts == [])
        let tasks = try await crm.database.tasks(organisation: CRMFixture.organisation)
        #expect(tasks.map(\.title) == ["Plan the stand"])
        #expect(tasks.first?.contacts == [])
        await crm.stop()
    }

    /// Several dropbox recipients that all refuse: the first refusal is the reply, and each is
    /// logged. A token in capitals is the same dropbox; one never issued is refused at RCPT, as a
    /// rotated one is.
    @Test func whenNoRecipientAcceptsTheRefusalIsTheReply() async throws {
        let crm = try await CRMFixture.start()
        let message = mail(to: Self.customer, subject: "Shared")
        let sent = try await crm.send(message, to: [crm.dropbox(Self.sarah), crm.dropbox(Self.sarah, .case)])
        #expect(sent.code == 550)
        #expect(sent.text.hasPrefix("5.7.1 \(Self.bob) is not a trusted address of this dropbox"))
        let log = try await crm.log()
        #expect(log.map(\.outcome) == ["refused", "refused"])
        #expect(Set(log.compactMap(\.kind)) == ["note", "case"])
        // A live token in any letter case is the same dropbox, found in the directory in memory.
        let shouted = crm.dropbox(Self.bob).uppercased()
        #expect(try await crm.send(mail(to: Self.customer, subject: "Loud"), to: [shouted]).code == 250)
        #expect(try await crm.log().first?.user == Self.bob)
        let unknown = "zz9plural9z@dropbox.localhost"
        let atRCPT = try await crm.send(message, to: [unknown])
        #expect(atRCPT.refused[unknown]?.0 == 550)
        #expect(atRCPT.refused[unknown]?.1.hasPrefix("5.1.1 ") == true)
        #expect(try await crm.database.storedMessageCount() == 1)
        await crm.stop()
    }

    /// With create_contacts off, the people of a case that are not contacts yet are named in its
    /// log row, for an admin to file it under them.
    @Test func withoutCreateContactsACaseNamesThePeopleLeftOut() async throws {
        let crm = try await CRMFixture.start()
        try await crm.database.setSetting(organisation: CRMFixture.organisation, key: "create_contacts", value: "false")
        #expect(try await crm.send(mail(to: "new.person@newco.example", subject: "Broken"), to: [crm.dropbox(Self.bob, .case)]).code == 250)
        let row = try #require(try await crm.log().first)
        #expect(row.outcome == "filed")
        #expect(row.reason?.contains("not contacts, as create_contacts is off: new.person@newco.example") == true)
        #expect(try await crm.contactEmails().isEmpty)
        await crm.stop()
    }

    /// A commit that fails (here a trigger that aborts every note) answers 451 4.3.0 and leaves
    /// nothing of the message; once commits work again, the sender's retry is filed, once.
    @Test func aFailedCommitIs451AndLeavesNothing() async throws {
        let crm = try await CRMFixture.start()
        let file = try DatabaseQueue(path: crm.daemon.dataDirectory + "/intake.sqlite")
        try await file.write { db in
            try db.execute(sql: "CREATE TRIGGER refuse_notes BEFORE INSERT ON note BEGIN SELECT RAISE(ABORT, 'notes refused'); END")
        }
        let message = mail(to: "Jane Fenwick <\(Self.customer)>", subject: "Quote")
        let failed = try await crm.send(message, to: [crm.dropbox(Self.bob)])
        #expect(failed.code == 451)
        #expect(failed.text.hasPrefix("4.3.0 "))
        #expect(try await crm.database.storedMessageCount() == 0)
        #expect(try await crm.contactEmails().isEmpty)
        #expect(try await crm.database.companies(organisation: CRMFixture.organisation).isEmpty)
        try await file.write { db in try db.execute(sql: "DROP TRIGGER refuse_notes") }
        #expect(try await crm.send(message, to: [crm.dropbox(Self.bob)]).code == 250)
        #expect(try await crm.send(message, to: [crm.dropbox(Self.bob)]).code == 250)
        #expect(try await crm.database.storedMessageCount() == 1)
        #expect(try await crm.database.notes(organisation: CRMFixture.organisation).count == 1)
        #expect(try await crm.contactEmails() == [Self.customer])
        await crm.stop()
    }
}
