import Foundation
import Testing

/// The daemon's SMTP behaviour over real TCP, byte by byte as the client sends it.
@Suite struct SessionTests {
    @Test func greetingEHLOAndQuit() async throws {
        let daemon = try await Daemon()
        let client = try RawSMTPClient(port: daemon.port)
        let greeting = try client.readReply()
        #expect(greeting.code == 220)
        #expect(greeting.lines == ["mx.intake.test ESMTP Intake"])
        let ehlo = try client.command("EHLO client.test")
        #expect(ehlo.code == 250)
        #expect(Array(ehlo.lines.dropFirst()) == ["PIPELINING", "SIZE 26214400", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8"])
        #expect(try client.command("VRFY someone").summary == "252 2.5.0")
        #expect(try client.command("EXPN list").summary == "502 5.5.1")
        #expect(try client.command("HELP").summary == "214 2.0.0")
        #expect(try client.command("quit").summary == "221 2.0.0")
        #expect(client.isClosedByServer())
        await daemon.stop()
    }

    /// The daemon as the systemd unit runs it, as a user of its own without privileges: its
    /// sessions are served (setting TCP_NODELAY at the wrong level asked for SO_DEBUG, which only
    /// root may set, and every connection was closed before its greeting).
    @Test(.enabled(if: getuid() == 0, "switching to an ordinary user needs root"))
    func aDaemonRunAsAnOrdinaryUserServesSessions() async throws {
        let daemon = try await Daemon(user: (uid: 65534, gid: 65534))
        let client = try RawSMTPClient(port: daemon.port)
        #expect(try client.readReply().code == 220)
        #expect(try client.command("EHLO client.test").code == 250)
        try client.startMessage()
        #expect(try client.command("Subject: as nobody\r\n\r\nhello\r\n.").summary == "250 2.0.0")
        #expect(daemon.spooledMessages().count == 1)
        await daemon.stop()
    }

    @Test func pipelinedGroupGetsEveryReplyInOrderAndQuitAfterTheDot() async throws {
        let daemon = try await Daemon()
        let client = try RawSMTPClient.greeted(port: daemon.port, helo: "client.test")
        try client.send(
            "MAIL FROM:<alice@example.org>\r\nRCPT TO:<tok1@dropbox.localhost>\r\nRCPT TO:<x@elsewhere.example>\r\n"
                + "RCPT TO:<TOK2@DROPBOX.LOCALHOST>\r\nDATA\r\n"
        )
        let group = try client.readReplies(5)
        #expect(group.map(\.summary) == ["250 2.1.0", "250 2.1.5", "550 5.7.1", "250 2.1.5", "354"])
        try client.send("Subject: pipelined\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n")
        let end = try client.readReplies(2)
        #expect(end.map(\.summary) == ["250 2.0.0", "221 2.0.0"])
        #expect(client.isClosedByServer())
        let messages = daemon.spooledMessages()
        #expect(messages.count == 1)
        let text = String(decoding: messages.values.first ?? Data(), as: UTF8.self)
        #expect(text.hasPrefix("Received: from client.test ([127.0.0.1])\r\n\tby mx.intake.test (Intake) with ESMTP id "))
        #expect(text.hasSuffix("Subject: pipelined\r\n\r\n.leading dot\r\n"))
        let id = end[0].lines[0].split(separator: " ")[1]
        #expect(messages.keys.first == "\(id).eml")
        await daemon.stop()
    }

