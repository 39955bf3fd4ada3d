import Foundation
import Testing

@testable import MailParser

@Suite("Meeting invitations: the people of iCalendar objects")
struct CalendarTests {
    /// One content line (or folded lines) and the people it gives: address, name, organizer.
    @Test(
        arguments: [
            ("ORGANIZER;CN=Ada Lovelace:mailto:ada@acme.example", [("ada@acme.example", "Ada Lovelace", true)]),
            ("ATTENDEE;ROLE=REQ-PARTICIPANT;CN=Jane Roe:mailto:jane@roe.example", [("jane@roe.example", "Jane Roe", false)]),
            // A quoted name holds a comma, a colon and a semicolon; the scheme in capitals.
            (
                #"ATTENDEE;CN="Doe, John: Sales; EMEA";RSVP=TRUE:MAILTO:john@doe.example"#,
                [("john@doe.example", "Doe, John: Sales; EMEA", false)]
            ),
            // Folded at 75 octets, the continuation's first space dropped (RFC 5545 §3.1).
            (
                "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=\r\n TRUE;CN=Liam Chen;X-NUM-GUESTS=0:mailto:liam.chen@globex.exam\r\n ple",
                [("liam.chen@globex.example", "Liam Chen", false)]
            ),
            // RFC 6868's escapes in a parameter value.
            ("ATTENDEE;CN=\"Rosa ^'Ro^' Díaz\":mailto:rosa@diaz.example", [("rosa@diaz.example", "Rosa \"Ro\" Díaz", false)]),
            // Percent-escapes and a query in the URI; no name, or the address as its name.
            ("ATTENDEE:mailto:kim%40kim.example?subject=x", [("kim@kim.example", nil, false)]),
            ("ATTENDEE;CN=pat@pat.example:mailto:pat@pat.example", [("pat@pat.example", nil, false)]),
            // An address in EMAIL when the value is no mailto: URI (RFC 7986 §6.1).
            ("ATTENDEE;EMAIL=sam@sam.example;CN=Sam:urn:uuid:3f2504e0-4f89-11d3-9a0c-0305e82c3301", [("sam@sam.example", "Sam", false)]),
            // Rooms and resources are not people; nor is a line without an address.
            ("ATTENDEE;CUTYPE=ROOM;CN=Board room:mailto:board-room@acme.example", []),
            ("ATTENDEE;CUTYPE=RESOURCE;CN=Projector:mailto:projector@acme.example", []),
            ("ATTENDEE;CN=Nobody:urn:uuid:1234", []),
            ("ATTENDEE;CN=\"Unclosed:mailto:x@x.example", []),
            ("SUMMARY:Call with mailto:not-a-person@example.com", []),
            // Groups, those copied for information (Exchange's rooms), Google's own calendars,
            // no-reply publishers, an alarm's recipient.
            ("ATTENDEE;CUTYPE=GROUP;CN=Logistics:mailto:logistics@fenwick.example", []),
            ("ATTENDEE;ROLE=NON-PARTICIPANT;CN=Room 4.12:mailto:room412@acme.example", []),
            ("ORGANIZER;CN=Team calendar:mailto:c_0f9e@group.calendar.google.com", []),
            ("ORGANIZER;CN=Zoom:mailto:no-reply@zoom.us", []),
            ("BEGIN:VALARM\r\nACTION:EMAIL\r\nATTENDEE:mailto:reminders@acme.example\r\nEND:VALARM", []),
            // Apple's relay address in the value, the person's in EMAIL (RFC 7986 §6.1).
            (
                #"ORGANIZER;CN="Bob Carter";EMAIL="bob@carter.example":mailto:2_haztamv@imip.me.com"#,
                [("bob@carter.example", "Bob Carter", true)]
            ),
            // A lone CR ends a line too; escapes that make control characters or spaces are no address.
            ("ATTENDEE:mailto:ann@a.example\rATTENDEE:mailto:bo@b.example", [("ann@a.example", nil, false), ("bo@b.example", nil, false)]),
            ("ATTENDEE:mailto:a%00b@x.example", []),
            ("ATTENDEE:mailto:a%0D%0Abcc@x.example", []),
            // An organizer listed as an attendee first (Apple sorts its properties) is the organizer.
            (
                "ATTENDEE;ROLE=CHAIR;CN=Ada:mailto:ada@acme.example\r\nORGANIZER;CN=Ada:mailto:ada@acme.example",
                [("ada@acme.example", "Ada", true)]
            ),
            ("DESCRIPTION;ALTREP=\"cid:part1\":Agenda", []),
        ] as [(String, [(String, String?, Bool)])])
    func contentLines(_ text: String, _ expected: [(String, String?, Bool)]) {
        let found = CalendarPeople.find(in: Array(("BEGIN:VEVENT\r\n" + text + "\r\nEND:VEVENT\r\n").utf8))
        #expect(found.map(\.address.address) == expected.map(\.0))
        #expect(found.map(\.address.name) == expected.map(\.1))
        #expect(found.map(\.isOrganizer) == expected.map(\.2))
    }

