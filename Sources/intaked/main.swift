import ArgumentParser
import Foundation
import Configuration
import IntakeServer
import Logging
import SystemPackage

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

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error (log.level).")
    var logLevel: String?

    @Option(
        name: .customLong("set"), help: ArgumentHelp("Any configuration key, e.g. --set smtp.max_recipients=50.", valueName: "key=value"))
    var settings: [String] = []

    func run() async throws {
        MallocTuning.returnLargeBuffersToTheSystem()
        // Command-line values go through the same string parsing as environment variables, so
        // `--set smtp.max_recipients=50` and `INTAKE_SMTP_MAX_RECIPIENTS=50` mean the same.
        var values: [String: String] = [:]
        func set(_ key: String, _ value: String) {
            values[key.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()] = value
        }
        for setting in settings {
            guard let equals = setting.firstIndex(of: "="), equals != setting.startIndex else {
                throw ValidationError("--set takes KEY=VALUE, not \(setting)")
            }
            set(String(setting[..<equals]), String(setting[setting.index(after: equals)...]))
        }
        if let dataDir { set("data_dir", dataDir) }
        if let smtpHost { set("smtp.host", smtpHost) }
        if let smtpPort { set("smtp.port", String(smtpPort)) }
        if let logLevel { set("log.level", logLevel) }

        let environment = EnvironmentVariablesProvider()
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(environmentVariables: values),
            environment.prefixKeys(with: "intake"),
        ]
        let configPath = config ?? ConfigReader(provider: environment).string(forKey: "intake.config")
        if let configPath {
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
        }
    }

    /// Prints the message on standard error and exits with EX_CONFIG (78).
    static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("intaked: \(message)\n".utf8))
        return ExitCode(78)
    }
}
