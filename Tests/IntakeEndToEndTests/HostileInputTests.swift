import Foundation
import Testing

/// Input meant to hurt: the daemon answers with the right code, stays up, keeps memory bounded and
/// keeps nothing it should not.
@Suite struct HostileInputTests {
    @Test func megabyteLineWithoutCRLF() async throws {
        let daemon = try await Daemon()
        let client = try RawSMTPClient(port: daemon.port)
        _ = try client.readReply()
        let rssBefore = residentKilobytes(daemon.pid)
        let chunk = [UInt8](repeating: UInt8(ascii: "A"), count: 64 * 1024)
        for _ in 0..<16 { try client.send(chunk) }
        try client.send("\r\n")
        #expect(try client.readReply().summary == "500 5.5.2")
        #expect(try client.command("NOOP").summary == "250 2.0.0")
        let rssAfter = residentKilobytes(daemon.pid)
        #expect(rssAfter - rssBefore < 8 * 1024, "RSS grew from \(rssBefore) kB to \(rssAfter) kB")
        await daemon.stop()
    }

    @Test func tenThousandPipelinedNOOPs() async throws {
        let daemon = try await Daemon(settings: ["smtp.max_errors": "10"])
        let client = try RawSMTPClient(port: daemon.port)
        _ = try client.readReply()
        try client.send(String(repeating: "NOOP\r\n", count: 10_000))
        let replies = try client.readReplies(10_000)
        #expect(replies.allSatisfy { $0.summary == "250 2.0.0" })
        #expect(try client.command("QUIT").summary == "221 2.0.0")
        await daemon.stop()
    }

    /// Recipients the daemon answers at once (postmaster needs no lookup) are handled in the loop
    /// that reads the commands: ten thousand of them pipelined in one go neither nest nor stall.
    @Test func tenThousandPipelinedRecipientsAnsweredAtOnce() async throws {
        let daemon = try await Daemon(settings: ["delivery": "filing"])
        let client = try RawSMTPClient(port: daemon.port)
        _ = try client.readReply()
        _ = try client.command("EHLO client.example")
        let block = "MAIL FROM:<a@example.org>\r\n" + String(repeating: "RCPT TO:<postmaster>\r\n", count: 99) + "RSET\r\n"
        try client.send(String(repeating: block, count: 100))
        let replies = try client.readReplies(100 * 101)
        #expect(replies.filter { $0.summary == "250 2.1.5" }.count == 9_900)
        #expect(replies.allSatisfy { $0.code == 250 })
        #expect(try client.command("QUIT").summary == "221 2.0.0")
        await daemon.stop()
    }

    /// Out of file descriptors, the listener pauses accepting instead of trying again at once,
    /// for ever, at full CPU; it says so in the log, and serves sessions again once there are
    /// descriptors to spare.
    @Test func runningOutOfFileDescriptorsPausesAccepting() async throws {
        let daemon = try await Daemon(settings: ["smtp.max_connections_per_ip": "5000"], openFiles: 64)
        #expect(daemon.logText.contains("the open-file limit is low for smtp.max_connections"))
        var held: [RawSMTPClient] = []
        for _ in 0..<100 { held.append(try RawSMTPClient(port: daemon.port)) }
        try await Task.sleep(for: .milliseconds(500))
        let before = cpuTicks(daemon.pid)
        try await Task.sleep(for: .seconds(1))
        // A bound against a busy loop, not a timing: accept tried again at once took a whole core.
        #expect(cpuTicks(daemon.pid) - before < 50)
        #expect(daemon.logText.contains("cannot accept connections; trying again in a second"))
        held.removeAll()
        try await Task.sleep(for: .milliseconds(1500))
        let client = try RawSMTPClient(port: daemon.port)
        #expect(try client.readReply().code == 220)
        await daemon.stop()
    }

    @Test func httpRequestIsTurnedAway() async throws {
        let daemon = try await Daemon()
        let client = try RawSMTPClient(port: daemon.port)
        _ = try client.readReply()
        try client.send("GET / HTTP/1.1\r\nHost: mx.intake.test\r\n\r\n")
        #expect(try client.readReply().summary == "421 4.7.0")
        #expect(client.isClosedByServer())
        await daemon.stop()
    }

