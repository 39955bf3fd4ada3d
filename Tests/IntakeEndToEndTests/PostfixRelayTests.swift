import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real MTA in front: Debian's Postfix, with a throw-away configuration, is the MX and hands the
/// dropbox domain to a running `intaked` through `transport_maps` (as in `deploy/postfix/`).
///
/// Each test starts its own `intaked`, its own Postfix (`postfix -c DIR`, loopback only, a free
/// port, queue and data folders in a temporary folder) and Postfix's `smtp-sink` standing in for
/// the sender's own mail server, which receives the bounces. Postfix delivers nowhere else
/// (`default_transport = error:`). Everything is stopped and deleted on every path.
///
/// Postfix must start as root (it checks the owners of its folders and drops to `mail_owner`);
/// the tests run as root in CI (`.ci/run` installs the `postfix` package), and are skipped
/// otherwise.
///
/// The time limit guards against a hang. It is the whole suite's length and more: the tests wait
/// with `Task.sleep`, on the few threads that the other tests' blocking clients hold too, so in
/// the full suite each takes about as long as the suite (about 55 s here, 80 s in CI).
@Suite(.enabled(if: getuid() == 0, "Postfix can only be started by root"), .timeLimit(.minutes(3)))
struct PostfixRelayTests {
    @Test func messageSubmittedToPostfixIsKeptByIntake() async throws {
        try await withPostfixInFrontOfIntake { postfix, daemon in
            let subject = "Relayed by Postfix \(UUID().uuidString.prefix(8))"
            let submitted = try postfix.submit(from: "alice@sender.test", to: "k7q2mxa4@dropbox.localhost", subject: subject)
            #expect(submitted.status == 0, "swaks: \(submitted.output)")

            let kept = try await postfix.waitFor("the message in Intake's spool") {
                daemon.spooledMessages().values.map { String(decoding: $0, as: UTF8.self) }.first { $0.contains(subject) }
            }
            // Intake's Received: names Postfix as the client; Postfix's own is below it.
            #expect(kept.hasPrefix("Received: from \(PostfixRelay.hostname) ([127.0.0.1])\r\n\tby mx.intake.test (Intake)"))
            #expect(kept.contains("by \(PostfixRelay.hostname) (Postfix) with ESMTP id "))
            #expect(kept.contains("for <k7q2mxa4@dropbox.localhost>"))
            // Intake keeps the message before Postfix hears its 250 and logs it: wait for the log.
            _ = try await postfix.waitFor("Postfix to log the delivery to Intake") {
                postfix.maillog.contains("relay=127.0.0.1[127.0.0.1]:\(daemon.port)") && postfix.maillog.contains("status=sent (250 2.0.0 ")
                    ? true : nil
            }
            #expect(postfix.capturedMessages().isEmpty, "no bounce expected")
        }
    }

