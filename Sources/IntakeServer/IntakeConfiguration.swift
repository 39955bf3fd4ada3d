import Filing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Configuration
import Foundation
import SMTPCore

/// Everything `intaked` can be configured with, read once at start.
///
/// Sources, highest first: command-line options (`--smtp-port`, or `--set KEY=VALUE` for any key),
/// environment variables (`INTAKE_` + the key in upper case with `.` as `_`, e.g.
/// `INTAKE_SMTP_PORT`), the YAML file given with `--config` or `INTAKE_CONFIG`, then the defaults
/// below. With nothing configured the daemon listens on 127.0.0.1:2525 and keeps its data in
/// `./intake-data`.
///
/// | key | type | default | meaning |
/// |---|---|---|---|
/// | `data_dir` | path | `./intake-data` | data folder: spool, temporary files |
/// | `dropbox.domains` | list, or a comma-separated string | `dropbox.localhost` | domains whose mail is accepted |
/// | `delivery` | `filing`, `spool` or `discard` | `filing` | `filing` files into the CRM database; `spool` only keeps messages in `data_dir/spool`; `discard` accepts and drops every message (benchmarks only) |
/// | `database.path` | path | `data_dir/intake.sqlite` | the SQLite database |
/// | `database.max_size` | int | 0 (no cap) | octets the database file may grow to (the raw folder is not counted); when full, messages get `452 4.3.1` |
/// | `database.checkpoint_pages` | int | 100 | WAL pages not yet copied back into the database file after which the checkpoint thread copies them; at 16 times that length the WAL starts over |
/// | `filing.max_contacts_per_message` | int | 50 | contacts one message is filed under at most (senders first, then recipients, then body addresses) |
/// | `filing.max_note_text_octets` | int | 131072 | octets of text a note keeps at most |
/// | `smtp.host` | address | `127.0.0.1` | address to listen on |
/// | `smtp.port` | int | `2525` | port to listen on; 0 picks a free port |
/// | `smtp.hostname` | string | the machine's host name | name in the greeting and Received fields |
/// | `smtp.tls.certificate` | path | none | PEM certificate chain; STARTTLS is offered when set |
/// | `smtp.tls.private_key` | path | none | PEM private key of the certificate |
/// | `smtp.max_message_size` | int | 26214400 | octets; advertised with SIZE |
/// | `smtp.max_recipients` | int | 100 | recipients per transaction |
/// | `smtp.max_errors` | int | 10 | error replies before the session is closed |
/// | `smtp.max_received_headers` | int | 50 | Received fields before a message is taken for a loop |
/// | `smtp.max_command_line_length` | int | 564 | octets including CRLF |
/// | `smtp.max_data_line_length` | int | 1000 | octets including CRLF |
/// | `smtp.idle_timeout_seconds` | int | 300 | silence before the session is closed |
/// | `smtp.idle_timeout_under_load_seconds` | int | 10 | the same while 80 % of the connections (in total, or of the client's address; at least two) are open; the shorter of the two applies |
/// | `smtp.max_connections` | int | 1000 | simultaneous sessions |
/// | `smtp.max_connections_per_ip` | int | 50 | simultaneous sessions per client address |
/// | `smtp.memory_threshold` | int | 65536 | message octets kept in memory before spilling to a file |
/// | `metrics.host` | address | `127.0.0.1` | address of the HTTP listener for `/metrics` and `/healthz` |
/// | `metrics.port` | int | none (off) | its port; set it (0 picks a free one) to turn the listener on |
/// | `admin.socket` | path | `data_dir/admin.sock` | the admin socket (Unix, mode 0660) that `intakectl` talks to; only with `delivery=filing` |
/// | `admin.group` | group name or id | none | members of this group may use the admin socket, besides root and the daemon's user |
/// | `shutdown.grace_seconds` | int | 30 | time sessions in DATA get to finish at shutdown |
/// | `log.level` | string | `info` | trace, debug, info, notice, warning, error, critical |
public struct IntakeConfiguration: Sendable, Hashable {
    /// Where a delivered message goes.
    public enum Delivery: String, Sendable, Hashable {
        /// Filed into the CRM database: contacts, notes, cases, opportunities, tasks.
        case filing
        /// Durably into the spool folder, not filed.
        case spool
        /// Nowhere: accepted and dropped. For benchmarks of the protocol path only.
        case discard
    }

