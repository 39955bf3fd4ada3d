import AdminAPI
import Foundation
import Testing

/// `intakectl backup` copies the database while mail keeps flowing; the copy opens as a
/// consistent database.
@Suite struct BackupTests {
    @Test func backupWhileMailFlows() async throws {
        let admin = try await AdminFixture.start()
        try admin.result("org.create", ["name": "acme"])
        let user = try admin.result("user.create", ["org": "acme", "email": "alice@acme.example", "name": "Alice"])
        let dropbox = try #require(user["addresses"]?["note"]?.stringValue)
        // Mail flows in the background while the backups are taken.
        let numbers = Daemon.temporaryDirectory("intake-backup-load") + "/numbers"
        try (0..<300).map(String.init).joined(separator: "\n").write(toFile: numbers, atomically: true, encoding: .utf8)
        let load = try BackgroundCommand(
            "/usr/bin/env",
            ["python3", ClientTests.scripts + "/load_messages.py", String(admin.daemon.port), "alice@acme.example", dropbox, "4", numbers]
        )
        while load.acknowledgedSoFar < 30 && load.isRunning { try await Task.sleep(for: .milliseconds(5)) }
        let folder = Daemon.temporaryDirectory("intake-backups")
        var copies: [String] = []
        for index in 0..<3 {
            let path = folder + "/copy-\(index).sqlite"
            let run = try admin.intakectl(["backup", path])
            #expect(run.status == 0, "\(run.error)")
            copies.append(path)
            try await Task.sleep(for: .milliseconds(50))
        }
        _ = load.wait()
        // A backup never overwrites.
        let again = try admin.intakectl(["backup", copies[0]])
        #expect(again.status == 1)
        #expect(again.error.contains("exists already"))
        // Nor writes into a folder that is not there, and says so.
        let nowhere = try admin.intakectl(["backup", folder + "/missing/intake.sqlite"])
        #expect(nowhere.status == 1)
        #expect(nowhere.error.contains("there is no folder \(folder)/missing"), "\(nowhere.error)")
        for path in copies {
            let check = try runCommand(
                "/usr/bin/env",
                [
                    "python3", "-c",
                    """
                    import sqlite3, sys
                    db = sqlite3.connect(sys.argv[1])
                    print(db.execute("PRAGMA integrity_check").fetchone()[0])
                    messages = db.execute("SELECT COUNT(*) FROM message").fetchone()[0]
                    notes = db.execute("SELECT COUNT(*) FROM note").fetchone()[0]
                    logged = db.execute("SELECT COUNT(*) FROM message_log WHERE outcome = 'filed'").fetchone()[0]
                    print(messages == notes == logged and messages > 0)
                    """,
                    path,
                ]
            )
            #expect(check.output == "ok\nTrue\n", "\(path): \(check.output) \(check.error)")
        }
        await admin.stop()
    }
}
