import Foundation
import GRDB
import IntakeStore
import MailParser
import Testing

/// 250 means filed: messages from several sessions, the daemon killed at random moments and
/// started again, every message retried until acknowledged. Each ends up filed exactly once.
@Suite struct FilingDurabilityTests {
    @Test func everyAcknowledgedMessageIsFiledExactlyOnceAcrossSIGKILLs() async throws {
        // Messages over 4 KiB (every tenth) arrive in spool files and are kept in the raw folder.
        let settings = ["smtp.memory_threshold": "4096"]
        var crm = try await CRMFixture.start(settings: settings)
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
            // In the first rounds the load script itself kills the daemon right after a random
            // number of acknowledgements: mid-stream, however busy the machine is.
            var arguments = [ClientTests.scripts + "/load_messages.py", String(crm.daemon.port), bob, dropbox, "5", numbers]
            if round < 3 {
                arguments += [String(crm.daemon.pid), String(Int.random(in: 1...max(1, remaining.count * 2 / 3), using: &generator))]
            }
            let load = try BackgroundCommand("/usr/bin/env", ["python3"] + arguments)
            let output = load.wait()
            if round < 3 { await crm.daemon.stop(signal: SIGKILL) }
            let acks = output.split(separator: "\n").filter { $0.hasPrefix("ack ") }.map { String($0.dropFirst(4)) }
            acknowledged.formUnion(acks)
            rounds.append(acks.count)
            if round < 3 {
                crm = CRMFixture(
                    daemon: try await Daemon(
                        settings: settings.merging(["delivery": "filing", "dropbox.domains": "dropbox.localhost,intake.example.com"]) {
                            $1
                        },
                        dataDirectory: crm.daemon.dataDirectory
                    ),
                    database: crm.database, users: crm.users
                )
            }
            round += 1
        }
        #expect(acknowledged.count == total)
        // The kills did land mid-stream: the first rounds ended before everything was sent.
        #expect(rounds[0] < total, "acknowledged per round: \(rounds)")
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
        // Each large message's file is in the raw folder, whole: its content hashes to its name.
        let rawFolder = try #require(crm.database.rawFolder)
        let kept = try await crm.database.read { db in
            try Row.fetchAll(db, sql: "SELECT raw_sha256, size FROM message WHERE raw_sha256 IS NOT NULL").map {
                (sha256: $0["raw_sha256"] as String, size: $0["size"] as Int)
            }
        }
        #expect(kept.count == total / 10)
        for file in kept {
            let bytes = try rawFolder.contents(file.sha256, size: file.size)
            #expect(MailParser.SHA256.hex(bytes) == file.sha256)
        }
        await crm.stop()
    }
}

/// What a killed daemon left in the WAL is copied into the database file, and synced, before the
/// next one takes mail: after a failed fsync the WAL's pages may be in the kernel's cache only.
@Suite struct StartCheckpointTests {
    @Test func theWALIsCopiedIntoTheDatabaseFileAtStart() async throws {
        // No checkpoint asked for by the WAL's length.
        var crm = try await CRMFixture.start(settings: ["database.checkpoint_pages": "100000"])
        let sent = try await crm.send(mail(to: "jane@fenwick-logistics.example", subject: "Pallets"), to: [crm.dropbox(FilingTests.bob)])
        #expect(sent.code == 250)
        // At once: before the checkpoint that follows a second without deliveries.
        await crm.daemon.stop(signal: SIGKILL)
        crm = CRMFixture(
            daemon: try await Daemon(
                settings: ["delivery": "filing", "dropbox.domains": "dropbox.localhost"], dataDirectory: crm.daemon.dataDirectory),
            database: crm.database, users: crm.users)
        // The database file alone, without its WAL, holds the message.
        let copy = Daemon.temporaryDirectory("intake-copy") + "/intake.sqlite"
        try FileManager.default.copyItem(atPath: crm.daemon.dataDirectory + "/intake.sqlite", toPath: copy)
        let count = try await runCommandDetached(
            "/usr/bin/env",
            [
                "python3", "-c",
                "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM message').fetchone()[0])", copy,
            ])
        #expect(count.output.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        await crm.stop()
    }
}

/// A command running in the background whose standard output goes to a file, readable while it
/// runs.
final class BackgroundCommand {
    private let process = Process()
    private let outputPath: String

    init(_ executable: String, _ arguments: [String]) throws {
        outputPath = Daemon.temporaryDirectory("intake-output") + "/stdout"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    /// The output so far.
    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// How many "ack" lines the output has so far.
    var acknowledgedSoFar: Int { output.split(separator: "\n").count { $0.hasPrefix("ack ") } }

    /// Waits for the command to end and returns its output.
    func wait() -> String {
        process.waitUntilExit()
        return output
    }
}
