import Foundation
import Testing

/// `intaked` reads its settings from the command line, the environment and a YAML file, in that
/// order, and refuses bad values with a message that names the key.
@Suite struct ConfigurationTests {
    @Test func helpListsTheOptions() throws {
        let result = try runCommand(Daemon.executable, ["--help"])
        #expect(result.status == 0)
        for option in ["--config", "--data-dir", "--smtp-port", "--set"] { #expect(result.output.contains(option)) }
    }

    @Test(arguments: [
        (["--set", "smtp.max_recipients=many"], "smtp.max_recipients must be a whole number"),
        (["--smtp-port", "70000"], "smtp.port must be 0…65535"),
        (["--set", "delivery=elsewhere"], "delivery must be filing, spool or discard"),
        (["--set", "smtp.tls.certificate=/nonexistent.pem"], "smtp.tls.certificate and smtp.tls.private_key must be set together"),
        (["--config", "/nonexistent/intake.yaml"], "cannot read the configuration file /nonexistent/intake.yaml"),
        (["--set", "noequals"], "--set takes KEY=VALUE"),
        (["--set", "database.checkpoint_pages=0"], "database.checkpoint_pages must be between 16 and 1000000"),
        // A misspelt key would leave its setting at the default without a word.
        (["--set", "smtp.prot=2526"], "--set smtp.prot is not a setting; did you mean smtp.port?"),
        (["--set", "smtp.port=abc"], "smtp.port must be a whole number, not abc"),
        (
            ["--set", "smtp.idle_timeout_under_load_seconds=0"],
            "smtp.idle_timeout_under_load_seconds must be at least 1"
        ),
        (["--set", "filing.max_contacts_per_message=0"], "filing.max_contacts_per_message must be at least 1"),
        (["--set", "filing.max_note_text_octets=100"], "filing.max_note_text_octets must be at least 1024"),
        (["--set", "dropbox.domains="], "dropbox.domains must name at least one domain"),
        (["--set", "dropbox.domains=a b,@@"], "dropbox.domains must be domain names such as dropbox.example.com, not \"a b\""),
        (["--config", "/"], "cannot read the configuration file /: it is a folder"),
        // Which of the two was meant is not clear; the bad one would have gone unreported.
        (["--set", "smtp.port=abc", "--smtp-port", "2533"], "--smtp-port and --set smtp.port=… both set smtp.port; give one"),
        (["--set", "SMTP_PORT=abc", "--smtp-port", "2533"], "--smtp-port and --set smtp.port=… both set smtp.port; give one"),
    ])
    func badSettingsAreRefused(_ arguments: [String], _ message: String) throws {
        let result = try runCommand(Daemon.executable, ["--data-dir", Daemon.temporaryDirectory()] + arguments)
        // EX_CONFIG; a malformed option is a usage error (EX_USAGE).
        #expect(result.status == (arguments.contains("noequals") ? 64 : 78))
        #expect(result.error.contains(message), "\(result.error)")
    }

    /// A key of the file that names no setting stops the daemon; so does a file that is not YAML.
    @Test(arguments: [
        ("smtp:\n  port: 2533\n  prot: 1\n", "smtp.prot is not a setting; did you mean smtp.port?"),
        ("dropbox:\n  domain: [x.example]\n", "dropbox.domain is not a setting; did you mean dropbox.domains?"),
        ("smtp: [\n", "is not valid YAML"),
        // The file's keys are looked up as written: other spellings would be ignored.
        ("smtp_port: 25\n", "smtp_port is not a setting; did you mean smtp.port?"),
        ("smtp:\n  max-recipients: 5\n", "smtp.max-recipients is not a setting; did you mean smtp.max_recipients?"),
    ])
    func badConfigurationFilesAreRefused(_ text: String, _ message: String) throws {
        let folder = Daemon.temporaryDirectory()
        try text.write(toFile: folder + "/intake.yaml", atomically: true, encoding: .utf8)
        let result = try runCommand(Daemon.executable, ["--data-dir", folder, "--config", folder + "/intake.yaml"])
        #expect(result.status == 78)
        #expect(result.error.contains(message), "\(result.error)")
    }

    /// A port in use stops the daemon with a sentence that names the address and its keys.
    @Test func aListenAddressInUseIsAClearError() async throws {
        let daemon = try await Daemon()
        let result = try runCommand(
            Daemon.executable, ["--data-dir", Daemon.temporaryDirectory(), "--set", "delivery=spool", "--smtp-port", "\(daemon.port)"])
        #expect(result.status == 78)
        #expect(
            result.error.contains("cannot listen on 127.0.0.1:\(daemon.port) (smtp.host, smtp.port): address already in use"),
            "\(result.error)")
        await daemon.stop()
    }