    @Test func messageOneByteOverTheSizeLimit() async throws {
        let daemon = try await Daemon(settings: ["smtp.max_message_size": "2048"])
        let client = try RawSMTPClient.greeted(port: daemon.port, helo: "client.test")
        #expect(try client.command("MAIL FROM:<a@example.org> SIZE=2049").summary == "552 5.3.4")
        #expect(try client.command("MAIL FROM:<a@example.org> SIZE=2048").summary == "250 2.1.0")
        #expect(try client.command("RCPT TO:<tok@dropbox.localhost>").summary == "250 2.1.5")
        #expect(try client.command("DATA").code == 354)
        // 2049 octets of content: 20 lines of 100 octets + one of 49.
        let body = String(repeating: String(repeating: "x", count: 98) + "\r\n", count: 20) + String(repeating: "y", count: 47) + "\r\n"
        #expect(body.utf8.count == 2049)
        try client.send(body + ".\r\n")
        #expect(try client.readReply().summary == "552 5.3.4")
        // At the limit exactly it is kept.
        try client.startMessage()
        try client.send(String(body.dropLast(3)) + "\r\n.\r\n")
        #expect(try client.readReply().summary == "250 2.0.0")
        #expect(daemon.spooledMessages().count == 1)
        await daemon.stop()
    }

    @Test func bareLineEndingsAndLongLinesAreRefusedAfterTheRealEnd() async throws {
        let daemon = try await Daemon()
        let client = try RawSMTPClient.greeted(port: daemon.port, helo: "client.test")
        for (content, expected) in [
            ("Subject: a\r\n\r\nsmuggle\n.\nMAIL FROM:<evil@x.example>\r\n", "550 5.5.2"),
            ("Subject: a\r\n\r\nsmuggle\r.\rMAIL FROM:<evil@x.example>\r\n", "550 5.5.2"),
            ("Subject: a\r\n\r\n" + String(repeating: "z", count: 1200) + "\r\n", "500 5.5.2"),
            (String(repeating: "Received: from hop\r\n", count: 51) + "\r\nloop\r\n", "554 5.4.6"),
        ] {
            try client.startMessage()
            try client.send(content + ".\r\n")
            #expect(try client.readReply().summary == expected)
        }
        #expect(try client.command("NOOP").summary == "250 2.0.0")
        #expect(daemon.spooledMessages().isEmpty)
        await daemon.stop()
        // Each refusal has its summary line, as a delivery's would.
        let refused = daemon.logText.split(separator: "\n").filter { $0.contains("msg=\"message refused before delivery\"") }
        #expect(refused.map { $0.contains("smtp.reply.enhanced=") } == [true, true, true, true], "\(daemon.logText)")
        #expect(refused.last?.contains("smtp.reply=554") == true)
    }

    @Test func idleConnectionIsClosed() async throws {
        let daemon = try await Daemon(settings: ["smtp.idle_timeout_seconds": "1"])
        let client = try RawSMTPClient.greeted(port: daemon.port, helo: "client.test")
        let started = ContinuousClock.now
        #expect(try client.readReply().summary == "421 4.4.2")
        #expect(ContinuousClock.now - started >= .milliseconds(900))
        #expect(client.isClosedByServer())
        await daemon.stop()
    }

    @Test func droppedMidDataKeepsNothing() async throws {
        let daemon = try await Daemon(settings: ["smtp.memory_threshold": "4096"])
        let client = try RawSMTPClient.greeted(port: daemon.port, helo: "client.test")
        try client.startMessage()
        // Enough to spill to a temporary file, then the connection drops.
        try client.send(String(repeating: String(repeating: "d", count: 78) + "\r\n", count: 200))
        try await Task.sleep(for: .milliseconds(200))
        client.abort()
        try await Task.sleep(for: .milliseconds(300))
        #expect(daemon.spooledMessages().isEmpty)
        #expect(daemon.temporaryFiles().isEmpty)
        // The daemon is still serving.
        let next = try RawSMTPClient(port: daemon.port)
        #expect(try next.readReply().code == 220)
        await daemon.stop()
    }

