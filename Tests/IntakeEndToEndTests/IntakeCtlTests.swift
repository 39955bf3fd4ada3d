import AdminAPI
import Foundation
import Testing

/// `intakectl` driven as a subprocess against a running daemon: its tables, its `--json` (the
/// daemon's result exactly), its errors and exit statuses, and how it finds the socket.
@Suite struct IntakeCtlTests {
    @Test func tablesJSONAndErrors() async throws {
        let admin = try await AdminFixture.start()
        let created = try admin.intakectl(["org", "create", "--name", "acme", "--internal-domain", "acme.test,acme-corp.test"])
        #expect(created.status == 0, "\(created.error)")
        #expect(created.output.contains("name: acme\n"))
        #expect(created.output.contains("internal_domains: acme.test, acme-corp.test\n"))
        #expect(created.output.contains("settings:\n  company_from_domain: true\n  create_contacts: true\n"))

        // --json prints the result exactly as the daemon sends it.
        let user = try admin.intakectl([
            "user", "create", "--org", "acme", "--email", "alice@acme.test", "--name", "Alice Archer", "--timezone", "Europe/Berlin",
            "--json",
        ])
        #expect(user.status == 0, "\(user.error)")
        let shown = try admin.result("user.show", ["user": "alice@acme.test"])
        #expect(user.output == String(decoding: try AdminFraming.encoder().encode(shown), as: UTF8.self) + "\n")
        let note = try #require(shown["addresses"]?["note"]?.stringValue)

        // A table: a header of the column names, a row per item.
        let list = try admin.intakectl(["user", "list", "--org", "acme"])
        let rows = list.output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows.first == ["ID", "EMAIL", "NAME", "TIMEZONE", "SENDERS", "ADDRESSES"])
        #expect(rows.dropFirst().first == ["1", "alice@acme.test", "Alice", "Archer", "Europe/Berlin", "-", note])

        // Mail in, then the CRM read back with intakectl.
        #expect(
            try await admin.send(
                mail(from: "Alice Archer <alice@acme.test>", to: "Jane Fenwick <jane@fenwick.example>", subject: "Quote for chairs"),
                from: "alice@acme.test", to: [note]
            ).code == 250)
        let contacts = try admin.intakectl(["contact", "list", "--org", "acme"])
        #expect(contacts.output.hasPrefix("ID  NAME          EMAILS                COMPANY\n"), "\(contacts.output)")
        #expect(contacts.output.contains("1   Jane Fenwick  jane@fenwick.example  Fenwick\n"))
        let log = try admin.intakectl(["message", "list", "--org", "acme", "--json"])
        let items = try JSONDecoder().decode(JSONValue.self, from: Data(log.output.utf8))["items"]?.arrayValue ?? []
        #expect(items.map { $0["outcome"] } == ["filed"])
        let raw = try admin.intakectl(["message", "raw", "--message", "1"])
        #expect(raw.output.hasPrefix("Received: from "))
        #expect(raw.output.contains("Subject: Quote for chairs"))
        let empty = try admin.intakectl(["case", "list", "--org", "acme"])
        #expect(empty.output == "(none)\n")
        #expect(try admin.intakectl(["status"]).output.contains("version: \(IntakeVersion.current)\n"))

        // Failures: the error's message on standard error and a non-zero exit.
        let missing = try admin.intakectl(["org", "show", "--org", "nope"])
        #expect(missing.status == 1)
        #expect(missing.output.isEmpty)
        #expect(missing.error == "intakectl: no organisation named nope (not_found)\n")
        let invalid = try admin.intakectl(["settings", "set", "--org", "acme", "--key", "create_contacts", "--value", "maybe"])
        #expect(invalid.status == 1)
        #expect(invalid.error.contains("create_contacts must be true or false (invalid)"))
        // The daemon's words for parameters and commands become the command line's.
        let wording = try admin.intakectl(["message", "list", "--limit", "0"])
        #expect(wording.error == "intakectl: --limit must be 1…10000, not 0 (invalid)\n", "\(wording.error)")
        let assign = try admin.intakectl(["message", "assign", "--message", "1"])
        #expect(assign.error.contains("message assign needs exactly one of --contact, --case, --opportunity"), "\(assign.error)")
        let usage = try admin.intakectl(["user", "create", "--org", "acme"])
        #expect(usage.status != 0)
        #expect(usage.error.contains("--email"))

        // The socket from INTAKE_ADMIN_SOCKET, without --socket.
        let fromEnvironment = try runCommand(
            AdminFixture.intakectl, ["org", "list"], environment: ["INTAKE_ADMIN_SOCKET": admin.socketPath])
        #expect(fromEnvironment.status == 0)
        #expect(fromEnvironment.output.split(separator: "\n").last?.hasPrefix("1   acme") == true, "\(fromEnvironment.output)")
        // The connection options before the subcommand, as with most tools.
        let before = try runCommand(AdminFixture.intakectl, ["--socket", admin.socketPath, "--json", "org", "list"])
        #expect(before.status == 0, "\(before.error)")
        #expect(before.output.hasPrefix("{"), "\(before.output)")
        let beforeWithEquals = try runCommand(AdminFixture.intakectl, ["--socket=\(admin.socketPath)", "org", "show", "--org", "acme"])
        #expect(beforeWithEquals.output.contains("name: acme\n"), "\(beforeWithEquals.error)")
        await admin.stop()
        let gone = try runCommand(AdminFixture.intakectl, ["org", "list", "--socket", admin.socketPath])
        #expect(gone.status == 69)
        #expect(gone.error.contains("no admin socket at \(admin.socketPath)"))
        // A path that is not a socket is said to be one.
        let folder = try runCommand(AdminFixture.intakectl, ["org", "list", "--socket", admin.daemon.dataDirectory])
        #expect(folder.status == 69)
        #expect(folder.error.contains("\(admin.daemon.dataDirectory) is a folder, not a socket"), "\(folder.error)")
    }
}
