import Foundation
import Testing
@testable import MailParser

func eml(_ s: String) -> [UInt8] {
    Array(s.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n").utf8)
}

@Suite("MIME tree, body text, attachments")
struct MIMETests {
    static let mixed = eml(
        """
        From: Alice <alice@example.com>
        To: bob@example.org
        Subject: Report
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="outer"

        This is a multi-part message in MIME format.
        --outer
        Content-Type: multipart/alternative; boundary="inner"

        --inner
        Content-Type: text/plain; charset="iso-8859-1"
        Content-Transfer-Encoding: quoted-printable

        Voil=E0 le rapport.
        --inner
        Content-Type: text/html; charset="utf-8"

        <p>Voilà le <b>rapport</b>.</p>
        --inner--
        --outer
        Content-Type: application/pdf; name="report.pdf"
        Content-Disposition: attachment; filename="report.pdf"
        Content-Transfer-Encoding: base64

        JVBERi0xLjQK
        --outer
        Content-Type: image/png
        Content-ID: <image001.png@01D9ABCD.12345678>
        Content-Disposition: inline
        Content-Transfer-Encoding: base64

        iVBORw0KGgo=
        --outer--
        epilogue
        """)

    @Test func tree() {
        let m = MailMessage.parse(Self.mixed)
        #expect(m.root.contentType.mimeType == "multipart/mixed")
        #expect(m.root.parts.count == 3)
        #expect(m.root.parts[0].parts.count == 2)
        #expect(m.bodyText == "Voilà le rapport.")
        #expect(!m.bodyIsHTML)
        #expect(m.defects.isEmpty)
    }

    @Test func attachments() {
        let m = MailMessage.parse(Self.mixed)
        #expect(m.attachments.map(\.filename) == ["report.pdf", nil])
        #expect(m.attachments.map(\.contentType) == ["application/pdf", "image/png"])
        #expect(m.attachments[0].size == 9)
        #expect(m.attachments[0].sha256 == SHA256.hex(Array("%PDF-1.4\n".utf8)))
        #expect(m.attachments[1].contentID == "image001.png@01D9ABCD.12345678")
        #expect(m.attachments[1].isInline)
        // The content id is not a person.
        #expect(!m.people.contains { $0.address.domain.contains("01d9") })
    }

    @Test func droppingContentKeepsWhatWasDerivedAndTheDigests() {
        let full = MailMessage.parse(Self.mixed)
        let lean = full.droppingContent()
        #expect(lean.attachments.map(\.size) == full.attachments.map(\.size))
        #expect(lean.attachments.map(\.sha256) == full.attachments.map(\.sha256))
        #expect(lean.attachments.map(\.hasContent) == [false, false])
        #expect(lean.attachments.map(\.content) == [[], []])
        #expect(full.attachments.map(\.hasContent) == [true, true])
        var bodies = 0
        lean.root.walk { bodies += $0.rawBody.count + $0.content.count }
        #expect(bodies == 0)
        #expect(lean.root.parts.count == full.root.parts.count)
        #expect(lean.bodyText == full.bodyText)
        #expect(lean.people == full.people)
        #expect(lean.subject == full.subject)
        // Dropping twice changes nothing.
        #expect(lean.droppingContent() == lean)
    }

    @Test func htmlOnlyBody() {
        let m = MailMessage.parse(
            eml(
                """
                From: a@b.org
                Content-Type: text/html; charset=utf-8

                <html><head><style>p {color: red}</style><title>T</title></head><body>
                <p>Hello&nbsp;<b>there</b> &amp; welcome</p><div>Line two<br>Line three</div>
                <blockquote><p>quoted</p></blockquote><script>alert(1)</script>
                <p>caf&eacute; &#8364; &#x41;</p></body></html>
                """))
        #expect(m.bodyIsHTML)
        #expect(m.bodyText == "Hello there & welcome\nLine two\nLine three\n> quoted\ncafé € A")
    }

    /// An HTML-only body that shows people by name only: their `mailto:` links name them
    /// (RFC 6068; any case, percent-encoded, several in one link, a query after them).
    @Test func mailtoLinksOfAnHTMLBodyArePeople() {
        let m = MailMessage.parse(
            eml(
                """
                From: a@b.org
                Content-Type: text/html; charset=utf-8

                <p>Ask <a href="mailto:Liam.Byrne@byrne-joinery.example">Liam</a> or
                <a HREF='MAILTO:orla%40kelly-design.example?subject=Quote'>Orla Kelly</a>;
                <a href="mailto:one@team.example,two@team.example">the team</a>.</p>
                """))
        #expect(m.bodyText.contains("Ask Liam or Orla Kelly"))
        #expect(!m.bodyText.contains("@"))
        let body = m.people.filter { $0.source == .body }.map(\.address.normalized)
        #expect(body == ["liam.byrne@byrne-joinery.example", "orla@kelly-design.example", "one@team.example", "two@team.example"])
    }

    /// Ada's forward of `original` (its header fields, a blank line, its text) as an attached
    /// message/rfc822.
    static func forward(attaching original: String) -> MailMessage {
        MailMessage.parse(
            eml(
                """
                From: ada@acme.example
                Subject: Fwd: for the file
                Content-Type: multipart/mixed; boundary=b1

                --b1
                Content-Type: text/plain

                For the file.
                --b1
                Content-Type: message/rfc822

                \(original)
                --b1--
                """))
    }

    /// An attached original's Reply-To is a person: the customer behind a form's no-reply sender.
    @Test func anAttachedOriginalsReplyToIsAPerson() {
        let m = Self.forward(
            attaching: """
                From: "Jane Fenwick via Formstack" <noreply@formstack.example>
                Reply-To: Jane Fenwick <jane@fenwick.example>
                To: sales@acme.example
                Subject: New enquiry

                Forty chairs, please.
                """)
        let replyTo = m.people.first { $0.address.normalized == "jane@fenwick.example" }
        #expect(replyTo?.source == .forwardedReplyTo)
        #expect(replyTo?.name == "Jane Fenwick")
    }

    /// A bounce or an auto-reply forwarded as an attachment names no one: not its mail system
    /// sender, not the addresses that failed in its text.
    @Test(arguments: [
        "From: Mail Delivery System <MAILER-DAEMON@mx.fenwick.example>\nTo: alice@acme.example\nSubject: Undelivered",
        "From: Jane Fenwick <jane@fenwick.example>\nAuto-Submitted: auto-replied\nTo: alice@acme.example\nSubject: Out of office",
        "From: postmaster@fenwick.example\nTo: alice@acme.example\nSubject: Delivery failure",
    ])
    func anAttachedAutomatedOriginalNamesNoOne(_ header: String) {
        let m = Self.forward(attaching: header + "\n\nMail to old@fenwick.example could not be delivered; write to new@fenwick.example.")
        #expect(m.people.map(\.address.normalized) == ["ada@acme.example"])
    }

    /// A customer's mail to a list (`Precedence: list`), forwarded as an attachment, still names
    /// the customer: only automatic answers name no one.
    @Test func anAttachedListMessageNamesItsSender() {
        let m = Self.forward(
            attaching:
                "From: Jane Fenwick <jane@fenwick.example>\nTo: support@lists.acme.example\nPrecedence: list\nSubject: Chairs\n\nForty, please."
        )
        #expect(m.people.first { $0.address.normalized == "jane@fenwick.example" }?.source == .forwardedFrom)
    }

    /// An inline forward of a bounce names no one from its header block (its text may show the
    /// mail system's address; filing never makes such an address a contact).
    @Test func anInlineForwardedBounceNamesNoOne() {
        let m = textMessage(
            subject: "Fwd: Delivery Status Notification (Failure)",
            body: """
                ---------- Forwarded message ---------
                From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
                Date: Mon, 4 Mar 2024 at 10:00
                Subject: Delivery Status Notification (Failure)
                To: <me@mycorp.example>

                Address not found.
                """)
        #expect(m.forwarded.count == 1)
        #expect(!m.people.contains { $0.sources.contains(.forwardedFrom) || $0.sources.contains(.forwardedTo) })
    }

    /// A forward whose attachment is a file named `Chairs.eml`, sent as `application/octet-stream`
    /// in `encoding` with `body`.
    static func forward(emlFile body: String, encoding: String) -> MailMessage {
        MailMessage.parse(
            eml(
                """
                From: ada@acme.example
                Subject: Fwd: Chairs
                Content-Type: multipart/mixed; boundary=b1

                --b1
                Content-Type: text/plain

                See the attached mail.
                --b1
                Content-Type: application/octet-stream; name="Chairs.eml"
                Content-Disposition: attachment; filename="Chairs.eml"
                Content-Transfer-Encoding: \(encoding)

                \(body)
                --b1--
                """))
    }

    /// A saved message attached as a file (`.eml`, `application/octet-stream`, base64 or not) is
    /// read as the message it is: its people are the forwarded original's.
    @Test(arguments: ["7bit", "base64"])
    func anEMLFileIsAnAttachedOriginal(_ encoding: String) {
        let original = "From: Jane Fenwick <jane@fenwick.example>\r\nTo: ada@acme.example\r\nSubject: Chairs\r\n\r\nForty, please.\r\n"
        let body = encoding == "base64" ? Data(original.utf8).base64EncodedString(options: .lineLength76Characters) : original
        let m = Self.forward(emlFile: body, encoding: encoding)
        #expect(m.enclosedMessages.count == 1)
        let jane = m.people.first { $0.address.normalized == "jane@fenwick.example" }
        #expect(jane?.source == .forwardedFrom)
        #expect(jane?.name == "Jane Fenwick")
        // The attachment is the file's octets, decoded.
        #expect(m.attachments.first?.size == original.utf8.count)
    }

    /// A file named `.eml` that is no message stays the file it is.
    @Test func anEMLFileThatIsNoMessageStaysAFile() {
        let m = Self.forward(emlFile: "AAECAwQFBgcICQ==", encoding: "base64")
        #expect(m.enclosedMessages.isEmpty)
        #expect(m.attachments.first?.contentType == "application/octet-stream")
        #expect(m.attachments.first?.size == 10)
    }

    /// A reference tag in an attached original counts, as one in an inline forward does.
    @Test func aTagInAnAttachedOriginalIsFound() {
        let m = Self.forward(
            attaching: """
                From: jane@fenwick.example
                Subject: Re: Chairs #CS1001

                About #CO1002 too.
                """)
        #expect(m.referenceTags == ["CS1001", "CO1002"])
    }

    @Test func enclosedMessages() {
        let m = MailMessage.parse(
            eml(
                """
                From: fwd@example.com
                Subject: Fwd: two messages
                Content-Type: multipart/mixed; boundary=b1

                --b1
                Content-Type: text/plain

                See attached.
                --b1
                Content-Type: message/rfc822

                From: "Orig One" <one@example.net>
                To: x@example.com
                Subject: First
                Date: Mon, 4 Mar 2024 10:00:00 +0000
                Content-Type: multipart/alternative; boundary=b2

                --b2
                Content-Type: text/plain

                first body
                --b2--
                --b1
                Content-Type: message/rfc822
                Content-Disposition: attachment; filename="second.eml"

                From: two@example.net
                Subject: Second

                second body
                --b1--
                """))
        #expect(m.bodyText == "See attached.")
        #expect(m.enclosedMessages.count == 2)
        #expect(m.forwarded.map(\.from?.address) == ["one@example.net", "two@example.net"])
        #expect(m.forwarded.map(\.subject) == ["First", "Second"])
        #expect(m.forwarded[0].bodyText == "first body")
        #expect(m.forwarded[0].origin == .attached)
        #expect(m.attachments.map(\.contentType) == ["message/rfc822", "message/rfc822"])
        #expect(m.attachments[1].filename == "second.eml")
        #expect(m.people.map(\.address.address).contains("one@example.net"))
        #expect(m.defects.isEmpty)
    }

    @Test func lfOnlyAndNoMIME() {
        let m = MailMessage.parse(Array("From: a@b.org\nSubject: plain\n\nline1\nline2\n".utf8))
        #expect(m.bodyText == "line1\nline2\n")
        #expect(m.subject == "plain")
    }

    /// A boundary is only a line that begins with `--` and the boundary (RFC 2046 §5.1.1): dashes
    /// inside lines, lines of dashes and near-boundaries stay in the body, with LF or CRLF line
    /// ends, and a part may be empty.
    @Test(arguments: [
        ("first - second -- third\n- a list item\n---\n--b-not-quite\n-- \nend", "\n"),
        ("first - second -- third\n- a list item\n---\n--b-not-quite\n-- \nend", "\r\n"),
        ("-leading dash\nx--b\n", "\r\n"),
        ("", "\r\n"),
        ("", "\n"),
    ])
    func boundariesAreOnlyLinesThatBeginWithThem(body: String, lineEnd: String) {
        let lines = ["From: a@example.org", "Content-Type: multipart/mixed; boundary=b", "", "--b", "Content-Type: text/plain", ""]
        let text = lines.joined(separator: lineEnd) + lineEnd + body.replacingOccurrences(of: "\n", with: lineEnd)
        let raw =
            text + (body.isEmpty ? "" : lineEnd) + "--b" + lineEnd + "Content-Type: text/plain" + lineEnd + lineEnd + "two" + lineEnd
            + "--b--" + lineEnd
        let m = MailMessage.parse(Array(raw.utf8))
        #expect(m.root.parts.count == 2)
        #expect(String(decoding: m.root.parts.first?.rawBody ?? [], as: UTF8.self) == body.replacingOccurrences(of: "\n", with: lineEnd))
        #expect(String(decoding: m.root.parts.last?.rawBody ?? [], as: UTF8.self) == "two")
        #expect(m.defects.map(\.kind) == (lineEnd == "\n" ? [.bareLineFeed] : []))
    }

    @Test func digestDefaultsToMessage() {
        let m = MailMessage.parse(
            eml(
                """
                From: list@x.org
                Content-Type: multipart/digest; boundary=d

                --d

                From: a@x.org
                Subject: one

                body one
                --d--
                """))
        #expect(m.enclosedMessages.map(\.subject) == ["one"])
    }

    @Test func automatedHints() {
        #expect(MailMessage.parse(eml("From: a@b.org\nAuto-Submitted: auto-replied\n\nx")).isAutomated)
        #expect(!MailMessage.parse(eml("From: a@b.org\nAuto-Submitted: no\n\nx")).isAutomated)
        #expect(MailMessage.parse(eml("From: a@b.org\nPrecedence: bulk\n\nx")).isAutomated)
        #expect(MailMessage.parse(eml("From: a@b.org\nX-Autoreply: yes\n\nx")).isAutomated)
        #expect(
            MailMessage.parse(eml("From: a@b.org\nContent-Type: multipart/report; report-type=delivery-status; boundary=x\n\n--x--"))
                .isAutomated)
        #expect(!MailMessage.parse(eml("From: a@b.org\n\nx")).isAutomated)
    }

    /// Precedence is compared without its comments and white space, in any case (RFC 5322 §3.2.2).
    @Test(arguments: [
        ("bulk", true), ("junk (spam)", true), ("(mass mailing) bulk", true), ("  LIST  ", true), ("Junk(x)", true),
        ("bulk (a (nested) comment)", true), ("auto_reply", true), ("first-class", false), ("(bulk)", false), ("normal", false),
    ])
    func precedence(_ value: String, _ automated: Bool) {
        #expect(MailMessage.parse(eml("From: a@b.org\nPrecedence: \(value)\n\nx")).isAutomated == automated)
    }

    /// Auto-Submitted is its keyword, before any parameter and without comments (RFC 3834 §5).
    @Test(arguments: [
        ("auto-replied", true), ("Auto-Generated", true), ("auto-notified; owner-email=\"a@b.org\"", true),
        ("(by a rule) auto-replied", true), ("no", false), ("No", false), ("no (sent by hand)", false),
        ("(sent by hand) no", false), (" no ; x=y", false), ("notified", true), ("", false),
    ])
    func autoSubmitted(_ value: String, _ automated: Bool) {
        #expect(MailMessage.parse(eml("From: a@b.org\nAuto-Submitted: \(value)\n\nx")).isAutomated == automated)
    }

    @Test func threadingIdentifiers() {
        let m = MailMessage.parse(
            eml(
                """
                From: a@b.org
                Message-ID: <id1@host>
                In-Reply-To: id0@host
                References: <id-1@host>
                  <id0@host>

                x
                """))
        #expect(m.messageID == "id1@host")
        #expect(m.inReplyTo == ["id0@host"])
        #expect(m.references == ["id-1@host", "id0@host"])
    }
}

@Suite("format=flowed")
struct FlowedTests {
    @Test(arguments: [
        ("a long \r\nparagraph\r\nnext", false, "a long paragraph\nnext"),
        ("split wo \r\nrd\r\n", true, "split word\n"),
        ("> quoted \r\n> more\r\nreply", false, "> quoted more\nreply"),
        (">> deep \r\n> shallow\r\n", false, ">> deep \n> shallow\n"),
        (" From stuffed\r\n", false, "From stuffed\n"),
        ("text\r\n-- \r\nsig", false, "text\n-- \nsig"),
    ])
    func unflow(input: String, delSp: Bool, expected: String) {
        #expect(Flowed.decode(input, delSp: delSp) == expected)
    }
}