    @Test func messageIntakeRefusesComesBackAsABounceCarryingIntakesReason() async throws {
        try await withPostfixInFrontOfIntake { postfix, daemon in
            // other.test is routed to Intake too, but is not one of its dropbox domains: Intake
            // answers RCPT with 550 5.7.1, Postfix bounces to the sender's server.
            let subject = "Refused by Intake \(UUID().uuidString.prefix(8))"
            let submitted = try postfix.submit(from: "alice@sender.test", to: "someone@other.test", subject: subject)
            #expect(submitted.status == 0, "swaks: \(submitted.output)")

            let bounce = try await postfix.waitFor("the bounce at the sender's server") {
                postfix.capturedMessages().first { $0.contains(subject) }
            }
            // Postfix folds long lines of the report: compare with runs of white space as one.
            let text = bounce.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(text.contains("X-Mail-Args: <>"), "a bounce has the null sender")
            #expect(text.contains("X-Rcpt-Args: <alice@sender.test>"))
            #expect(text.contains("Subject: Undelivered Mail Returned to Sender"))
            let reason = "550 5.7.1 relay access denied: this server only accepts mail for dropbox.localhost"
            #expect(
                text.contains("<someone@other.test>: host 127.0.0.1[127.0.0.1] said: \(reason) (in reply to RCPT TO command)"), "\(bounce)")
            #expect(text.contains("Final-Recipient: rfc822; someone@other.test"))
            #expect(text.contains("Status: 5.7.1"))
            #expect(text.contains("Diagnostic-Code: smtp; \(reason)"))
            #expect(daemon.spooledMessages().isEmpty)
        }
    }

    @Test func messageSubmittedToPostfixIsFiledByIntake() async throws {
        let crm = try await CRMFixture.start()
        let dropbox = crm.dropbox(FilingTests.bob)
        try await withPostfixInFrontOfIntake(daemon: crm.daemon) { postfix, _ in
            let submitted = try postfix.submit(
                from: FilingTests.bob, to: dropbox, subject: "Through Postfix",
                headers: ["To: Jane Fenwick <jane@fenwick-logistics.example>"])
            #expect(submitted.status == 0, "swaks: \(submitted.output)")
            _ = try await postfix.waitFor("Intake to file the message") {
                crm.daemon.logText.contains("filing.outcome=filed") ? true : nil
            }
            #expect(try await crm.contactEmails() == ["jane@fenwick-logistics.example"])
            #expect(try await crm.database.notes(organisation: CRMFixture.organisation).count == 1)
            #expect(postfix.capturedMessages().isEmpty, "no bounce expected")
        }
    }

    @Test func untrustedSenderComesBackAsABounceCarryingIntakesReason() async throws {
        // Intake files into its CRM: the token is live, so RCPT is accepted, and the refusal comes
        // at the end of data, from the filing rules.
        let crm = try await CRMFixture.start()
        let dropbox = crm.dropbox(FilingTests.bob)
        try await withPostfixInFrontOfIntake(daemon: crm.daemon) { postfix, _ in
            let subject = "Untrusted \(UUID().uuidString.prefix(8))"
            let submitted = try postfix.submit(from: "alice@sender.test", to: dropbox, subject: subject)
            #expect(submitted.status == 0, "swaks: \(submitted.output)")
            let bounce = try await postfix.waitFor("the bounce at the sender's server") {
                postfix.capturedMessages().first { $0.contains(subject) }
            }
            let text = bounce.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            let reason = "550 5.7.1 alice@sender.test is not a trusted address of this dropbox; add it with intakectl sender add"
            #expect(text.contains("said: \(reason) (in reply to end of DATA command)"), "\(bounce)")
            #expect(text.contains("Diagnostic-Code: smtp; \(reason)"))
            #expect(try await crm.database.storedMessageCount() == 0)
            #expect(try await crm.log().first?.outcome == "refused")
        }
    }

    /// Runs `body` with a fresh `intaked` (or `daemon`) behind a fresh Postfix; stops both however
    /// `body` ends.
    private func withPostfixInFrontOfIntake(daemon given: Daemon? = nil, _ body: (PostfixRelay, Daemon) async throws -> Void) async throws {
        guard let tools = PostfixRelay.Tools.find() else { return }
        let daemon: Daemon
        if let given { daemon = given } else { daemon = try await Daemon() }
        let postfix: PostfixRelay
        do {
            postfix = try await PostfixRelay.start(tools: tools, intakePort: daemon.port)
        } catch {
            await daemon.stop()
            throw error
        }
        do {
            try await body(postfix, daemon)
        } catch {
            postfix.stop()
            await daemon.stop()
            throw error
        }
        postfix.stop()
        #expect(await daemon.stop() == 0)
    }
}

/// A Postfix instance of its own: `postfix -c DIR`, smtpd on a free loopback port; the dropbox
/// domain and `other.test` go to Intake, `sender.test` to an `smtp-sink` that keeps every message
/// it receives as a file.
final class PostfixRelay: @unchecked Sendable {
    // Safe: every property is set in init; `stopped` is only touched by `stop()`, which the test
    // calls once from its own task (deinit only runs after that).
    static let hostname = "relay.postfix.test"

    struct Tools {
        var postfix: String
        var postqueue: String
        var smtpSink: String
        var swaks: String

        /// The programs, or `nil` after recording an issue that says which package is missing.
        static func find() -> Tools? {
            guard let postfix = requireTool("postfix", package: "postfix"),
                let postqueue = requireTool("postqueue", package: "postfix"),
                let smtpSink = requireTool("smtp-sink", package: "postfix"),
                let swaks = requireTool("swaks", package: "swaks")
            else { return nil }
            return Tools(postfix: postfix, postqueue: postqueue, smtpSink: smtpSink, swaks: swaks)
        }
    }

