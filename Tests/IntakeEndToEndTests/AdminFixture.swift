import AdminAPI
import Foundation
import Testing

/// A daemon with `delivery=filing` on an empty database, administered through its real admin
/// socket: organisations and users are made with admin commands, mail goes in over SMTP.
struct AdminFixture {
    let daemon: Daemon
    let socketPath: String

    /// Starts the daemon; `settings` are extra configuration keys.
    static func start(settings: [String: String] = [:], dataDirectory: String? = nil) async throws -> AdminFixture {
        let defaults = ["delivery": "filing", "dropbox.domains": "dropbox.localhost"]
        let daemon = try await Daemon(settings: settings.merging(defaults) { given, _ in given }, dataDirectory: dataDirectory)
        let socketPath = settings["admin.socket"] ?? daemon.dataDirectory + "/admin.sock"
        // The SMTP listener logs first; the admin socket binds beside it.
        for _ in 0..<200 {
            if (try? AdminClient(socketPath: socketPath, timeout: .seconds(5))) != nil { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        return AdminFixture(daemon: daemon, socketPath: socketPath)
    }

    /// A new connection to the admin socket.
    func client() throws -> AdminClient {
        try AdminClient(socketPath: socketPath, timeout: .seconds(10))
    }

    /// Sends one command on a connection of its own.
    func call(_ command: String, _ params: [String: JSONValue] = [:]) throws -> AdminResponse {
        try client().call(command, params)
    }

    /// The result of a command that must succeed.
    @discardableResult
    func result(_ command: String, _ params: [String: JSONValue] = [:], sourceLocation: SourceLocation = #_sourceLocation) throws
        -> JSONValue
    {
        let response = try call(command, params)
        #expect(response.ok, "\(command) failed: \(response.error?.description ?? "")", sourceLocation: sourceLocation)
        return response.result ?? .null
    }

    /// The error of a command that must fail.
    func error(_ command: String, _ params: [String: JSONValue] = [:], sourceLocation: SourceLocation = #_sourceLocation) throws
        -> AdminError?
    {
        let response = try call(command, params)
        #expect(!response.ok, "\(command) succeeded: \(response.result ?? .null)", sourceLocation: sourceLocation)
        return response.error
    }

    /// The items of a list result.
    func items(_ command: String, _ params: [String: JSONValue] = [:], sourceLocation: SourceLocation = #_sourceLocation) throws
        -> [JSONValue]
    {
        try result(command, params, sourceLocation: sourceLocation)["items"]?.arrayValue ?? []
    }

    /// Sends `message` over SMTP with Python's smtplib; returns the reply code (0: every recipient
    /// refused at RCPT) and the refusals.
    func send(_ message: String, from: String, to recipients: [String]) async throws -> (code: Int, refused: [String: Int]) {
        let result = try await runCommandDetached(
            "/usr/bin/env",
            ["python3", ClientTests.scripts + "/send_message.py", String(daemon.port), from, recipients.joined(separator: ",")],
            input: message,
            // As before these ran on threads of their own: no watchdog timer per message sent.
            timeout: nil
        )
        guard result.status == 0, let json = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] else {
            Issue.record("send_message.py failed: \(result.output) \(result.error)")
            return (-1, [:])
        }
        let refused = (json["refused"] as? [String: [Any]] ?? [:]).mapValues { $0.first as? Int ?? 0 }
        return (json["code"] as? Int ?? -1, refused)
    }

    /// `intakectl` beside `intaked`.
    static var intakectl: String { Daemon.binDirectory.appendingPathComponent("intakectl").path }

    /// Runs `intakectl ARGS --socket SOCKET`.
    func intakectl(_ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String, error: String) {
        try runCommand(Self.intakectl, arguments + ["--socket", socketPath], environment: environment)
    }

    func stop() async {
        await daemon.stop()
    }
}

extension JSONValue {
    /// The strings of a list.
    var strings: [String] { arrayValue?.compactMap(\.stringValue) ?? [] }
}