    /// An invitation as a calendar service mails it to one guest (here the dropbox): the other
    /// guests are named only in its calendar, given twice (an alternative and an `.ics` file).
    @Test func anInvitationNamesItsGuests() throws {
        let calendar = """
            BEGIN:VCALENDAR\r
            PRODID:-//Google Inc//Google Calendar 70.9054//EN\r
            VERSION:2.0\r
            METHOD:REQUEST\r
            BEGIN:VEVENT\r
            DTSTART:20261208T150000Z\r
            ORGANIZER;CN=Ada Lovelace:mailto:ada@acme.example\r
            ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Ada Lovelace;X-NUM-GUESTS=0:mailto:ada@acme.example\r
            ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=\r
             TRUE;CN=Jane Fenwick;X-NUM-GUESTS=0:mailto:jane@fenwick.example\r
            ATTENDEE;CUTYPE=ROOM;CN=Board room:mailto:c_188@resource.calendar.google.com\r
            ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=OPT-PARTICIPANT;CN=Omar Haddad:mailto:omar@haddad.example\r
            SUMMARY:Quarterly review\r
            END:VEVENT\r
            END:VCALENDAR\r

            """
        let message = """
            From: Ada Lovelace <ada@acme.example>\r
            To: dropbox@dropbox.example\r
            Subject: Invitation: Quarterly review\r
            MIME-Version: 1.0\r
            Content-Type: multipart/mixed; boundary="outer"\r
            \r
            --outer\r
            Content-Type: multipart/alternative; boundary="inner"\r
            \r
            --inner\r
            Content-Type: text/plain; charset="UTF-8"\r
            \r
            You have been invited to Quarterly review.\r
            --inner\r
            Content-Type: text/calendar; charset="UTF-8"; method=REQUEST\r
            \r
            \(calendar)--inner--\r
            --outer\r
            Content-Type: application/ics; name="invite.ics"\r
            Content-Disposition: attachment; filename="invite.ics"\r
            Content-Transfer-Encoding: base64\r
            \r
            \(Data(calendar.utf8).base64EncodedString(options: .lineLength76Characters))\r
            --outer--\r

            """
        let parsed = MailMessage.parse(Array(message.utf8))
        #expect(parsed.invitationPeople.map(\.address.address) == ["ada@acme.example", "jane@fenwick.example", "omar@haddad.example"])
        let people = Dictionary(uniqueKeysWithValues: parsed.people.map { ($0.address.address, $0) })
        #expect(people["jane@fenwick.example"]?.sources == [.invitationAttendee])
        #expect(people["jane@fenwick.example"]?.name == "Jane Fenwick")
        #expect(people["omar@haddad.example"]?.sources == [.invitationAttendee])
        #expect(people["ada@acme.example"]?.sources == [.from, .invitationOrganizer])
        #expect(people["c_188@resource.calendar.google.com"] == nil)
        // The `.ics` file is still an attachment; the calendar alternative is not the text.
        #expect(parsed.attachments.map(\.filename) == ["invite.ics"])
        #expect(parsed.bodyText.hasPrefix("You have been invited"))
    }

    /// Random lines of the octets that matter to the grammar (quotes, separators, folds, escapes)
    /// never trap, and whatever they give is a whole address.
    @Test func randomContentLinesNeverTrap() {
        let pieces = [
            "ATTENDEE", "ORGANIZER", ";", ":", ",", "=", "\"", "^", "^n", "^'", "CN", "EMAIL", "CUTYPE", "ROOM", "mailto:", "MAILTO:",
            "%", "%4", "%40", "@", "a", "b.example", "\r\n ", "\r\n\t", "\r\n", "\n", " ", "é", "?x=1",
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3_000 {
            let text = (0..<Int.random(in: 1...40, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            for entry in CalendarPeople.find(in: Array(text.utf8)) {
                #expect(entry.address.isComplete, "\(text.debugDescription)")
            }
        }
    }

    /// Octets before text: a fold inside a UTF-8 character joins it again (RFC 5545 §3.1), an
    /// unlabelled calendar is UTF-8 (§3.1.4), a labelled one is read in its charset.
    @Test func foldsAndCharsets() {
        let folded: [UInt8] =
            Array("ATTENDEE;CN=J".utf8) + [0xC3] + Array("\r\n ".utf8) + [0xBC] + Array("rgen M\u{00FC}ller:mailto:j@m.example\r\n".utf8)
        #expect(CalendarPeople.find(in: folded).map(\.address.name) == ["Jürgen Müller"])
        let unlabelled = Array("ATTENDEE;CN=Zoë Núñez:mailto:zoe@n.example\r\n".utf8)
        #expect(CalendarPeople.find(in: unlabelled).map(\.address.name) == ["Zoë Núñez"])
        let latin1: [UInt8] = Array("ATTENDEE;CN=Zo".utf8) + [0xEB] + Array(":mailto:zoe@n.example\r\n".utf8)
        #expect(CalendarPeople.find(in: latin1, charset: "iso-8859-1").map(\.address.name) == ["Zoë"])
    }
}