    @Test func unreadableCertificateIsAClearError() throws {
        let result = try runCommand(
            Daemon.executable,
            [
                "--data-dir", Daemon.temporaryDirectory(), "--smtp-port", "0", "--set", "smtp.tls.certificate=/nonexistent/cert.pem",
                "--set", "smtp.tls.private_key=/nonexistent/key.pem",
            ]
        )
        #expect(result.status != 0)
        #expect(result.error.contains("cannot load the TLS certificate /nonexistent/cert.pem"), "\(result.error)")
    }

    /// A database another program holds locked at start is a reason to try again later (exit 75,
    /// which systemd restarts after), not a configuration error (78, which it does not).
    /// A SIGHUP that comes while the daemon starts (here: as soon as it has locked its data
    /// folder, before it opens the database) is ignored, as it is once the daemon runs.
    @Test func aHangupWhileStartingIsIgnored() async throws {
        let folder = Daemon.temporaryDirectory()
        let script = """
            "$1" --data-dir "$2" --smtp-port 0 --set delivery=filing 2>"$2/log" &
            pid=$!
            for _ in $(seq 5000); do [ -e "$2/intaked.lock" ] && break; sleep 0.001; done
            kill -HUP $pid
            for _ in $(seq 1000); do grep -q 'SMTP listening' "$2/log" && break; kill -0 $pid 2>/dev/null || break; sleep 0.01; done
            if kill -0 $pid 2>/dev/null; then echo running; kill -TERM $pid; fi
            wait $pid
            echo "exit $?"
            """
        let result = try await runCommandDetached("/bin/bash", ["-c", script, "hangup", Daemon.executable, folder])
        let log = (try? String(contentsOfFile: folder + "/log", encoding: .utf8)) ?? ""
        #expect(result.output == "running\nexit 0\n", "\(result.output)\(log)")
        #expect(log.contains("SMTP listening"))
    }

