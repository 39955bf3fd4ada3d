import NIOCore
import SMTPCore
import Testing

/// A scripted session: the steps the client takes, and every reply it gets, as "code enhanced".
struct SessionFixture: CustomTestStringConvertible, Sendable {
    enum Step: Sendable {
        case line(String)
        case data(MessageDataSummary)
        /// The data ends, and its delivery is still under way at the next step.
        case dataStillDelivering(MessageDataSummary)
        case delivery(DeliveryResult)
        case idle
        case shutdown
        case shutdownGraceElapsed
        case tooLong
        case bareLineEnding
    }

    let name: String
    var tls = false
    var limits = SMTPLimits()
    let steps: [Step]
    let replies: [String]
    var closes = false

    var testDescription: String { name }
}

/// Runs a fixture through the state machine, answering its questions as a dropbox server would:
/// recipients `@dropbox.example` are accepted except `unknown@`; `store-down@` gets 451.
struct SessionDriver {
    var machine: SMTPServerStateMachine
    var replies: [String] = []
    var closed = false
    var pendingDelivery = false

    init(tls: Bool, limits: SMTPLimits) {
        machine = SMTPServerStateMachine(configuration: .init(hostname: "mx.test", limits: limits, startTLSAvailable: tls))
        perform(machine.sessionOpened())
    }

    mutating func run(_ step: SessionFixture.Step) {
        guard !closed else {
            replies.append("(closed)")
            return
        }
        switch step {
        case .line(let text):
            perform(machine.receivedLine(.line(ByteBuffer(string: text))))
        case .tooLong:
            perform(machine.receivedLine(.tooLong))
        case .bareLineEnding:
            perform(machine.receivedLine(.bareLineEnding))
        case .dataStillDelivering(let summary):
            perform(machine.dataReceived(summary))
        case .data(let summary):
            perform(machine.dataReceived(summary))
            if pendingDelivery {
                pendingDelivery = false
                perform(machine.deliveryFinished(.accepted(id: "m1", text: "kept")))
            }
        case .delivery(let result):
            // Used right after a .data step whose delivery is answered explicitly.
            perform(machine.deliveryFinished(result))
        case .idle:
            if let action = machine.idleTimeoutElapsed() { perform(action) }
        case .shutdown:
            if let action = machine.shutdownRequested() { perform(action) }
        case .shutdownGraceElapsed:
            if let action = machine.shutdownGraceElapsed() { perform(action) }
        }
    }

    mutating func perform(_ action: SMTPServerStateMachine.Action) {
        switch action {
        case .reply(let reply):
            record(reply)
        case .replyAndClose(let replies):
            replies.forEach { record($0) }
            closed = true
        case .checkRecipient(let path, _):
            let decision: RecipientDecision
            switch path {
            case .postmaster:
                decision = .accept
            case .mailbox(let mailbox) where mailbox.domain.lowercased() != "dropbox.example":
                decision = .reject(SMTPReply(550, EnhancedStatusCode(5, 7, 1), "relay access denied"))
            case .mailbox(let mailbox) where mailbox.localPart == "unknown":
                decision = .reject(SMTPReply(550, EnhancedStatusCode(5, 1, 1), "no such dropbox"))
            case .mailbox(let mailbox) where mailbox.localPart == "store-down":
                decision = .reject(SMTPReply(451, EnhancedStatusCode(4, 3, 0), "store unavailable"))
            case .mailbox:
                decision = .accept
            }
            perform(machine.recipientChecked(decision))
        case .receiveData(let reply):
            record(reply)
        case .deliver:
            pendingDelivery = true
        case .startTLS(let reply):
            record(reply)
            machine.tlsEstablished()
        }
    }

    mutating func record(_ reply: SMTPReply) {
        replies.append(reply.enhancedCode.map { "\(reply.code) \($0)" } ?? "\(reply.code)")
    }
}

private let ok = MessageDataSummary(size: 100, receivedHeaderCount: 1)

@Suite struct StateMachineTests {
    static let hello: [SessionFixture.Step] = [.line("EHLO client.test")]
    static let transaction: [SessionFixture.Step] = hello + [.line("MAIL FROM:<a@b.test>"), .line("RCPT TO:<tok@dropbox.example>")]