    let tools: Tools
    /// The temporary folder holding everything: conf/, queue/, data/, capture/, maillog.
    let directory: String
    /// Postfix's smtpd port on 127.0.0.1.
    let port: Int
    private let sink: Process
    private var stopped = false

    private var configDirectory: String { directory + "/conf" }
    private var captureDirectory: String { directory + "/capture" }

    private init(tools: Tools, directory: String, port: Int, sink: Process) {
        self.tools = tools
        self.directory = directory
        self.port = port
        self.sink = sink
    }

    static func start(tools: Tools, intakePort: Int) async throws -> PostfixRelay {
        let directory = Daemon.temporaryDirectory("intake-postfix")
        let fileManager = FileManager.default
        let port = try freeLoopbackPort()
        let sinkPort = try freeLoopbackPort()
        try fileManager.createDirectory(atPath: directory + "/conf", withIntermediateDirectories: true)
        // Postfix wants its queue folder to exist, owned by root; `postfix check` fills it in.
        try fileManager.createDirectory(atPath: directory + "/queue", withIntermediateDirectories: true)
        // smtp-sink drops to the postfix user: let it write its captures.
        try fileManager.createDirectory(atPath: directory + "/capture", withIntermediateDirectories: true)
        chmod(directory + "/capture", 0o1777)
        try mainConfiguration(directory: directory).write(toFile: directory + "/conf/main.cf", atomically: true, encoding: .utf8)
        try masterConfiguration(port: port).write(toFile: directory + "/conf/master.cf", atomically: true, encoding: .utf8)
        try """
        dropbox.localhost   smtp:[127.0.0.1]:\(intakePort)
        other.test          smtp:[127.0.0.1]:\(intakePort)
        sender.test         smtp:[127.0.0.1]:\(sinkPort)

        """.write(toFile: directory + "/conf/transport", atomically: true, encoding: .utf8)

        let sink = Process()
        sink.executableURL = URL(fileURLWithPath: tools.smtpSink)
        // -u: the user to run as (required as root); -d: one file per transaction; 10: backlog.
        sink.arguments = ["-u", "postfix", "-d", directory + "/capture/%H%M%S.", "127.0.0.1:\(sinkPort)", "10"]
        sink.standardOutput = FileHandle.nullDevice
        sink.standardError = FileHandle.nullDevice
        try sink.run()
        let relay = PostfixRelay(tools: tools, directory: directory, port: port, sink: sink)
        do {
            let check = try runCommand(tools.postfix, ["-c", relay.configDirectory, "check"])
            guard check.status == 0 else { throw Failure("postfix check failed: \(check.error)\(relay.maillog)") }
            let start = try runCommand(tools.postfix, ["-c", relay.configDirectory, "start"])
            guard start.status == 0 else { throw Failure("postfix start failed: \(start.error)\(relay.maillog)") }
            _ = try await relay.waitFor("Postfix and smtp-sink to listen", timeout: .seconds(15)) {
                canConnect(port: port) && canConnect(port: sinkPort) ? true : nil
            }
        } catch {
            relay.stop()
            throw error
        }
        return relay
    }

    /// main.cf: loopback only, nothing local, nothing delivered anywhere but through the
    /// transport map; retries every second so a flush is quick.
    private static func mainConfiguration(directory: String) -> String {
        """
        compatibility_level = 3.6
        myhostname = \(hostname)
        mydomain = postfix.test
        myorigin = $myhostname
        mydestination =
        local_recipient_maps =
        alias_maps =
        alias_database =
        mynetworks = 127.0.0.0/8
        inet_interfaces = 127.0.0.1
        inet_protocols = ipv4
        queue_directory = \(directory)/queue
        data_directory = \(directory)/data
        meta_directory = /etc/postfix
        maillog_file = \(directory)/maillog
        maillog_file_prefixes = \(directory)
        relay_domains = dropbox.localhost, other.test
        transport_maps = texthash:\(directory)/conf/transport
        default_transport = error:this test Postfix delivers nowhere else
        relay_transport = error:this test Postfix delivers nowhere else
        smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
        smtpd_peername_lookup = no
        smtp_tls_security_level = none
        smtpd_tls_security_level = none
        smtp_connect_timeout = 5s
        queue_run_delay = 1s
        minimal_backoff_time = 1s
        maximal_backoff_time = 2s
        biff = no

        """
    }