    /// A database elsewhere than the data folder gets its folder made, as the data folder does.
    @Test func theDatabasesFolderIsMadeWhenMissing() async throws {
        let path = Daemon.temporaryDirectory() + "/not/yet/intake.sqlite"
        let daemon = try await Daemon(settings: ["delivery": "filing", "database.path": path])
        await daemon.stop()
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test func aDatabaseLockedAtStartIsATemporaryFailure() async throws {
        let folder = Daemon.temporaryDirectory()
        let database = folder + "/intake.sqlite"
        // Made by a first start, then held by another program in a write transaction.
        let first = try await Daemon(settings: ["delivery": "filing"], dataDirectory: folder)
        await first.stop()
        let holder = try SQLiteLockHolder(database, everyone: true)
        defer { holder.release() }
        // The daemon waits ten seconds for the lock before it gives up.
        let result = try await runCommandDetached(
            Daemon.executable, ["--data-dir", folder, "--smtp-port", "0", "--set", "delivery=filing"])
        #expect(result.status == 75)
        #expect(result.error.contains("another program holds it locked; try again later"), "\(result.error)")
    }

    /// An admin socket that cannot be made (its folder is on a read-only file system) stops the
    /// daemon like the other listeners: named with its key, exit 78 (a raw error and exit 1 made
    /// systemd restart it in a loop).
    @Test(.enabled(if: canMountTmpfs, "mounting a read-only tmpfs needs root with CAP_SYS_ADMIN"))
    func anAdminSocketThatCannotBeMadeIsNamed() throws {
        let folder = Daemon.temporaryDirectory()
        let readOnly = folder + "/run"
        try FileManager.default.createDirectory(atPath: readOnly, withIntermediateDirectories: true)
        #expect(try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", readOnly]).status == 0)
        defer { _ = try? runCommand("/bin/umount", ["--lazy", readOnly]) }
        let result = try runCommand(
            Daemon.executable,
            [
                "--data-dir", folder + "/data", "--smtp-port", "0", "--set", "delivery=filing", "--set",
                "admin.socket=\(readOnly)/admin.sock",
            ])
        #expect(result.status == 78)
        #expect(result.error.contains("cannot listen on \(readOnly)/admin.sock (admin.socket): read-only file system"), "\(result.error)")
    }

    /// A configuration file that is empty, or all comments as the example is before editing,
    /// sets nothing: the daemon runs on the defaults.
    @Test(arguments: ["", "# every key commented out\n# smtp:\n#   port: 25\n", "---\n"])
    func aConfigurationFileThatSetsNothingLeavesTheDefaults(_ text: String) async throws {
        let folder = Daemon.temporaryDirectory()
        try text.write(toFile: folder + "/intake.yaml", atomically: true, encoding: .utf8)
        let daemon = try await Daemon(environment: ["INTAKE_CONFIG": folder + "/intake.yaml"], dataDirectory: folder)
        let client = try RawSMTPClient(port: daemon.port)
        #expect(try client.readReply().code == 220)
        await daemon.stop()
    }

    /// `dropbox.domains` in a file: a YAML list, or one comma-separated string as elsewhere.
    @Test(arguments: ["[drop.example, inbox.example]", "drop.example, inbox.example", "\n    - drop.example\n    - inbox.example"])
    func dropboxDomainsInAFile(_ value: String) async throws {
        let folder = Daemon.temporaryDirectory()
        try "dropbox:\n  domains: \(value)\n".write(toFile: folder + "/intake.yaml", atomically: true, encoding: .utf8)
        let daemon = try await Daemon(environment: ["INTAKE_CONFIG": folder + "/intake.yaml"], dataDirectory: folder)
        let client = try RawSMTPClient.greeted(port: daemon.port, helo: "c.test")
        _ = try client.command("MAIL FROM:<a@example.org>")
        #expect(try client.command("RCPT TO:<t@drop.example>").summary == "250 2.1.5")
        #expect(try client.command("RCPT TO:<t@inbox.example>").summary == "250 2.1.5")
        #expect(try client.command("RCPT TO:<t@dropbox.localhost>").summary == "550 5.7.1")
        await daemon.stop()
    }

    @Test func yamlFileThenEnvironmentThenCommandLine() async throws {
        let folder = Daemon.temporaryDirectory()
        let file = folder + "/intake.yaml"
        try """
        # Intake test configuration
        dropbox:
          domains: drop.example, inbox.example
        smtp:
          max_recipients: 2
          hostname: from-file.test
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let daemon = try await Daemon(
            settings: ["smtp.hostname": "from-command-line.test"],
            environment: ["INTAKE_CONFIG": file, "INTAKE_SMTP_MAX_RECIPIENTS": "3"],
            dataDirectory: folder
        )
        let client = try RawSMTPClient(port: daemon.port)
        #expect(try client.readReply().lines == ["from-command-line.test ESMTP Intake"])
        _ = try client.command("EHLO c.test")
        _ = try client.command("MAIL FROM:<a@example.org>")
        #expect(try client.command("RCPT TO:<t@dropbox.localhost>").summary == "550 5.7.1")
        let accepted = try (1...4).map { try client.command("RCPT TO:<t\($0)@\($0 % 2 == 0 ? "drop" : "inbox").example>").summary }
        #expect(accepted == ["250 2.1.5", "250 2.1.5", "250 2.1.5", "452 4.5.3"])
        await daemon.stop()
    }
}