    /// A client that sends a whole session at once and shuts down its sending side still gets
    /// every reply, the 250 after the message is stored, then the 221; the server closes. One that
    /// half-closes inside DATA has nothing stored, and the server closes then, not at the idle
    /// timeout.
    @Test func aHalfClosedClientGetsEveryReplyItIsOwed() async throws {
        let daemon = try await Daemon()
        let client = try RawSMTPClient(port: daemon.port)
        try client.send(
            "EHLO client.test\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<tok1@dropbox.localhost>\r\nDATA\r\n"
                + "Subject: half-closed\r\n\r\nAll at once.\r\n.\r\nQUIT\r\n")
        client.shutdownSending()
        let replies = try client.readReplies(7)
        #expect(replies.map(\.summary) == ["220", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"])
        #expect(client.isClosedByServer())
        #expect(daemon.spooledMessages().count == 1)

        let unfinished = try RawSMTPClient.greeted(port: daemon.port)
        try unfinished.startMessage(from: "alice@example.org", to: "tok1@dropbox.localhost")
        try unfinished.send("Subject: cut short\r\n\r\nNo end of data")
        unfinished.shutdownSending()
        // Closed within the client's 10-second receive timeout, not at the 5-minute idle timeout.
        #expect(unfinished.isClosedByServer())
        #expect(daemon.spooledMessages().count == 1)
        await daemon.stop()
    }

    /// A client that pipelines a flood of commands, shuts down its sending side and never reads
    /// its replies: the server stops reading while its replies cannot be written, the session
    /// times out as idle, and closes at the last-write deadline (10 s) with its 421 unsent, not
    /// never.
    @Test func aClientThatNeverReadsItsLastRepliesIsClosed() async throws {
        let daemon = try await Daemon(settings: ["metrics.port": "0", "smtp.idle_timeout_seconds": "2"])
        let port = try #require(ObservabilityTests.httpPort(daemon))
        let client = try RawSMTPClient(port: daemon.port, receiveBuffer: 4096)
        // About 6 MB of replies: more than the server's send buffer and this client's 4 KiB hold.
        try client.send("EHLO flood.test\r\n" + String(repeating: "NOOP\r\n", count: 400_000))
        client.shutdownSending()
        var active = -1.0
        for _ in 0..<60 where active != 0 {
            try await Task.sleep(for: .seconds(1))
            active = ObservabilityTests.value(try ObservabilityTests.get(port, "/metrics").1, "smtp_sessions_active")
        }
        #expect(active == 0)
        await daemon.stop()
    }

    /// A client that sends a line a byte at a time restarts the idle timer at every byte; a line
    /// not whole within the idle timeout ends the session all the same (slowloris), in a command
    /// and in the message data.
    @Test func aLineTrickledAByteAtATimeTimesOut() async throws {
        let daemon = try await Daemon(settings: ["smtp.idle_timeout_seconds": "2"])
        for inData in [false, true] {
            let client = try RawSMTPClient.greeted(port: daemon.port)
            if inData {
                #expect(try client.command("MAIL FROM:<a@example.org>").code == 250)
                #expect(try client.command("RCPT TO:<postmaster>").code == 250)
                #expect(try client.command("DATA").code == 354)
            }
            // A byte every 250 ms for 10 s (never 2 s without a read), until the server closes the
            // connection: about 2 s after the last whole line, so a send fails long before the
            // last byte. (The idle timer alone would close it only 2 s after that byte.)
            var sent = 0
            for byte in Array(String(repeating: "x", count: 40).utf8) {
                guard (try? client.send([byte])) != nil else { break }
                sent += 1
                try await Task.sleep(for: .milliseconds(250))
            }
            #expect(sent < 40, "in data: \(inData)")
            #expect(try client.readReply().summary == "421 4.4.2", "in data: \(inData)")
            #expect(client.isClosedByServer())
        }
        await daemon.stop()
    }

