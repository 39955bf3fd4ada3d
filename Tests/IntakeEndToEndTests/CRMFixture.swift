import Filing
import Foundation
import IntakeStore
import Testing

/// A CRM for one test: a data folder whose database holds the organisation `harbourview` and its
/// users, and the real daemon filing into it over SMTP.
struct CRMFixture {
    init(daemon: Daemon, database: IntakeDatabase, users: [String: UserRecord]) {
        self.daemon = daemon
        self.database = database
        self.users = users
    }

    let daemon: Daemon
    let database: IntakeDatabase
    var users: [String: UserRecord]

    static let organisation = "harbourview"

    /// Creates the organisation and users, then starts the daemon on the same database, in `folder`
    /// (an empty folder) or a new temporary one.
    static func start(
        users: [(email: String, name: String, timeZone: String)] = [
            ("bob.carter@harbourview.example", "Bob Carter", "Europe/London"),
            ("sarah.okafor@harbourview.example", "Sarah Okafor", "Europe/Amsterdam"),
        ],
        internalDomains: [String] = ["harbourview.example"],
        settings: [String: String] = [:],
        folder: String = Daemon.temporaryDirectory("intake-crm")
    ) async throws -> CRMFixture {
        let database = try IntakeDatabase.open(path: folder + "/intake.sqlite")
        _ = try await database.createOrganisation(name: organisation, internalDomains: internalDomains)
        var records: [String: UserRecord] = [:]
        for user in users {
            records[user.email] = try await database.createUser(
                organisation: organisation, email: user.email, name: user.name, timeZone: user.timeZone)
        }
        // The fixture corpus forwards to dropbox@intake.example.com: a dropbox domain here too.
        let defaults = ["delivery": "filing", "dropbox.domains": "dropbox.localhost,intake.example.com"]
        let daemon = try await Daemon(settings: settings.merging(defaults) { given, _ in given }, dataDirectory: folder)
        return CRMFixture(daemon: daemon, database: database, users: records)
    }

    /// Stops the daemon and starts another on the same data folder with `settings`.
    func restarted(settings: [String: String]) async throws -> CRMFixture {
        _ = await daemon.stop()
        let defaults = ["delivery": "filing", "dropbox.domains": "dropbox.localhost,intake.example.com"]
        let next = try await Daemon(settings: settings.merging(defaults) { given, _ in given }, dataDirectory: daemon.dataDirectory)
        return CRMFixture(daemon: next, database: database, users: users)
    }

    /// The dropbox address of a user, for a kind.
    func dropbox(_ email: String, _ kind: DropboxKind = .note) -> String {
        DropboxAddress(token: users[email]!.token, kind: kind).localPart + "@dropbox.localhost"
    }

    /// What the server answered a message sent with smtplib.
    struct Sent {
        var code: Int
        var text: String
        var refused: [String: (Int, String)]
    }

    /// Sends `message` with Python's smtplib.
    func send(_ message: String, from: String = "bob.carter@harbourview.example", to recipients: [String]) async throws -> Sent {
        try await send(Data(message.utf8), from: from, to: recipients)
    }

    /// On a thread of its own: Python's start and the SMTP session block, and would hold one of
    /// Swift's few cooperative threads that the other tests' waits need.
    func send(_ message: Data, from: String, to recipients: [String]) async throws -> Sent {
        let script = ClientTests.scripts + "/send_message.py"
        let result = try await runCommandDetached(
            "/usr/bin/env", ["python3", script, String(daemon.port), from, recipients.joined(separator: ",")],
            input: String(decoding: message, as: UTF8.self),
            // As before these ran on threads of their own: no watchdog timer per message sent.
            timeout: nil
        )
        guard result.status == 0, let json = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] else {
            Issue.record("send_message.py failed: \(result.output) \(result.error)")
            return Sent(code: -1, text: "", refused: [:])
        }
        var refused: [String: (Int, String)] = [:]
        for (recipient, value) in json["refused"] as? [String: [Any]] ?? [:] {
            refused[recipient] = (value[0] as? Int ?? 0, value[1] as? String ?? "")
        }
        return Sent(code: json["code"] as? Int ?? -1, text: json["text"] as? String ?? "", refused: refused)
    }

    /// A fixture `.eml` from Tests/Fixtures/mail.
    static func fixture(_ path: String) throws -> Data {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/mail/\(path)")
        return try Data(contentsOf: url)
    }

    func contactEmails() async throws -> Set<String> {
        Set(try await database.contacts(organisation: Self.organisation).flatMap(\.emails))
    }

    func log() async throws -> [MessageLogEntry] {
        try await database.messageLog(organisation: nil)
    }

    func stop() async {
        await daemon.stop()
    }
}

/// A message as a mail client would send it.
func mail(
    from: String = "Bob Carter <bob.carter@harbourview.example>", to: String, cc: String? = nil, subject: String,
    messageID: String = "<\(UUID().uuidString)@harbourview.example>", extraHeaders: [String] = [],
    body: String = "Hello,\n\nSee you soon.\n\nBob\n"
) -> String {
    var lines = ["From: \(from)", "To: \(to)"]
    if let cc { lines.append("Cc: \(cc)") }
    lines += ["Subject: \(subject)", "Date: Mon, 23 Nov 2026 10:00:00 +0000", "Message-ID: \(messageID)", "MIME-Version: 1.0"]
    lines += extraHeaders
    lines += ["Content-Type: text/plain; charset=utf-8", ""]
    lines += body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    return lines.joined(separator: "\r\n")
}
