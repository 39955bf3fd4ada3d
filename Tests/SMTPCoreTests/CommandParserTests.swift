import SMTPCore
import Testing

/// One command line and what it parses to: a command, or the reply code and enhanced code it earns.
struct CommandFixture: CustomTestStringConvertible, Sendable {
    let line: String
    let expected: Expected

    enum Expected: Sendable {
        case command(SMTPCommand)
        case error(Int, String, closes: Bool = false)
    }

    var testDescription: String { line }
}

private func mailbox(_ local: String, _ domain: String, quoted: Bool = false, literal: Bool = false) -> Mailbox {
    Mailbox(localPart: local, domain: domain, isAddressLiteral: literal, isQuoted: quoted)
}

@Suite struct CommandParserTests {
    static let fixtures: [CommandFixture] = [
        // Greetings (RFC 5321 §4.1.1.1)
        .init(line: "EHLO client.example", expected: .command(.ehlo("client.example"))),
        .init(line: "ehlo client.example", expected: .command(.ehlo("client.example"))),
        .init(line: "HELO client.example", expected: .command(.helo("client.example"))),
        .init(line: "EHLO [192.0.2.1]", expected: .command(.ehlo("[192.0.2.1]"))),
        .init(line: "EHLO", expected: .error(501, "5.5.4")),
        .init(line: "EHLO   ", expected: .error(501, "5.5.4")),
        .init(line: "HELO", expected: .error(501, "5.5.4")),
        .init(line: "EHLO bücher.example", expected: .command(.ehlo("bücher.example"))),
        .init(line: "EHLO a\u{1B}[31mred", expected: .error(501, "5.5.4")),
        .init(line: "EHLO evil\u{0}name", expected: .error(501, "5.5.4")),
        .init(line: "HELO tab\u{7F}", expected: .error(501, "5.5.4")),
        .init(line: "EHLO [IPv6:2001:db8::1]", expected: .command(.ehlo("[IPv6:2001:db8::1]"))),
        .init(line: "EHLO a ([10.0.0.1]) by trusted.example", expected: .error(501, "5.5.4")),
        .init(line: "HELO my host", expected: .error(501, "5.5.4")),
        .init(line: "EHLO a;b", expected: .error(501, "5.5.4")),
        // MAIL (RFC 5321 §4.1.1.2, §4.1.2)
        .init(line: "MAIL FROM:<a@b.example>", expected: .command(.mail(.mailbox(mailbox("a", "b.example")), MailParameters()))),
        .init(line: "mail from:<a@b.example>", expected: .command(.mail(.mailbox(mailbox("a", "b.example")), MailParameters()))),
        .init(line: "MAIL FROM: <a@b.example>", expected: .command(.mail(.mailbox(mailbox("a", "b.example")), MailParameters()))),
        .init(line: "MAIL FROM:<>", expected: .command(.mail(.null, MailParameters()))),
        .init(
            line: "MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME",
            expected: .command(.mail(.mailbox(mailbox("a", "b.example")), MailParameters(size: 1000, body: .eightBitMIME)))
        ),
        .init(
            line: "MAIL FROM:<a@b.example> body=7bit",
            expected: .command(.mail(.mailbox(mailbox("a", "b.example")), MailParameters(body: .sevenBit)))
        ),
        .init(
            line: "MAIL FROM:<\"john doe\"@b.example>",
            expected: .command(.mail(.mailbox(mailbox("\"john doe\"", "b.example", quoted: true)), MailParameters()))
        ),
        .init(
            line: "MAIL FROM:<\"a>b\"@b.example>",
            expected: .command(.mail(.mailbox(mailbox("\"a>b\"", "b.example", quoted: true)), MailParameters()))
        ),
        .init(
            line: "MAIL FROM:<@relay.example,@other.example:a@b.example>",
            expected: .command(.mail(.mailbox(mailbox("a", "b.example")), MailParameters()))
        ),
        .init(
            line: "MAIL FROM:<a@[192.0.2.1]>",
            expected: .command(.mail(.mailbox(mailbox("a", "[192.0.2.1]", literal: true)), MailParameters()))
        ),
        .init(
            line: "MAIL FROM:<josé@exämple.de> SMTPUTF8",
            expected: .command(.mail(.mailbox(mailbox("josé", "exämple.de")), MailParameters(smtpUTF8: true)))
        ),
        .init(line: "MAIL FROM:<josé@exämple.de>", expected: .error(553, "5.6.7")),
        .init(line: "MAIL FROM:a@b.example", expected: .error(501, "5.5.4")),
        .init(line: "MAIL a@b.example", expected: .error(501, "5.5.4")),
        .init(line: "MAIL FROM:<a@b.example", expected: .error(501, "5.5.4")),
        .init(line: "MAIL", expected: .error(501, "5.5.4")),
        .init(line: "MAIL FROM:<a b@b.example>", expected: .error(501, "5.1.7")),
        .init(line: "MAIL FROM:<a..b@b.example>", expected: .error(501, "5.1.7")),
        .init(line: "MAIL FROM:<.a@b.example>", expected: .error(501, "5.1.7")),
        .init(line: "MAIL FROM:<a@>", expected: .error(501, "5.1.7")),
        .init(line: "MAIL FROM:<a>", expected: .error(501, "5.1.7")),
        .init(line: "MAIL FROM:<a@-b.example>", expected: .error(501, "5.1.7")),
        .init(line: "MAIL FROM:<a@b..example>", expected: .error(501, "5.1.7")),
        .init(line: "MAIL FROM:<a@b_c.example>", expected: .error(501, "5.1.7")),
        .init(line: "MAIL FROM:<a@[192.0.2.1>", expected: .error(501, "5.1.7")),
        .init(line: "MAIL FROM:<\"unclosed@b.example>", expected: .error(501, "5.5.4")),
        // A sender's local part may pass 64 octets (SRS and VERP return paths), within the path's 256.
        .init(
            line: "MAIL FROM:<\(String(repeating: "a", count: 65))@b.example>",
            expected: .command(.mail(.mailbox(mailbox(String(repeating: "a", count: 65), "b.example")), MailParameters()))),
        .init(line: "MAIL FROM:<\(String(repeating: "a", count: 250))@b.example>", expected: .error(501, "5.1.7")),
        .init(line: "RCPT TO:<\(String(repeating: "a", count: 65))@b.example>", expected: .error(501, "5.1.3")),
        .init(
            line: "MAIL FROM:<a@\(String(repeating: "b", count: 64)).example>",
            expected: .error(501, "5.1.7")
        ),
        .init(
            line: "MAIL FROM:<a@\(Array(repeating: "label", count: 50).joined(separator: ".")).example>",
            expected: .error(501, "5.1.7")
        ),
        .init(line: "MAIL FROM:<a@b.example>SIZE=10", expected: .error(501, "5.5.4")),
        // `1*20DIGIT` (RFC 1870): valid, and over any limit.
        .init(
            line: "MAIL FROM:<a@b.example> SIZE=99999999999999999999",
            expected: .command(.mail(.mailbox(mailbox("a", "b.example")), MailParameters(size: Int.max)))
        ),
        .init(line: "MAIL FROM:<a@b.example> SIZE=999999999999999999999", expected: .error(501, "5.5.4")),
        .init(line: "MAIL FROM:<a@b.example> SIZE=abc", expected: .error(501, "5.5.4")),
        .init(line: "MAIL FROM:<a@b.example> SIZE=-1", expected: .error(501, "5.5.4")),
        .init(line: "MAIL FROM:<a@b.example> SIZE", expected: .error(501, "5.5.4")),
        .init(line: "MAIL FROM:<a@b.example> BODY=BINARYMIME", expected: .error(555, "5.5.4")),
        .init(line: "MAIL FROM:<a@b.example> BODY=9BIT", expected: .error(501, "5.5.4")),
        .init(line: "MAIL FROM:<a@b.example> BODY=8bıtmıme", expected: .error(501, "5.5.4")),
        .init(
            line: "MAIL FROM:<a@b.example> body=8bitmime",
            expected: .command(.mail(.mailbox(mailbox("a", "b.example")), MailParameters(body: .eightBitMIME)))),
        .init(line: "MAIL FROM:<a@b.example> SIZE=1 SIZE=2", expected: .error(501, "5.5.4")),
        .init(
            line: "MAIL FROM:<a@b.example> SMTPUTF8 BODY=8BITMIME SMTPUTF8",
            expected: .command(.mail(.mailbox(mailbox("a", "b.example")), MailParameters(body: .eightBitMIME, smtpUTF8: true)))
        ),
        .init(line: "MAIL FROM:<a@b.example> SMTPUTF8=yes", expected: .error(501, "5.5.4")),
        .init(line: "MAIL FROM:<a@b.example> RET=HDRS", expected: .error(555, "5.5.4")),
        .init(line: "MAIL FROM:<a@b.example> AUTH=<>", expected: .error(555, "5.5.4")),
        .init(line: "MAIL FROM:<postmaster>", expected: .error(501, "5.1.7")),
        // RCPT (RFC 5321 §4.1.1.3)
        .init(line: "RCPT TO:<tok@dropbox.example>", expected: .command(.rcpt(.mailbox(mailbox("tok", "dropbox.example"))))),
        .init(line: "rcpt to:<tok@dropbox.example>", expected: .command(.rcpt(.mailbox(mailbox("tok", "dropbox.example"))))),
        .init(line: "RCPT TO:<Postmaster>", expected: .command(.rcpt(.postmaster))),
        .init(line: "RCPT TO:<postmaster>", expected: .command(.rcpt(.postmaster))),
        .init(
            line: "RCPT TO:<@hop.example:tok@dropbox.example>",
            expected: .command(.rcpt(.mailbox(mailbox("tok", "dropbox.example"))))
        ),
        .init(
            line: "RCPT TO:<用户@例子.广告>",
            expected: .command(.rcpt(.mailbox(mailbox("用户", "例子.广告"))))
        ),
        .init(line: "RCPT TO:<>", expected: .error(501, "5.1.3")),
        .init(line: "RCPT TO:tok@dropbox.example", expected: .error(501, "5.5.4")),
        .init(line: "RCPT <tok@dropbox.example>", expected: .error(501, "5.5.4")),
        .init(line: "RCPT TO:<a b@dropbox.example>", expected: .error(501, "5.1.3")),
        .init(line: "RCPT TO:<tok@dropbox.example> NOTIFY=NEVER", expected: .error(555, "5.5.4")),
        // Others (RFC 5321 §4.1.1.4–§4.1.1.10, RFC 3207)
        .init(line: "DATA", expected: .command(.data)),
        .init(line: "data", expected: .command(.data)),
        .init(line: "DATA x", expected: .error(501, "5.5.4")),
        .init(line: "RSET", expected: .command(.rset)),
        .init(line: "RSET now", expected: .error(501, "5.5.4")),
        .init(line: "NOOP", expected: .command(.noop)),
        .init(line: "NOOP anything at all", expected: .command(.noop)),
        .init(line: "QUIT", expected: .command(.quit)),
        .init(line: "QUIT now", expected: .error(501, "5.5.4")),
        .init(line: "VRFY", expected: .error(501, "5.5.4")),
        .init(line: "VRFY  ", expected: .error(501, "5.5.4")),
        .init(line: "HELP", expected: .command(.help)),
        .init(line: "HELP MAIL", expected: .command(.help)),
        .init(line: "VRFY alice", expected: .command(.vrfy)),
        .init(line: "EXPN staff", expected: .command(.expn)),
        .init(line: "STARTTLS", expected: .command(.startTLS)),
        .init(line: "starttls", expected: .command(.startTLS)),
        .init(line: "STARTTLS now", expected: .error(501, "5.5.4")),
        .init(line: "BDAT 100 LAST", expected: .error(500, "5.5.2")),
        .init(line: "AUTH PLAIN AAAA", expected: .error(500, "5.5.2")),
        .init(line: "ETRN example.com", expected: .error(500, "5.5.2")),
        .init(line: "FOO", expected: .error(500, "5.5.2")),
        // Case-insensitive in ASCII only (RFC 5321 §2.4): a dotless ı or a long ſ makes no verb.
        .init(line: "quıt", expected: .error(500, "5.5.2")),
        .init(line: "ſtarttls", expected: .error(500, "5.5.2")),
        .init(line: "maıl FROM:<a@b.example>", expected: .error(500, "5.5.2")),
        .init(line: "", expected: .error(500, "5.5.2")),
        .init(line: "GET / HTTP/1.1", expected: .error(421, "4.7.0", closes: true)),
        .init(line: "POST /submit HTTP/1.1", expected: .error(421, "4.7.0", closes: true)),
        .init(line: "CONNECT mail.example:25 HTTP/1.1", expected: .error(421, "4.7.0", closes: true)),
    ]