    /// Under load (80 % of the sessions an address may hold) the idle timeout is the short one:
    /// silent sessions are closed in seconds, not minutes, until the load is under 80 % again.
    /// One session alone keeps the long timeout.
    @Test func underLoadTheIdleTimeoutIsShort() async throws {
        let daemon = try await Daemon(settings: [
            "smtp.idle_timeout_seconds": "60", "smtp.idle_timeout_under_load_seconds": "1", "smtp.max_connections_per_ip": "5",
        ])
        let port = daemon.port
        let alone = try await onThreadOfItsOwn { () -> Bool in
            let client = try RawSMTPClient.greeted(port: port)
            Thread.sleep(forTimeInterval: 2.5)
            return try client.command("QUIT").code == 221 && client.isClosedByServer()
        }
        #expect(alone)
        // Its session released on the server's side too before five more come.
        try await Task.sleep(for: .milliseconds(500))
        // Five sessions, the most one address may hold: at least two are closed (five and four
        // are 80 % or more), within seconds; the others wait for the long timeout.
        let replies = try await onThreadOfItsOwn { () -> [String] in
            let clients = try (0..<5).map { _ in
                let client = try RawSMTPClient(port: port, timeoutSeconds: 3)
                _ = try client.readReply()
                _ = try client.command("EHLO client.test")
                return client
            }
            return clients.map { (try? $0.readReply().summary) ?? "none" }
        }
        #expect(replies.count(where: { $0 == "421 4.4.2" }) >= 2, "\(replies)")
        #expect(replies.count(where: { $0 == "421 4.4.2" }) < 5, "\(replies)")
        await daemon.stop()
    }

    /// Under load the client's time runs from the server's last reply: a 250 that took the
    /// server longer than the short timeout is not followed at once by a 421.
    @Test func underLoadTheTimeoutRunsFromTheServersReply() async throws {
        let daemon = try await Daemon(settings: [
            "smtp.idle_timeout_seconds": "60", "smtp.idle_timeout_under_load_seconds": "2", "smtp.max_connections_per_ip": "2",
        ])
        let port = daemon.port
        let replies = try await onThreadOfItsOwn { () -> [Int] in
            let other = try RawSMTPClient.greeted(port: port)  // two of two: under load
            let client = try RawSMTPClient.greeted(port: port)
            _ = other
            // A recipient check that answers at once; then 1.5 s of thought, twice: each within
            // the 2 s counted from the last reply.
            var codes: [Int] = []
            for command in ["MAIL FROM:<a@example.org>", "RCPT TO:<postmaster>", "RSET"] {
                codes.append(try client.command(command).code)
                Thread.sleep(forTimeInterval: 1.5)
            }
            return codes
        }
        #expect(replies == [250, 250, 250])
        await daemon.stop()
    }

    /// A message already refused (too large) is read to its end however long that takes, as long
    /// as lines keep coming: the client gets its 552, not a 421 that it would retry.
    @Test func aRefusedMessageSentSlowlyStillGetsItsRefusal() async throws {
        let daemon = try await Daemon(settings: ["smtp.idle_timeout_seconds": "3", "smtp.max_message_size": "2000"])
        let port = daemon.port
        // On a thread of its own, so that the gaps between lines stay short however busy Swift's
        // cooperative threads are with other tests.
        let reply = try await onThreadOfItsOwn {
            let client = try RawSMTPClient.greeted(port: port)
            _ = try client.command("MAIL FROM:<a@example.org>")
            _ = try client.command("RCPT TO:<postmaster>")
            _ = try client.command("DATA")
            try client.send("Subject: big\r\n\r\n" + String(repeating: String(repeating: "y", count: 98) + "\r\n", count: 30))
            // Past the limit: each line is dropped; one every 400 ms for 4.8 s.
            for _ in 0..<12 {
                try client.send(String(repeating: "z", count: 98) + "\r\n")
                Thread.sleep(forTimeInterval: 0.4)
            }
            return try client.command(".").summary
        }
        #expect(reply == "552 5.3.4")
        await daemon.stop()
    }

    @Test func noRelayingAndNoRoutingTricks() async throws {
        let daemon = try await Daemon()
        let client = try RawSMTPClient.greeted(port: daemon.port, helo: "client.test")
        #expect(try client.command("MAIL FROM:<a@example.org>").summary == "250 2.1.0")
        for recipient in [
            "<victim@example.com>", "<tok@[127.0.0.1]>", "<victim%example.com@dropbox.localhost>",
            "<example.com!victim@dropbox.localhost>", "<\"victim@example.com\"@dropbox.localhost>",
            "<@dropbox.localhost:victim@example.com>",
        ] {
            #expect(try client.command("RCPT TO:\(recipient)").summary == "550 5.7.1", "\(recipient)")
        }
        #expect(try client.command("RCPT TO:<postmaster>").summary == "250 2.1.5")
        #expect(try client.command("RCPT TO:<@relay.example:tok@dropbox.localhost>").summary == "250 2.1.5")
        await daemon.stop()
    }