    @Test func connectionCapPerAddress() async throws {
        let daemon = try await Daemon(settings: ["smtp.max_connections_per_ip": "3", "metrics.port": "0"])
        let clients = try (0..<3).map { _ in try RawSMTPClient(port: daemon.port) }
        for client in clients { #expect(try client.readReply().code == 220) }
        let refused = try RawSMTPClient(port: daemon.port)
        #expect(try refused.readReply().summary == "421 4.7.0")
        #expect(refused.isClosedByServer())
        // Counted as a refused connection and as a 421 sent.
        let metrics = try ObservabilityTests.get(try #require(ObservabilityTests.httpPort(daemon)), "/metrics").1
        #expect(ObservabilityTests.value(metrics, "smtp_connections_refused_total") == 1)
        #expect(ObservabilityTests.value(metrics, "smtp_replies_total{code=\"421\"}") == 1)
        _ = try clients[0].command("QUIT")
        #expect(clients[0].isClosedByServer())
        try await Task.sleep(for: .milliseconds(100))
        let admitted = try RawSMTPClient(port: daemon.port)
        #expect(try admitted.readReply().code == 220)
        await daemon.stop()
    }

    /// The cap on sessions in total holds whatever the cap per address: the session over it gets
    /// 421 and is closed, and a freed place is taken again.
    @Test func connectionCapInTotal() async throws {
        let daemon = try await Daemon(settings: ["smtp.max_connections": "2", "smtp.max_connections_per_ip": "50"])
        let clients = try (0..<2).map { _ in try RawSMTPClient(port: daemon.port) }
        for client in clients { #expect(try client.readReply().code == 220) }
        let refused = try RawSMTPClient(port: daemon.port)
        let refusal = try refused.readReply()
        #expect(refusal.summary == "421 4.7.0")
        #expect(refusal.description.contains("too many connections; try again later"))
        #expect(refused.isClosedByServer())
        _ = try clients[1].command("QUIT")
        #expect(clients[1].isClosedByServer())
        try await Task.sleep(for: .milliseconds(100))
        let admitted = try RawSMTPClient(port: daemon.port)
        #expect(try admitted.readReply().code == 220)
        #expect(try clients[0].command("NOOP").code == 250)
        await daemon.stop()
    }

    @Test func largeMessageSpillsToDiskAndArrivesIntact() async throws {
        let daemon = try await Daemon(settings: ["smtp.memory_threshold": "65536"])
        let client = try RawSMTPClient.greeted(port: daemon.port, helo: "client.test")
        _ = try client.command("MAIL FROM:<a@example.org> BODY=8BITMIME")
        _ = try client.command("RCPT TO:<tok@dropbox.localhost>")
        _ = try client.command("DATA")
        var body = "Subject: big\r\n\r\n"
        for index in 0..<40_000 { body += "line \(index) ünïcödé .. body text to fill the message up\r\n" }
        let stuffed = body.split(separator: "\r\n", omittingEmptySubsequences: false).map { $0.hasPrefix(".") ? "." + $0 : String($0) }
        try client.send(stuffed.joined(separator: "\r\n") + ".\r\n")
        #expect(try client.readReply().summary == "250 2.0.0")
        let stored = try #require(daemon.spooledMessages().values.first)
        let text = String(decoding: stored, as: UTF8.self)
        #expect(text.hasSuffix(body))
        #expect(stored.count > 2_000_000)
        #expect(daemon.temporaryFiles().isEmpty)
        await daemon.stop()
    }

    @Test func aSpillFileThatCannotBeWrittenGets451NotAnEmptyMessage() async throws {
        let daemon = try await Daemon(settings: ["smtp.memory_threshold": "4096"])
        let client = try RawSMTPClient.greeted(port: daemon.port)
        try client.startMessage()
        let line = String(repeating: "x", count: 70) + "\r\n"
        try client.send("Subject: spill\r\n\r\n" + String(repeating: line, count: 200))
        // The first part is in its file now; make the file refuse the rest.
        var spilled: [String] = []
        for _ in 0..<50 where spilled.isEmpty {
            spilled = daemon.temporaryFiles().filter { $0.hasPrefix("incoming-") }
            if spilled.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        }
        let paths = spilled.flatMap { name in
            ["/tmp/", "/spool/tmp/"].map { daemon.dataDirectory + $0 + name }.filter { FileManager.default.fileExists(atPath: $0) }
        }
        try #require(!paths.isEmpty)
        let locked = try runCommand("/usr/bin/chattr", ["+i"] + paths)
        try #require(locked.status == 0, "chattr +i is needed for this test: \(locked.error)")
        defer { _ = try? runCommand("/usr/bin/chattr", ["-i"] + paths) }
        try client.send(String(repeating: line, count: 400) + ".\r\n")
        let reply = try client.readReply()
        #expect(reply.code == 451, "\(reply)")
        _ = try runCommand("/usr/bin/chattr", ["-i"] + paths)
        #expect(daemon.spooledMessages().isEmpty)
        await daemon.stop()
    }
}

/// The CPU time a process has used, user and system, in clock ticks (hundredths of a second).
func cpuTicks(_ pid: Int32) -> Int {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let end = stat.lastIndex(of: ")")
    else { return 0 }
    // After the command's closing parenthesis: state is field 3, utime 14 and stime 15.
    let fields = stat[stat.index(after: end)...].split(separator: " ")
    guard fields.count > 12 else { return 0 }
    return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
}

/// The resident set size of a process, in kB.
func residentKilobytes(_ pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
    return 0
}
