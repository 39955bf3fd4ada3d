import Foundation
import IntakeStore
import Testing

/// 250 means filed: messages from several sessions, the daemon killed at random moments and
/// started again, every message retried until acknowledged. Each ends up filed exactly once.
@Suite struct FilingDurabilityTests {
    @Test func everyAcknowledgedMessageIsFiledExactlyOnceAcrossSIGKILLs() async throws {
        var crm = try await CRMFixture.start()
        let bob = FilingTests.bob
        let dropbox = crm.dropbox(bob)
        let total = 1000
        var acknowledged: Set<String> = []
        var rounds: [Int] = []
        var round = 0
        var generator = SystemRandomNumberGenerator()
        while acknowledged.count < total && round < 12 {
            // Retry everything not acknowledged yet, as a sending MTA would: some of it may have
            // been committed before its 250 was lost.
            let remaining = (0..<total).filter { !acknowledged.contains("durability-\($0)@harbourview.example") }
            let numbers = Daemon.temporaryDirectory("intake-load") + "/numbers"
            try remaining.map(String.init).joined(separator: "\n").write(toFile: numbers, atomically: true, encoding: .utf8)
            let load = try BackgroundCommand(
                "/usr/bin/env", ["python3", ClientTests.scripts + "/load_messages.py", String(crm.daemon.port), bob, dropbox, "5", numbers]
            )
            if round < 3 {
                try await Task.sleep(for: .milliseconds(Int.random(in: 300...1200, using: &generator)))
                await crm.daemon.stop(signal: SIGKILL)
            }
            let output = load.wait()
            let acks = output.split(separator: "\n").filter { $0.hasPrefix("ack ") }.map { String($0.dropFirst(4)) }
            acknowledged.formUnion(acks)
            rounds.append(acks.count)
            if round < 3 {
                crm = CRMFixture(
                    daemon: try await Daemon(
                        settings: ["delivery": "filing", "dropbox.domains": "dropbox.localhost,intake.example.com"],
                        dataDirectory: crm.daemon.dataDirectory
                    ),
                    database: crm.database, users: crm.users
                )
            }
            round += 1
        }
        #expect(acknowledged.count == total)
        // The kills did land mid-stream: the first rounds ended before everything was sent.
        #expect(rounds.count > 3 && rounds[0] < total, "acknowledged per round: \(rounds)")
        print("acknowledged per round: \(rounds)")
        let counts = try await crm.database.read { db in
            try [
                Int.fetchOne(db, sql: "SELECT COUNT(*) FROM message") ?? -1,
                Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT message_id_header) FROM message") ?? -1,
                Int.fetchOne(db, sql: "SELECT COUNT(*) FROM note") ?? -1,
                Int.fetchOne(db, sql: "SELECT COUNT(*) FROM contact") ?? -1,
                // A message without its note or its filing would be a partial one.
                Int.fetchOne(
                    db,
                    sql: """
                        SELECT COUNT(*) FROM message m WHERE
                            (SELECT COUNT(*) FROM note n WHERE n.message_id = m.id) != 1
                            OR (SELECT COUNT(*) FROM filing f WHERE f.message_id = m.id) != 2
                        """
                ) ?? -1,
            ]
        }
        #expect(counts == [total, total, total, total, 0])
        await crm.stop()
    }
}

/// A command running in the background whose standard output is collected.
final class BackgroundCommand {
    private let process = Process()
    private let reader: Thread.PipeReader

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        reader = Thread.detachedReader(pipe.fileHandleForReading)
    }

    /// Waits for the command to end and returns its output.
    func wait() -> String {
        let output = reader.wait()
        process.waitUntilExit()
        return output
    }
}

/// A full database answers 452 and keeps nothing partial; once there is room, mail flows again.
@Suite struct DatabaseFullTests {
    @Test func fullDatabaseGives452AndRecovers() async throws {
        let crm = try await CRMFixture.start(settings: ["database.max_size": String(400 * 1024)])
        let body = String(repeating: "A fairly long line of text that fills the database page after page.\n", count: 300)
        var accepted = 0
        var full: CRMFixture.Sent?
        for index in 0..<200 {
            let sent = try crm.send(
                mail(to: "client\(index)@client-co.example", subject: "Filler \(index)", body: body), to: [crm.dropbox(FilingTests.bob)]
            )
            if sent.code == 250 {
                accepted += 1
            } else {
                full = sent
                break
            }
        }
        #expect(full?.code == 452, "\(crm.daemon.logText.split(separator: "\n").filter { $0.contains("error") }.suffix(3))")
        #expect(full?.text.hasPrefix("4.3.1 ") == true)
        #expect(accepted > 0)
        // Nothing partial: exactly the acknowledged messages, each with its note.
        let counts = try await crm.database.read { db in
            try [Int.fetchOne(db, sql: "SELECT COUNT(*) FROM message") ?? -1, Int.fetchOne(db, sql: "SELECT COUNT(*) FROM note") ?? -1]
        }
        #expect(counts == [accepted, accepted])
        // Make room (an admin deleting old mail), and the next message is filed.
        try await crm.database.write { db in
            try db.execute(sql: "DELETE FROM message WHERE id IN (SELECT id FROM message ORDER BY id LIMIT 10)")
        }
        let after = try crm.send(mail(to: "late@client-co.example", subject: "After the cleanup"), to: [crm.dropbox(FilingTests.bob)])
        #expect(after.code == 250)
        await crm.stop()
    }
}
