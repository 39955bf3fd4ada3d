import ArgumentParser
import Foundation
import Configuration
import IntakeServer
import Logging
import SystemPackage
import Yams

/// `intaked`: the Intake daemon. Receives mail for the dropbox domains over SMTP.
@main
struct Intaked: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "intaked",
        abstract: "Intake: the email dropbox daemon. Receives mail for the dropbox domains over SMTP.",
        discussion: """
            Runs with no configuration at all: SMTP on 127.0.0.1:2525, data in ./intake-data.

            Every setting can come from a YAML file (--config or INTAKE_CONFIG), an environment \
            variable (INTAKE_ + the key in upper case, dots as underscores: INTAKE_SMTP_PORT), or \
            --set KEY=VALUE; the README lists every key.
            """
    )

    @Option(name: .long, help: "A YAML configuration file.")
    var config: String?

    @Option(name: .long, help: "The data folder (data_dir).")
    var dataDir: String?

    @Option(name: .long, help: "The address to listen on (smtp.host).")
    var smtpHost: String?

    @Option(name: .long, help: "The port to listen on; 0 picks a free port (smtp.port).")
    var smtpPort: Int?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (log.level).")
    var logLevel: String?

    @Option(
        name: .customLong("set"), help: ArgumentHelp("Any configuration key, e.g. --set smtp.max_recipients=50.", valueName: "key=value"))
    var settings: [String] = []

    /// SIGHUP's default action ends the process; its handler (a TLS reload) is set up only once
    /// the services start, after the database is open. Until then it is ignored, from before the
    /// command line is read.
    static func main() async {
        signal(SIGHUP, SIG_IGN)
        // Before the daemon starts its threads: an arena glibc has made stays.
        MallocTuning.returnLargeBuffersToTheSystem()
        MallocTuning.limitArenas(
            processors: ProcessInfo.processInfo.activeProcessorCount, environment: ProcessInfo.processInfo.environment)
        await main(nil)
    }

    func run() async throws {
        // Command-line values go through the same string parsing as environment variables, so
        // `--set smtp.max_recipients=50` and `INTAKE_SMTP_MAX_RECIPIENTS=50` mean the same.
        var values: [String: String] = [:]
        func normalised(_ key: String) -> String {
            key.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
        }
        func set(_ key: String, _ value: String) {
            values[normalised(key)] = value
        }
        for setting in settings {
            guard let equals = setting.firstIndex(of: "="), equals != setting.startIndex else {
                throw ValidationError("--set takes KEY=VALUE, not \(setting)")
            }
            let key = String(setting[..<equals])
            if let problem = IntakeConfiguration.unknownKeyProblem(key) { throw Self.fail("configuration: --set \(problem)") }
            set(key, String(setting[setting.index(after: equals)...]))
        }
        // INTAKE_ variables that name no setting are likely typos, but may belong to something
        // else: a warning, not a failure.
        for name in ProcessInfo.processInfo.environment.keys.sorted() where name.hasPrefix("INTAKE_") && name != "INTAKE_CONFIG" {
            if IntakeConfiguration.unknownKeyProblem(String(name.dropFirst("INTAKE_".count))) != nil {
                FileHandle.standardError.write(
                    Data("intaked: warning: the environment variable \(name) names no setting; it is ignored\n".utf8))
            }
        }
        // A shortcut and `--set` for the same key: which one was meant is not clear.
        func shortcut(_ option: String, _ key: String, _ value: String?) throws {
            guard let value else { return }
            // However `--set` spelt the key (smtp.port, SMTP_PORT): it is in `values` already.
            if values[normalised(key)] != nil {
                throw Self.fail("configuration: \(option) and --set \(key)=… both set \(key); give one")
            }
            set(key, value)
        }
        try shortcut("--data-dir", "data_dir", dataDir)
        try shortcut("--smtp-host", "smtp.host", smtpHost)
        try shortcut("--smtp-port", "smtp.port", smtpPort.map(String.init))
        try shortcut("--log-level", "log.level", logLevel)

        let environment = EnvironmentVariablesProvider()
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(environmentVariables: values),
            environment.prefixKeys(with: "intake"),
        ]
        let configPath = config ?? ConfigReader(provider: environment).string(forKey: "intake.config")
        // A file that is empty or all comments sets nothing: every key takes its default.
        if let configPath, try Self.checkConfigurationFile(configPath) {
            do {
                providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(configPath)))
            } catch {
                throw Self.fail("cannot read the configuration file \(configPath): \(error)")
            }
        }
        let configuration: IntakeConfiguration
        do {
            configuration = try IntakeConfiguration(reader: ConfigReader(providers: providers))
        } catch {
            throw Self.fail("configuration: \(error)")
        }
        guard let level = Logger.Level(rawValue: configuration.logLevel) else {
            throw Self.fail("configuration: log.level must be one of trace, debug, info, notice, warning, error, critical")
        }
        LoggingSystem.bootstrap { label in KeyValueLogHandler(label: label, level: level) }
        let logger = Logger(label: "intake")
        do {
            try await IntakeServer(configuration: configuration, logger: logger).run()
        } catch let error as IntakeConfigurationError {
            logger.critical("cannot start: \(error)")
            throw Self.fail("\(error)")
        } catch let error as ListenError {
            logger.critical("cannot start: \(error)")
            throw Self.fail("\(error)")
        } catch let error as IntakeTemporaryError {
            logger.critical("cannot start: \(error)")
            throw Self.fail("\(error)", status: 75)  // EX_TEMPFAIL
        }
    }

    /// Reads the YAML file: it must be readable, parse, and name only settings (nested, as
    /// `smtp: {port: 25}`, or dotted, as `smtp.port: 25`).
    /// - Returns: whether it sets anything (`false` when it is empty or all comments).
    static func checkConfigurationFile(_ path: String) throws -> Bool {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            var isFolder: ObjCBool = false
            let reason =
                !FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
                ? "no such file" : isFolder.boolValue ? "it is a folder" : "it cannot be read as UTF-8 text (or permission is denied)"
            throw fail("cannot read the configuration file \(path): \(reason)")
        }
        let document: Any?
        do {
            document = try Yams.load(yaml: text)
        } catch {
            let first = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            throw fail("the configuration file \(path) is not valid YAML: \(first)")
        }
        // Nothing, or a document marker alone (`---`): no settings.
        guard let document, !(document is NSNull), (document as? String)?.isEmpty != true else { return false }
        guard let mapping = document as? [String: Any] else {
            throw fail("the configuration file \(path) must be a mapping of settings, such as smtp: {port: 2525}")
        }
        for key in flattenedKeys(mapping) {
            if let problem = IntakeConfiguration.unknownKeyProblem(key, exactly: true) {
                throw fail("configuration file \(path): \(problem)")
            }
        }
        return true
    }

    /// The dotted keys of the leaves of a YAML mapping: `smtp: {tls: {certificate: x}}` →
    /// `smtp.tls.certificate`.
    static func flattenedKeys(_ mapping: [String: Any], prefix: String = "") -> [String] {
        mapping.keys.sorted().flatMap { key -> [String] in
            let path = prefix.isEmpty ? key : prefix + "." + key
            if let nested = mapping[key] as? [String: Any] { return flattenedKeys(nested, prefix: path) }
            return [path]
        }
    }

    /// Prints the message on standard error and exits with `status`, EX_CONFIG (78) unless given.
    static func fail(_ message: String, status: Int32 = 78) -> ExitCode {
        FileHandle.standardError.write(Data("intaked: \(message)\n".utf8))
        return ExitCode(status)
    }
}