    /// master.cf: the services a relay needs, none chrooted (the queue is in a temporary folder).
    private static func masterConfiguration(port: Int) -> String {
        """
        127.0.0.1:\(port) inet n - n - - smtpd
        pickup     unix  n - n 60 1 pickup
        cleanup    unix  n - n -  0 cleanup
        qmgr       unix  n - n 300 1 qmgr
        rewrite    unix  - - n -  - trivial-rewrite
        bounce     unix  - - n -  0 bounce
        defer      unix  - - n -  0 bounce
        trace      unix  - - n -  0 bounce
        verify     unix  - - n -  1 verify
        flush      unix  n - n 1000? 0 flush
        proxymap   unix  - - n -  - proxymap
        proxywrite unix  - - n -  1 proxymap
        smtp       unix  - - n -  - smtp
        relay      unix  - - n -  - smtp
        showq      unix  n - n -  - showq
        error      unix  - - n -  - error
        retry      unix  - - n -  - error
        discard    unix  - - n -  - discard
        anvil      unix  - - n -  1 anvil
        scache     unix  - - n -  1 scache
        postlog    unix-dgram n - n - 1 postlogd

        """
    }

    /// Submits a message to Postfix's smtpd with swaks.
    func submit(from sender: String, to recipient: String, subject: String, headers: [String] = []) throws -> (
        status: Int32, output: String
    ) {
        let result = try runCommand(
            tools.swaks,
            [
                "--server", "127.0.0.1:\(port)", "--helo", "client.sender.test", "--from", sender, "--to", recipient,
                "--header", "Subject: \(subject)", "--body", "Hello from the Postfix relay test.", "--timeout", "15",
            ] + headers.flatMap { ["--header", $0] })
        return (result.status, result.output + result.error)
    }

    /// Postfix's log (its `maillog_file`).
    var maillog: String { (try? String(contentsOfFile: directory + "/maillog", encoding: .utf8)) ?? "" }

    /// Every message smtp-sink received (the bounces), as text.
    func capturedMessages() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: captureDirectory)) ?? []
        return names.sorted().compactMap { try? String(contentsOfFile: captureDirectory + "/" + $0, encoding: .utf8) }
    }

    /// Polls `probe` until it gives a value, asking Postfix to flush its queue every second;
    /// throws with Postfix's log and queue after `timeout`.
    func waitFor<T>(_ what: String, timeout: Duration = .seconds(30), _ probe: () -> T?) async throws -> T {
        let start = ContinuousClock.now
        var lastFlush = start
        while ContinuousClock.now - start < timeout {
            if let value = probe() { return value }
            if ContinuousClock.now - lastFlush > .seconds(1) {
                _ = try? runCommand(tools.postqueue, ["-c", configDirectory, "-f"])
                lastFlush = .now
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let queue = (try? runCommand(tools.postqueue, ["-c", configDirectory, "-p"]).output) ?? ""
        throw Failure("timed out waiting for \(what)\n--- postqueue -p:\n\(queue)\n--- maillog:\n\(maillog)")
    }

    /// Stops Postfix (its master and every daemon) and smtp-sink, and deletes the folder.
    func stop() {
        guard !stopped else { return }
        stopped = true
        if let result = try? runCommand(tools.postfix, ["-c", configDirectory, "stop"]), result.status != 0,
            !result.error.contains("not running")
        {
            _ = try? runCommand(tools.postfix, ["-c", configDirectory, "abort"])
        }
        // `postfix stop` waits for the master; make sure nothing of it outlives the test.
        if let text = try? String(contentsOfFile: directory + "/queue/pid/master.pid", encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1, kill(pid, 0) == 0
        {
            kill(pid, SIGKILL)
        }
        if sink.isRunning {
            // SIGKILL, not SIGTERM: a child of Foundation's Process keeps the signal mask of the
            // thread that spawned it, where SIGTERM is blocked, so smtp-sink would never see one.
            kill(sink.processIdentifier, SIGKILL)
            sink.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}

extension PostfixRelay {
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// A TCP port on 127.0.0.1 that nothing listens on right now.
    static func freeLoopbackPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure("socket: errno \(errno)") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else { throw Failure("bind: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    static func canConnect(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
