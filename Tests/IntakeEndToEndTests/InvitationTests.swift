import Foundation
import IntakeStore
import Testing

/// Meeting invitations end to end: a calendar service mails each guest on their own, so the
/// invitation that reaches a dropbox names the other guests only in its calendar.
@Suite struct InvitationTests {
    @Test func theGuestsOfAnInvitationBecomeContactsButNotRoomsOrColleagues() async throws {
        let crm = try await CRMFixture.start()
        let dropbox = crm.dropbox(FilingTests.bob)
        let calendar = [
            "BEGIN:VCALENDAR", "PRODID:-//Google Inc//Google Calendar 70.9054//EN", "VERSION:2.0", "METHOD:REQUEST", "BEGIN:VEVENT",
            "DTSTART:20261208T150000Z", "DTEND:20261208T160000Z", "UID:7kukuqrfedlm2f9t3vn2s1eyzt@google.com",
            "ORGANIZER;CN=Bob Carter:mailto:bob.carter@harbourview.example",
            "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=",
            " TRUE;CN=Jane Fenwick;X-NUM-GUESTS=0:mailto:jane.fenwick@fenwick-logistics.example",
            "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=OPT-PARTICIPANT;CN=\"Haddad, Omar\":mailto:omar.haddad@fenwick-logistics.example",
            "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;CN=Sarah Okafor:mailto:sarah.okafor@harbourview.example",
            "ATTENDEE;CUTYPE=ROOM;CN=Harbour room:mailto:c_1887@resource.calendar.google.com",
            "ATTENDEE;CN=Dropbox:mailto:\(dropbox)", "SUMMARY:Delivery planning", "END:VEVENT", "END:VCALENDAR",
        ].joined(separator: "\r\n")
        let message = [
            "From: Bob Carter <bob.carter@harbourview.example>", "To: \(dropbox)",
            "Subject: Invitation: Delivery planning @ Tue 8 Dec 2026 15:00 - 16:00 (GMT)", "Date: Mon, 7 Dec 2026 10:00:00 +0000",
            "Message-ID: <invite-1@harbourview.example>", "MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=\"outer\"", "",
            "--outer", "Content-Type: multipart/alternative; boundary=\"inner\"", "", "--inner",
            "Content-Type: text/plain; charset=\"UTF-8\"", "", "You have been invited to Delivery planning.", "--inner",
            "Content-Type: text/calendar; charset=\"UTF-8\"; method=REQUEST", "", calendar, "--inner--", "--outer",
            "Content-Type: application/ics; name=\"invite.ics\"", "Content-Disposition: attachment; filename=\"invite.ics\"",
            "Content-Transfer-Encoding: base64", "", Data(calendar.utf8).base64EncodedString(options: .lineLength76Characters),
            "--outer--", "",
        ].joined(separator: "\r\n")
        #expect(try await crm.send(message, to: [dropbox]).code == 250)
        let contacts = try await crm.database.contacts(organisation: CRMFixture.organisation)
        #expect(Set(contacts.map(\.name)) == ["Jane Fenwick", "Haddad, Omar"])
        #expect(Set(contacts.flatMap(\.emails)) == ["jane.fenwick@fenwick-logistics.example", "omar.haddad@fenwick-logistics.example"])
        let notes = try await crm.database.notes(organisation: CRMFixture.organisation)
        #expect(notes.count == 2)
        #expect(notes.allSatisfy { $0.text.contains("Delivery planning") })
        #expect(try await crm.log().map(\.outcome) == ["filed"])
        await crm.stop()
    }

    /// The calendar only as an `.ics` file labelled `application/ics` (a forwarded invitation): the
    /// daemon's parse, which keeps only a digest of other files, reads it for its people.
    @Test func anInvitationAttachedAsAnIcsFileNamesItsGuests() async throws {
        let crm = try await CRMFixture.start()
        let dropbox = crm.dropbox(FilingTests.bob)
        let calendar = [
            "BEGIN:VCALENDAR", "VERSION:2.0", "METHOD:REQUEST", "BEGIN:VEVENT",
            "ORGANIZER;CN=Bob Carter:mailto:bob.carter@harbourview.example",
            "ATTENDEE;CN=Liam Chen;PARTSTAT=NEEDS-ACTION:mailto:liam.chen@globex.example", "SUMMARY:Site visit", "END:VEVENT",
            "END:VCALENDAR",
        ].joined(separator: "\r\n")
        let message = [
            "From: Bob Carter <bob.carter@harbourview.example>", "To: \(dropbox)", "Subject: Fwd: Invitation: Site visit",
            "Message-ID: <invite-2@harbourview.example>", "MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=\"b\"", "",
            "--b", "Content-Type: text/plain; charset=UTF-8", "", "For the file.", "--b",
            "Content-Type: application/ics; name=\"invite.ics\"", "Content-Disposition: attachment; filename=\"invite.ics\"",
            "Content-Transfer-Encoding: base64", "", Data(calendar.utf8).base64EncodedString(options: .lineLength76Characters), "--b--", "",
        ].joined(separator: "\r\n")
        #expect(try await crm.send(message, to: [dropbox]).code == 250)
        let contacts = try await crm.database.contacts(organisation: CRMFixture.organisation)
        #expect(contacts.map(\.name) == ["Liam Chen"])
        #expect(contacts.flatMap(\.emails) == ["liam.chen@globex.example"])
        await crm.stop()
    }
}