    public var dataDirectory = "./intake-data"
    public var dropboxDomains = ["dropbox.localhost"]
    public var delivery = Delivery.filing
    /// The SQLite database; `nil` means `data_dir/intake.sqlite`.
    public var databasePath: String?
    /// Octets the database may grow to; 0 for no cap.
    public var databaseMaxSize = 0
    /// WAL pages not yet copied after which the checkpoint thread copies them.
    public var checkpointPages = 100
    /// The bounds of what one message files.
    public var filingLimits = FilingLimits()
    public var smtpHost = "127.0.0.1"
    public var smtpPort = 2525
    public var hostname = IntakeConfiguration.systemHostname()
    public var tlsCertificatePath: String?
    public var tlsPrivateKeyPath: String?
    public var limits = SMTPLimits()
    public var memoryThreshold = 64 * 1024
    public var shutdownGraceSeconds = 30
    public var metricsHost = "127.0.0.1"
    /// `nil`: no HTTP listener.
    public var metricsPort: Int?
    public var logLevel = "info"
    /// The admin socket; `nil` means `data_dir/admin.sock`.
    public var adminSocketPath: String?
    /// The group whose members may use the admin socket.
    public var adminGroup: String?

    /// The defaults.
    public init() {}

    /// Reads every key from `reader`, falling back to the defaults.
    public init(reader: ConfigReader) throws(IntakeConfigurationError) {
        let settings = Settings(reader: reader)
        let defaults = IntakeConfiguration()
        dataDirectory = try settings.string("data_dir", default: defaults.dataDirectory)
        dropboxDomains = try settings.stringArray("dropbox.domains", default: defaults.dropboxDomains).map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }.filter { !$0.isEmpty }
        let deliveryName = try settings.string("delivery", default: defaults.delivery.rawValue)
        guard let delivery = Delivery(rawValue: deliveryName) else {
            throw IntakeConfigurationError("delivery must be filing, spool or discard, not \(deliveryName)")
        }
        self.delivery = delivery
        databasePath = try settings.optionalString("database.path")
        databaseMaxSize = try settings.int("database.max_size", default: defaults.databaseMaxSize)
        checkpointPages = try settings.int("database.checkpoint_pages", default: defaults.checkpointPages)
        let defaultLimits = defaults.filingLimits
        let maxContacts = try settings.int("filing.max_contacts_per_message", default: defaultLimits.maxContactsPerMessage)
        let maxNoteText = try settings.int("filing.max_note_text_octets", default: defaultLimits.maxNoteTextOctets)
        filingLimits = FilingLimits(maxContactsPerMessage: maxContacts, maxNoteTextOctets: maxNoteText)
        smtpHost = try settings.string("smtp.host", default: defaults.smtpHost)
        smtpPort = try settings.int("smtp.port", default: defaults.smtpPort)
        hostname = try settings.string("smtp.hostname", default: defaults.hostname)
        tlsCertificatePath = try settings.optionalString("smtp.tls.certificate")
        tlsPrivateKeyPath = try settings.optionalString("smtp.tls.private_key")
        var limits = defaults.limits
        limits.maxMessageSize = try settings.int("smtp.max_message_size", default: limits.maxMessageSize)
        limits.maxRecipients = try settings.int("smtp.max_recipients", default: limits.maxRecipients)
        limits.maxErrors = try settings.int("smtp.max_errors", default: limits.maxErrors)
        limits.maxReceivedHeaders = try settings.int("smtp.max_received_headers", default: limits.maxReceivedHeaders)
        limits.maxCommandLineLength = try settings.int("smtp.max_command_line_length", default: limits.maxCommandLineLength)
        limits.maxDataLineLength = try settings.int("smtp.max_data_line_length", default: limits.maxDataLineLength)
        limits.idleTimeoutSeconds = try settings.int("smtp.idle_timeout_seconds", default: limits.idleTimeoutSeconds)
        let underLoad = limits.idleTimeoutUnderLoadSeconds
        limits.idleTimeoutUnderLoadSeconds = try settings.int("smtp.idle_timeout_under_load_seconds", default: underLoad)
        limits.maxConnections = try settings.int("smtp.max_connections", default: limits.maxConnections)
        limits.maxConnectionsPerIP = try settings.int("smtp.max_connections_per_ip", default: limits.maxConnectionsPerIP)
        self.limits = limits
        memoryThreshold = try settings.int("smtp.memory_threshold", default: defaults.memoryThreshold)
        shutdownGraceSeconds = try settings.int("shutdown.grace_seconds", default: defaults.shutdownGraceSeconds)
        metricsHost = try settings.string("metrics.host", default: defaults.metricsHost)
        metricsPort = try settings.optionalString("metrics.port").map { value throws(IntakeConfigurationError) in
            guard let port = Int(value), (0...65535).contains(port) else { throw .init("metrics.port must be 0…65535, not \(value)") }
            return port
        }
        logLevel = try settings.string("log.level", default: defaults.logLevel)
        adminSocketPath = try settings.optionalString("admin.socket")
        adminGroup = try settings.optionalString("admin.group")
        try validate()
    }

    /// Checks values that would make the daemon misbehave, with a message naming the key.
    public func validate() throws(IntakeConfigurationError) {
        guard (0...65535).contains(smtpPort) else { throw .init("smtp.port must be 0…65535, not \(smtpPort)") }
        guard !dropboxDomains.isEmpty else { throw .init("dropbox.domains must name at least one domain") }
        for domain in dropboxDomains where !Self.isDomainName(domain) {
            throw .init("dropbox.domains must be domain names such as dropbox.example.com, not \"\(domain)\"")
        }
        guard (tlsCertificatePath == nil) == (tlsPrivateKeyPath == nil) else {
            throw .init("smtp.tls.certificate and smtp.tls.private_key must be set together")
        }
        guard limits.maxCommandLineLength >= 512 else {
            throw .init("smtp.max_command_line_length must be at least 512 (RFC 5321 4.5.3.1.4)")
        }
        guard limits.maxDataLineLength >= 1000 else { throw .init("smtp.max_data_line_length must be at least 1000 (RFC 5321 4.5.3.1.6)") }
        guard limits.maxRecipients >= 1 else { throw .init("smtp.max_recipients must be at least 1") }
        guard limits.maxMessageSize >= 1024 else { throw .init("smtp.max_message_size must be at least 1024") }
        guard limits.idleTimeoutSeconds >= 1 else { throw .init("smtp.idle_timeout_seconds must be at least 1") }
        guard limits.idleTimeoutUnderLoadSeconds >= 1 else { throw .init("smtp.idle_timeout_under_load_seconds must be at least 1") }
        guard limits.maxConnections >= 1, limits.maxConnectionsPerIP >= 1 else {
            throw .init("smtp.max_connections and smtp.max_connections_per_ip must be at least 1")
        }
        guard memoryThreshold >= 4096 else { throw .init("smtp.memory_threshold must be at least 4096") }
        guard databaseMaxSize >= 0 else { throw .init("database.max_size must not be negative") }
        guard (16...1_000_000).contains(checkpointPages) else {
            throw .init("database.checkpoint_pages must be between 16 and 1000000")
        }
        guard filingLimits.maxContactsPerMessage >= 1 else { throw .init("filing.max_contacts_per_message must be at least 1") }
        guard filingLimits.maxNoteTextOctets >= 1024 else { throw .init("filing.max_note_text_octets must be at least 1024") }
        guard shutdownGraceSeconds >= 0 else { throw .init("shutdown.grace_seconds must not be negative") }
        guard delivery != .filing || resolvedAdminSocketPath.utf8.count <= 107 else {
            throw .init("admin.socket must be at most 107 octets long (a Unix socket path), not \(resolvedAdminSocketPath)")
        }
    }

    /// Every key `intaked` reads (the table above).
    public static let keys: [String] = [
        "data_dir", "dropbox.domains", "delivery", "database.path", "database.max_size", "database.checkpoint_pages",
        "filing.max_contacts_per_message", "filing.max_note_text_octets",
        "smtp.host", "smtp.port", "smtp.hostname", "smtp.tls.certificate", "smtp.tls.private_key", "smtp.max_message_size",
        "smtp.max_recipients", "smtp.max_errors", "smtp.max_received_headers", "smtp.max_command_line_length",
        "smtp.max_data_line_length", "smtp.idle_timeout_seconds", "smtp.idle_timeout_under_load_seconds", "smtp.max_connections",
        "smtp.max_connections_per_ip",
        "smtp.memory_threshold", "metrics.host", "metrics.port", "admin.socket", "admin.group", "shutdown.grace_seconds",
        "log.level",
    ]

    /// A key's name in the environment, after `INTAKE_`: `smtp.port` → `SMTP_PORT`.
    public static func environmentName(_ key: String) -> String {
        key.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }

    /// `nil` for a key `intaked` reads; else why it is refused, with the nearest known key: a
    /// misspelt key would otherwise leave its setting at the default without a word. With
    /// `exactly` (a YAML file, whose keys are looked up as written) the key must be spelt as in
    /// the table; else any spelling the environment gives it will do (`--set`, `INTAKE_`).
    public static func unknownKeyProblem(_ key: String, exactly: Bool = false) -> String? {
        let name = environmentName(key)
        guard !keys.contains(where: { exactly ? $0 == key : environmentName($0) == name }) else { return nil }
        let nearest = keys.min { editDistance($0, key.lowercased()) < editDistance($1, key.lowercased()) }
        let suggestion = nearest.flatMap { editDistance($0, key.lowercased()) <= 3 ? "; did you mean \($0)?" : nil }
        return "\(key) is not a setting\(suggestion ?? "; the README lists every key")"
    }

    /// The number of one-character insertions, deletions and substitutions that make `a` into `b`.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }

    /// The admin socket in use.
    public var resolvedAdminSocketPath: String { adminSocketPath ?? dataDirectory + "/admin.sock" }

    /// The database file in use.
    public var resolvedDatabasePath: String { databasePath ?? dataDirectory + "/intake.sqlite" }

    /// A domain name: dot-separated labels of letters, digits and inner hyphens (RFC 1035 §2.3.1),
    /// letters beyond ASCII allowed (an IDN in its Unicode form).
    static func isDomainName(_ name: String) -> Bool {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        return name.utf8.count <= 253
            && labels.allSatisfy { label in
                !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                    && label.allSatisfy { $0 == "-" || $0.isLetter || $0.isNumber }
            }
    }

    static func systemHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }
}

