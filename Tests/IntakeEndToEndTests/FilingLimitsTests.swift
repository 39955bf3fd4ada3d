import Filing
import Foundation
import IntakeStore
import Testing

/// What one message may cost the store: a message naming thousands of people, or with a body of
/// megabytes, files a bounded amount (a note per contact, each holding the text).
@Suite struct FilingLimitsTests {
    @Test func aMessageNamingManyPeopleIsFiledUnderTheFirstFiftyWithShortNotes() async throws {
        let crm = try await CRMFixture.start()
        let people = (1...60).map { "Person \($0) <person\($0)@fenwick-logistics.example>" }
        let paragraph = String(repeating: "Pallets, chairs and tables for the new office; Ünïcödé ✓. ", count: 12) + "\n"
        let body = String(repeating: paragraph, count: 250)  // about 210 KB, in lines under 1,000 octets
        // Folded: a line of the message is at most 1,000 octets.
        let message = mail(to: people.joined(separator: ",\r\n "), subject: "Office move", body: body)
        #expect(try await crm.send(message, to: [crm.dropbox(FilingTests.bob)]).code == 250)

        let contacts = try await crm.database.contacts(organisation: CRMFixture.organisation)
        #expect(contacts.count == FilingLimits().maxContactsPerMessage)
        #expect(Set(contacts.map(\.name)) == Set((1...50).map { "Person \($0)" }))
        let notes = try await crm.database.notes(organisation: CRMFixture.organisation)
        #expect(notes.count == 50)
        #expect(notes.allSatisfy { $0.text.utf8.count < FilingLimits().maxNoteTextOctets + 200 })
        #expect(notes.allSatisfy { $0.text.hasPrefix("Subject: Office move") && $0.text.hasSuffix("The whole message is kept.]") })
        let log = try await crm.log()
        #expect(log.map(\.outcome) == ["filed"])
        #expect(log.first?.reason == "10 more people not filed: at most 50 contacts per message")
        await crm.stop()
    }

    /// Over the limit, the senders go first: the customer whose mail a list message forwards is
    /// kept though sixty recipients come before her.
    @Test func overTheLimitTheForwardedSenderIsKept() async throws {
        let crm = try await CRMFixture.start()
        let list = (1...60).map { "member\($0)@fenwick-logistics.example" }.joined(separator: ",\r\n ")
        let body = """
            FYI

            ---------- Forwarded message ---------
            From: Nora Quinn <nora.quinn@quinn-freight.example>
            Date: Mon, 4 Mar 2024 at 09:00
            Subject: Pallets
            To: <bob.carter@harbourview.example>

            Can you quote for 40 pallets?
            """
        #expect(try await crm.send(mail(to: list, subject: "Fwd: Pallets", body: body), to: [crm.dropbox(FilingTests.bob)]).code == 250)
        let contacts = try await crm.database.contacts(organisation: CRMFixture.organisation)
        #expect(contacts.count == 50)
        #expect(contacts.contains { $0.emails == ["nora.quinn@quinn-freight.example"] })
        await crm.stop()
    }

    /// Both bounds are settings.
    @Test func theBoundsAreSettings() async throws {
        let crm = try await CRMFixture.start(settings: ["filing.max_contacts_per_message": "3", "filing.max_note_text_octets": "2048"])
        let people = (1...5).map { "person\($0)@fenwick-logistics.example" }.joined(separator: ", ")
        let body = String(repeating: "Pallets and chairs for the new office.\n", count: 200)
        #expect(try await crm.send(mail(to: people, subject: "Office move", body: body), to: [crm.dropbox(FilingTests.bob)]).code == 250)
        #expect(try await crm.database.contacts(organisation: CRMFixture.organisation).count == 3)
        let notes = try await crm.database.notes(organisation: CRMFixture.organisation)
        #expect(notes.count == 3 && notes.allSatisfy { $0.text.utf8.count < 2048 + 200 && $0.text.contains("first 2 KiB") })
        #expect(try await crm.log().first?.reason == "2 more people not filed: at most 3 contacts per message")
        await crm.stop()
    }
}