    static let fixtures: [SessionFixture] = [
        // Session
        .init(name: "greeting", steps: [], replies: ["220"]),
        .init(name: "EHLO", steps: hello, replies: ["220", "250"]),
        .init(name: "HELO", steps: [.line("HELO client.test")], replies: ["220", "250"]),
        .init(name: "EHLO without argument", steps: [.line("EHLO")], replies: ["220", "501 5.5.4"]),
        .init(
            name: "second EHLO resets the transaction",
            steps: hello + [.line("MAIL FROM:<a@b.test>"), .line("EHLO again.test"), .line("RCPT TO:<tok@dropbox.example>")],
            replies: ["220", "250", "250 2.1.0", "250", "503 5.5.1"]
        ),
        .init(
            name: "RSET keeps EHLO",
            steps: hello + [.line("MAIL FROM:<a@b.test>"), .line("RSET"), .line("MAIL FROM:<a@b.test>")],
            replies: ["220", "250", "250 2.1.0", "250 2.0.0", "250 2.1.0"]
        ),
        .init(name: "NOOP", steps: [.line("NOOP")], replies: ["220", "250 2.0.0"]),
        .init(name: "HELP", steps: [.line("HELP")], replies: ["220", "214 2.0.0"]),
        .init(name: "QUIT", steps: [.line("QUIT"), .line("NOOP")], replies: ["220", "221 2.0.0", "(closed)"], closes: true),
        .init(name: "VRFY", steps: [.line("VRFY alice")], replies: ["220", "252 2.5.0"]),
        .init(name: "EXPN", steps: [.line("EXPN staff")], replies: ["220", "502 5.5.1"]),
        .init(name: "unknown verb", steps: [.line("FROB")], replies: ["220", "500 5.5.2"]),
        .init(name: "HTTP request", steps: [.line("GET / HTTP/1.1")], replies: ["220", "421 4.7.0"], closes: true),
        .init(name: "command line too long", steps: [.tooLong, .line("NOOP")], replies: ["220", "500 5.5.2", "250 2.0.0"]),
        .init(name: "bare LF in a command", steps: [.bareLineEnding], replies: ["220", "500 5.5.2"]),
        // Transaction
        .init(name: "MAIL before EHLO", steps: [.line("MAIL FROM:<a@b.test>")], replies: ["220", "503 5.5.1"]),
        .init(
            name: "nested MAIL",
            steps: hello + [.line("MAIL FROM:<a@b.test>"), .line("MAIL FROM:<a@b.test>")],
            replies: ["220", "250", "250 2.1.0", "503 5.5.1"]
        ),
        .init(name: "null reverse path", steps: hello + [.line("MAIL FROM:<>")], replies: ["220", "250", "250 2.1.0"]),
        .init(name: "bad MAIL syntax", steps: hello + [.line("MAIL FROM:a@b.test")], replies: ["220", "250", "501 5.5.4"]),
        .init(name: "bad sender address", steps: hello + [.line("MAIL FROM:<a@@b.test>")], replies: ["220", "250", "501 5.1.7"]),
        .init(
            name: "SIZE over the limit",
            steps: hello + [.line("MAIL FROM:<a@b.test> SIZE=26214401")],
            replies: ["220", "250", "552 5.3.4"]
        ),
        .init(
            name: "SIZE at the limit",
            steps: hello + [.line("MAIL FROM:<a@b.test> SIZE=26214400")],
            replies: ["220", "250", "250 2.1.0"]
        ),
        .init(name: "SIZE=abc", steps: hello + [.line("MAIL FROM:<a@b.test> SIZE=abc")], replies: ["220", "250", "501 5.5.4"]),
        .init(name: "unknown parameter", steps: hello + [.line("MAIL FROM:<a@b.test> XFOO=1")], replies: ["220", "250", "555 5.5.4"]),
        .init(
            name: "parameter after HELO is unadvertised",
            steps: [.line("HELO client.test"), .line("MAIL FROM:<a@b.test> SIZE=10")],
            replies: ["220", "250", "555 5.5.4"]
        ),
        .init(
            name: "non-ASCII sender without SMTPUTF8",
            steps: hello + [.line("MAIL FROM:<jöe@b.test>")],
            replies: ["220", "250", "553 5.6.7"]
        ),
        .init(
            name: "non-ASCII recipient without SMTPUTF8",
            steps: hello + [.line("MAIL FROM:<a@b.test>"), .line("RCPT TO:<tök@dropbox.example>")],
            replies: ["220", "250", "250 2.1.0", "553 5.6.7"]
        ),
        .init(
            name: "non-ASCII recipient with SMTPUTF8",
            steps: hello + [.line("MAIL FROM:<a@b.test> SMTPUTF8"), .line("RCPT TO:<tök@dropbox.example>")],
            replies: ["220", "250", "250 2.1.0", "250 2.1.5"]
        ),
        .init(name: "RCPT before MAIL", steps: hello + [.line("RCPT TO:<tok@dropbox.example>")], replies: ["220", "250", "503 5.5.1"]),
        .init(name: "live dropbox recipient", steps: transaction, replies: ["220", "250", "250 2.1.0", "250 2.1.5"]),
        .init(
            name: "postmaster",
            steps: hello + [.line("MAIL FROM:<a@b.test>"), .line("RCPT TO:<Postmaster>")],
            replies: ["220", "250", "250 2.1.0", "250 2.1.5"]
        ),
        .init(
            name: "unknown dropbox token",
            steps: hello + [.line("MAIL FROM:<a@b.test>"), .line("RCPT TO:<unknown@dropbox.example>")],
            replies: ["220", "250", "250 2.1.0", "550 5.1.1"]
        ),
        .init(
            name: "other domain: no relaying",
            steps: hello + [.line("MAIL FROM:<a@b.test>"), .line("RCPT TO:<x@elsewhere.test>")],
            replies: ["220", "250", "250 2.1.0", "550 5.7.1"]
        ),
        .init(
            name: "store unavailable at RCPT",
            steps: hello + [.line("MAIL FROM:<a@b.test>"), .line("RCPT TO:<store-down@dropbox.example>")],
            replies: ["220", "250", "250 2.1.0", "451 4.3.0"]
        ),
        .init(
            name: "recipient cap",
            limits: {
                var limits = SMTPLimits(); limits.maxRecipients = 2; return limits
            }(),
            steps: transaction + [.line("RCPT TO:<t2@dropbox.example>"), .line("RCPT TO:<t3@dropbox.example>"), .line("DATA")],
            replies: ["220", "250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "452 4.5.3", "354"]
        ),
        .init(
            name: "DATA without recipients",
            steps: hello + [.line("MAIL FROM:<a@b.test>"), .line("DATA")],
            replies: ["220", "250", "250 2.1.0", "554 5.5.1"]
        ),
        .init(name: "DATA before MAIL", steps: hello + [.line("DATA")], replies: ["220", "250", "554 5.5.1"]),
        .init(name: "DATA x", steps: transaction + [.line("DATA x")], replies: ["220", "250", "250 2.1.0", "250 2.1.5", "501 5.5.4"]),
        .init(
            name: "message accepted",
            steps: transaction + [.line("DATA"), .data(ok), .line("MAIL FROM:<a@b.test>")],
            replies: ["220", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "250 2.1.0"]
        ),
        .init(
            name: "message too large at end of data",
            steps: transaction + [.line("DATA"), .data(MessageDataSummary(size: 30_000_000, violation: .messageTooLarge))],
            replies: ["220", "250", "250 2.1.0", "250 2.1.5", "354", "552 5.3.4"]
        ),
        .init(
            name: "bare line ending in data",
            steps: transaction + [.line("DATA"), .data(MessageDataSummary(size: 10, violation: .bareLineEnding))],
            replies: ["220", "250", "250 2.1.0", "250 2.1.5", "354", "550 5.5.2"]
        ),
        .init(
            name: "data line too long",
            steps: transaction + [.line("DATA"), .data(MessageDataSummary(size: 5000, violation: .lineTooLong))],
            replies: ["220", "250", "250 2.1.0", "250 2.1.5", "354", "500 5.5.2"]
        ),
        .init(
            name: "mail loop",
            steps: transaction + [.line("DATA"), .data(MessageDataSummary(size: 5000, receivedHeaderCount: 51))],
            replies: ["220", "250", "250 2.1.0", "250 2.1.5", "354", "554 5.4.6"]
        ),
        .init(
            name: "50 Received fields are fine",
            steps: transaction + [.line("DATA"), .data(MessageDataSummary(size: 5000, receivedHeaderCount: 50))],
            replies: ["220", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0"]
        ),
        // Errors per session
        .init(
            name: "too many errors",
            steps: Array(repeating: .line("FROB"), count: 11) + [.line("NOOP")],
            replies: ["220"] + Array(repeating: "500 5.5.2", count: 11) + ["421 4.7.0", "(closed)"],
            closes: true
        ),
        // Timeouts and shutdown
        .init(name: "idle timeout", steps: hello + [.idle], replies: ["220", "250", "421 4.4.2"], closes: true),
        .init(
            name: "idle timeout mid-data",
            steps: transaction + [.line("DATA"), .idle],
            replies: ["220", "250", "250 2.1.0", "250 2.1.5", "354", "421 4.4.2"],
            closes: true
        ),
        .init(name: "shutdown while idle", steps: hello + [.shutdown], replies: ["220", "250", "421 4.3.2"], closes: true),
        .init(
            name: "shutdown during DATA lets the message finish",
            steps: transaction + [.line("DATA"), .shutdown, .data(ok)],
            replies: ["220", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "421 4.3.2"],
            closes: true
        ),
        .init(
            name: "shutdown grace over during DATA drops the message with 421",
            steps: transaction + [.line("DATA"), .shutdown, .shutdownGraceElapsed],
            replies: ["220", "250", "250 2.1.0", "250 2.1.5", "354", "421 4.3.2"],
            closes: true
        ),
        .init(
            name: "shutdown grace over while the message is stored gets 421",
            steps: transaction + [.line("DATA"), .shutdown, .dataStillDelivering(ok), .shutdownGraceElapsed],
            replies: ["220", "250", "250 2.1.0", "250 2.1.5", "354", "421 4.3.2"],
            closes: true
        ),
        // STARTTLS (RFC 3207)
        .init(name: "STARTTLS not configured", steps: hello + [.line("STARTTLS")], replies: ["220", "250", "502 5.5.1"]),
        .init(
            name: "STARTTLS restarts the session",
            tls: true,
            steps: hello + [.line("STARTTLS"), .line("MAIL FROM:<a@b.test>"), .line("EHLO client.test"), .line("MAIL FROM:<a@b.test>")],
            replies: ["220", "250", "220 2.0.0", "503 5.5.1", "250", "250 2.1.0"]
        ),
        .init(
            name: "STARTTLS twice",
            tls: true,
            steps: hello + [.line("STARTTLS"), .line("EHLO client.test"), .line("STARTTLS")],
            replies: ["220", "250", "220 2.0.0", "250", "503 5.5.1"]
        ),
        .init(name: "STARTTLS with an argument", tls: true, steps: hello + [.line("STARTTLS x")], replies: ["220", "250", "501 5.5.4"]),
        .init(
            name: "STARTTLS inside a transaction",
            tls: true,
            steps: hello + [.line("MAIL FROM:<a@b.test>"), .line("STARTTLS")],
            replies: ["220", "250", "250 2.1.0", "503 5.5.1"]
        ),
    ]

    @Test(arguments: fixtures)
    func session(_ fixture: SessionFixture) {
        var driver = SessionDriver(tls: fixture.tls, limits: fixture.limits)
        for step in fixture.steps { driver.run(step) }
        #expect(driver.replies == fixture.replies)
        #expect(driver.closed == fixture.closes)
    }

    @Test func ehloAdvertisesExactlyWhatIsImplemented() {
        let plain = SMTPServerStateMachine(configuration: .init(hostname: "mx.test"))
        var machine = plain
        guard case .reply(let reply) = machine.receivedCommand(.ehlo("c.test")) else {
            Issue.record("EHLO must be answered")
            return
        }
        #expect(Array(reply.lines.dropFirst()) == ["PIPELINING", "SIZE 26214400", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8"])

        var tls = SMTPServerStateMachine(configuration: .init(hostname: "mx.test", startTLSAvailable: true))
        guard case .reply(let before) = tls.receivedCommand(.ehlo("c.test")) else { return }
        #expect(before.lines.last == "STARTTLS")
        _ = tls.receivedCommand(.startTLS)
        tls.tlsEstablished()
        guard case .reply(let after) = tls.receivedCommand(.ehlo("c.test")) else { return }
        #expect(!after.lines.contains("STARTTLS"))
        // HELP no longer lists it either.
        guard case .reply(let help) = tls.receivedCommand(.help) else { return }
        #expect(help.lines.first?.hasSuffix("VRFY") == true)
    }

    @Test func deliveryFailuresAreRelayed() {
        var driver = SessionDriver(tls: false, limits: SMTPLimits())
        for step in StateMachineTests.transaction + [.line("DATA")] { driver.run(step) }
        driver.perform(driver.machine.dataReceived(ok))
        driver.pendingDelivery = false
        driver.perform(driver.machine.deliveryFinished(.rejected(SMTPReply(451, EnhancedStatusCode(4, 3, 0), "db down"))))
        #expect(driver.replies.last == "451 4.3.0")
        driver.run(.line("MAIL FROM:<a@b.test>"))
        #expect(driver.replies.last == "250 2.1.0")
    }
}