/// Reads typed values: a missing key takes its default, a value of the wrong type is an error
/// that names the key (never a silent fallback to the default).
private struct Settings {
    let reader: ConfigReader

    func int(_ key: String, default value: Int) throws(IntakeConfigurationError) -> Int {
        try read(key, "a whole number") { try reader.requiredInt(forKey: ConfigKey(key)) } ?? value
    }

    /// The value as it was given, for an error that says what was wrong with it.
    private func given(_ key: String) -> String? {
        try? reader.requiredString(forKey: ConfigKey(key))
    }

    func string(_ key: String, default value: String) throws(IntakeConfigurationError) -> String {
        try optionalString(key) ?? value
    }

    func optionalString(_ key: String) throws(IntakeConfigurationError) -> String? {
        try read(key, "a string") { try reader.requiredString(forKey: ConfigKey(key)) }
    }

    /// A list, or one string of comma-separated items (as the environment and `--set` give it,
    /// and as a YAML file may: `domains: a.example, b.example`).
    func stringArray(_ key: String, default value: [String]) throws(IntakeConfigurationError) -> [String] {
        if let list = try? reader.requiredStringArray(forKey: ConfigKey(key)) { return list }
        guard
            let text = try read(
                key, "a list of strings, or one string of comma-separated items", { try reader.requiredString(forKey: ConfigKey(key)) })
        else { return value }
        return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    private func read<Value>(_ key: String, _ kind: String, _ body: () throws -> Value) throws(IntakeConfigurationError) -> Value? {
        do {
            return try body()
        } catch {
            // swift-configuration's errors are not public; a missing key is told by its message.
            if "\(error)".hasPrefix("Missing required config value") { return nil }
            throw IntakeConfigurationError("\(key) must be \(kind)\(given(key).map { ", not \($0)" } ?? "")")
        }
    }
}

/// Why the daemon cannot start now, though it may later (a database another program holds
/// locked): `intaked` exits with EX_TEMPFAIL (75), which a service manager restarts after.
public struct IntakeTemporaryError: Error, CustomStringConvertible, Sendable {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// A configuration value that cannot be used, with a message that names the key.
public struct IntakeConfigurationError: Error, CustomStringConvertible, Sendable {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