    @Test(arguments: fixtures)
    func parses(_ fixture: CommandFixture) {
        let result = Result { () throws(SMTPCommandError) -> SMTPCommand in try SMTPCommand.parse(Array(fixture.line.utf8)) }
        switch (fixture.expected, result) {
        case (.command(let expected), .success(let command)):
            #expect(command == expected)
        case (.error(let code, let enhanced, let closes), .failure(let error)):
            #expect(error.reply.code == code)
            #expect(error.reply.enhancedCode?.description == enhanced)
            #expect(error.closesConnection == closes)
            #expect(!error.reply.lines[0].isEmpty)
        case (.command(let expected), .failure(let error)):
            Issue.record("expected \(expected), got \(error.reply)")
        case (.error(let code, let enhanced, _), .success(let command)):
            Issue.record("expected \(code) \(enhanced), got \(command)")
        }
    }

    /// A host name that is not UTF-8 is refused, not echoed with replacement characters.
    @Test func aHostNameThatIsNotUTF8IsRefused() {
        let result = Result { () throws(SMTPCommandError) -> SMTPCommand in
            try SMTPCommand.parse(Array("HELO ".utf8) + [0xFF, 0xFE])
        }
        guard case .failure(let error) = result else {
            Issue.record("expected 501, got \(result)")
            return
        }
        #expect(error.reply.code == 501)
    }

    @Test func replyWireFormat() {
        let reply = SMTPReply(250, nil, ["first", "second", "last"])
        #expect(reply.description == "250-first\\r\\n250-second\\r\\n250 last\\r\\n")
        let coded = SMTPReply(550, EnhancedStatusCode(5, 7, 1), "no")
        #expect(coded.description == "550 5.7.1 no\\r\\n")
    }

    @Test func unquotedLocalPart() {
        #expect(mailbox("\"john\\\"doe\"", "x.example", quoted: true).unquotedLocalPart == "john\"doe")
        #expect(mailbox("plain", "x.example").unquotedLocalPart == "plain")
    }
}
