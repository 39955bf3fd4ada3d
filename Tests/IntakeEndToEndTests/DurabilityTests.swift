import Foundation
import Testing

/// 250 means kept: a message acknowledged survives SIGKILL right after the reply; a message cut off
/// is never kept, partly or whole.
@Suite struct DurabilityTests {
    /// Sends one message with a unique marker and returns the id from the 250 reply.
    private func send(_ client: RawSMTPClient, marker: String) throws -> String {
        try client.startMessage()
        try client.send("Subject: \(marker)\r\nMessage-ID: <\(marker)@example.org>\r\n\r\nbody of \(marker)\r\nend-of-\(marker)\r\n.\r\n")
        let reply = try client.readReply()
        guard reply.summary == "250 2.0.0" else { throw RawClientError.malformed(reply.description) }
        return String(reply.lines[0].split(separator: " ")[1])
    }

    @Test func acknowledgedMessagesSurviveSIGKILL() async throws {
        let dataDirectory = Daemon.temporaryDirectory()
        var acknowledged: [String: String] = [:]
        for round in 0..<3 {
            let daemon = try await Daemon(dataDirectory: dataDirectory)
            // A second session is mid-DATA when the daemon dies: it must leave nothing behind.
            let cut = try RawSMTPClient.greeted(port: daemon.port, helo: "cut.test")
            try cut.startMessage()
            try cut.send("Subject: never complete\r\n\r\n" + String(repeating: "partial line\r\n", count: 5000))

            let client = try RawSMTPClient.greeted(port: daemon.port, helo: "durable.test")
            for index in 0..<(10 + round * 7) {
                let marker = "r\(round)m\(index)"
                acknowledged[try send(client, marker: marker)] = marker
            }
            await daemon.stop(signal: SIGKILL)
        }
        // Start again on the same folder: every acknowledged message is there, whole, and nothing else.
        let daemon = try await Daemon(dataDirectory: dataDirectory)
        let stored = daemon.spooledMessages()
        #expect(stored.count == acknowledged.count)
        for (id, marker) in acknowledged {
            let text = String(decoding: stored["\(id).eml"] ?? Data(), as: UTF8.self)
            #expect(text.hasSuffix("body of \(marker)\r\nend-of-\(marker)\r\n"), "message \(id) (\(marker)) missing or partial")
        }
        #expect(!stored.values.contains { String(decoding: $0, as: UTF8.self).contains("never complete") })
        #expect(daemon.temporaryFiles().isEmpty)
        await daemon.stop()
    }

    @Test func gracefulShutdownLetsTheMessageInDataFinish() async throws {
        let daemon = try await Daemon()
        let idle = try RawSMTPClient.greeted(port: daemon.port, helo: "idle.test")
        let busy = try RawSMTPClient.greeted(port: daemon.port, helo: "busy.test")
        try busy.startMessage()
        try busy.send("Subject: in flight\r\n\r\nfirst half\r\n")
        kill(daemon.pid, SIGTERM)
        #expect(try idle.readReply().summary == "421 4.3.2")
        #expect(idle.isClosedByServer())
        try await Task.sleep(for: .milliseconds(200))
        #expect(throws: RawClientError.self) { _ = try RawSMTPClient(port: daemon.port) }
        try busy.send("second half\r\n.\r\n")
        #expect(try busy.readReplies(2).map(\.summary) == ["250 2.0.0", "421 4.3.2"])
        #expect(busy.isClosedByServer())
        #expect(await daemon.stop() == 0)
        #expect(daemon.spooledMessages().count == 1)
        #expect(daemon.logText.contains("msg=\"SMTP stopped\""))
    }

    /// A message whose commit still waits at the end of the grace period (here another program
    /// holds the database's write lock) gets `421 4.3.2`, not a silent close; once the lock is
    /// free the queue commits it all the same (the sender's retry would be a duplicate).
    @Test func aMessageStillWaitingForTheStoreAtTheEndOfTheGraceGets421() async throws {
        let crm = try await CRMFixture.start(settings: ["shutdown.grace_seconds": "1"])
        let holder = try SQLiteLockHolder(crm.daemon.dataDirectory + "/intake.sqlite")
        defer { holder.release() }
        // The commit waits ten seconds for the lock: the steps are timed on a thread of their own.
        let (port, pid, dropbox) = (crm.daemon.port, crm.daemon.pid, crm.dropbox(FilingTests.bob))
        let (reply, closed) = try await onThreadOfItsOwn {
            let client = try RawSMTPClient.greeted(port: port)
            try client.startMessage(from: FilingTests.bob, to: dropbox)
            try client.send(mail(to: "jane@fenwick-logistics.example", subject: "Held up") + "\r\n.\r\n")
            usleep(300_000)
            kill(pid, SIGTERM)
            return (try client.readReply(), client.isClosedByServer())
        }
        #expect(reply.summary == "421 4.3.2", "\(reply)")
        #expect(reply.lines.last?.contains("before the message was stored") == true, "\(reply)")
        #expect(closed)
        holder.release()
        #expect(await crm.daemon.stop() == 0)
        // Filed once the lock was free, before the daemon ended.
        #expect(try await crm.log().map(\.outcome) == ["filed"])
    }

    @Test func shutdownGracePeriodEndsStalledSessions() async throws {
        let daemon = try await Daemon(settings: ["shutdown.grace_seconds": "1"])
        let stalled = try RawSMTPClient.greeted(port: daemon.port, helo: "stalled.test")
        try stalled.startMessage()
        try stalled.send("Subject: stalled\r\n\r\nnever finished\r\n")
        let started = ContinuousClock.now
        #expect(await daemon.stop() == 0)
        // A bound against a hang, not a timing, by the time the process ended (the test's own
        // clock also counts the waits other tests cause it).
        #expect((daemon.exitedAt ?? .now) - started < .seconds(10), "\(daemon.logText)")
        // Told that its message was not kept, then closed.
        let reply = try stalled.readReply()
        #expect(reply.summary == "421 4.3.2")
        #expect(reply.lines.last?.contains("not kept") == true, "\(reply)")
        #expect(stalled.isClosedByServer())
        #expect(daemon.spooledMessages().isEmpty)
    }
}