    @Test func transactionErrorsOverTheWire() async throws {
        let daemon = try await Daemon(settings: ["smtp.max_errors": "50"])
        let client = try RawSMTPClient(port: daemon.port)
        _ = try client.readReply()
        #expect(try client.command("MAIL FROM:<a@example.org>").summary == "503 5.5.1")
        #expect(try client.command("EHLO").summary == "501 5.5.4")
        #expect(try client.command("EHLO client.test").code == 250)
        #expect(try client.command("RCPT TO:<tok@dropbox.localhost>").summary == "503 5.5.1")
        // No accepted recipient, with or without MAIL: the same answer (spec; RFC 5321 §3.3).
        #expect(try client.command("DATA").summary == "554 5.5.1")
        #expect(try client.command("MAIL FROM:<a@example.org> SIZE=abc").summary == "501 5.5.4")
        #expect(try client.command("MAIL FROM:<a@example.org> BODY=BINARYMIME").summary == "555 5.5.4")
        #expect(try client.command("MAIL FROM:<a@example.org> BODY=9BIT").summary == "501 5.5.4")
        // A forwarder's SRS return path: a sender's local part may pass 64 octets; a recipient's not.
        let srs = "SRS0=" + String(repeating: "x", count: 70) + "=example.org=a"
        #expect(try client.command("MAIL FROM:<\(srs)@forwarder.example>").summary == "250 2.1.0")
        #expect(try client.command("RCPT TO:<\(String(repeating: "t", count: 65))@dropbox.localhost>").summary == "501 5.1.3")
        #expect(try client.command("RSET").summary == "250 2.0.0")
        #expect(try client.command("MAIL FROM:<a@example.org> FOO=BAR").summary == "555 5.5.4")
        #expect(try client.command("MAIL FROM:<jöe@example.org>").summary == "553 5.6.7")
        #expect(try client.command("MAIL FROM:<a@@example.org>").summary == "501 5.1.7")
        #expect(try client.command("MAIL FROM:<>").summary == "250 2.1.0")
        #expect(try client.command("MAIL FROM:<a@example.org>").summary == "503 5.5.1")
        #expect(try client.command("DATA").summary == "554 5.5.1")
        #expect(try client.command("RSET").summary == "250 2.0.0")
        #expect(try client.command("STARTTLS").summary == "502 5.5.1")
        #expect(try client.command("FROB").summary == "500 5.5.2")
        await daemon.stop()
    }

    @Test func tooManyErrorsClosesTheSession() async throws {
        let daemon = try await Daemon()
        let client = try RawSMTPClient(port: daemon.port)
        _ = try client.readReply()
        try client.send(String(repeating: "FROB\r\n", count: 11))
        let replies = try client.readReplies(12)
        #expect(replies.prefix(11).allSatisfy { $0.summary == "500 5.5.2" })
        #expect(replies.last?.summary == "421 4.7.0")
        #expect(client.isClosedByServer())
        await daemon.stop()
        #expect(daemon.logText.contains("msg=\"too many errors; closing\""))
    }

    @Test func recipientCapPerTransaction() async throws {
        let daemon = try await Daemon(settings: ["smtp.max_recipients": "3"])
        let client = try RawSMTPClient.greeted(port: daemon.port, helo: "client.test")
        _ = try client.command("MAIL FROM:<a@example.org>")
        try client.send((1...5).map { "RCPT TO:<t\($0)@dropbox.localhost>\r\n" }.joined())
        #expect(try client.readReplies(5).map(\.summary) == ["250 2.1.5", "250 2.1.5", "250 2.1.5", "452 4.5.3", "452 4.5.3"])
        await daemon.stop()
    }
}
