import AdminAPI
import ArgumentParser
import Foundation

/// Options every admin command takes: which socket, and JSON or a table.
struct AdminConnectionOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The daemon's admin socket. Default: $INTAKE_ADMIN_SOCKET, else ./intake-data/admin.sock when it exists, else /run/intake/admin.sock.",
            valueName: "path"))
    var socket: String?

    @Flag(help: "Print the command's result as JSON, exactly as the daemon sent it.")
    var json = false

    /// The socket to use: `--socket`, `$INTAKE_ADMIN_SOCKET`, `./intake-data/admin.sock`, `/run/intake/admin.sock`.
    var socketPath: String {
        if let socket { return socket }
        if let fromEnvironment = ProcessInfo.processInfo.environment["INTAKE_ADMIN_SOCKET"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        if FileManager.default.fileExists(atPath: "./intake-data/admin.sock") { return "./intake-data/admin.sock" }
        return "/run/intake/admin.sock"
    }
}

extension AdminConnectionOptions {
    /// `arguments` with the connection options written before the subcommand moved to its end,
    /// where each admin command declares them (argument parsing takes a subcommand's options
    /// only after its name).
    static func movedAfterSubcommand(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var rest = arguments[...]
        while let first = rest.first {
            if first == "--json" || first.hasPrefix("--socket=") {
                leading.append(first)
                rest = rest.dropFirst()
            } else if first == "--socket", rest.count >= 2 {
                leading += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else {
                break
            }
        }
        // Alone, they are left for the parser to refuse (no subcommand was named).
        guard !leading.isEmpty, !rest.isEmpty else { return arguments }
        // Before a `--`, after which they would be arguments, not options.
        if let terminator = rest.firstIndex(of: "--") {
            return Array(rest[..<terminator]) + leading + Array(rest[terminator...])
        }
        return Array(rest) + leading
    }
}

/// An `intakectl GROUP VERB` command: one admin command with its parameters.
protocol AdminVerb: ParsableCommand {
    /// The admin command it sends (`user.create`).
    static var command: String { get }
    /// The columns of the table its list result is shown as.
    static var columns: [String] { get }
    var connection: AdminConnectionOptions { get }
    /// The request's parameters from the options.
    func params() -> [String: JSONValue]
    /// The result as people read it.
    func render(_ result: JSONValue) -> String
}

extension AdminVerb {
    static var columns: [String] { [] }

    func render(_ result: JSONValue) -> String {
        AdminOutput.render(result, columns: Self.columns)
    }

    mutating func run() throws {
        let result = try AdminVerbRunner.call(Self.command, params(), socketPath: connection.socketPath)
        if connection.json {
            print(String(decoding: try AdminFraming.encoder().encode(result), as: UTF8.self))
        } else {
            print(render(result), terminator: "")
        }
    }
}

/// Sends one command and turns a failure into a message on standard error and a non-zero exit.
enum AdminVerbRunner {
    static func call(_ command: String, _ params: [String: JSONValue], socketPath: String) throws -> JSONValue {
        let response: AdminResponse
        do {
            let client = try AdminClient(socketPath: socketPath)
            defer { client.close() }
            response = try client.call(command, params)
        } catch {
            FileHandle.standardError.write(Data("intakectl: \(error.description)\n".utf8))
            throw ExitCode(69)
        }
        if let error = response.error {
            FileHandle.standardError.write(Data("intakectl: \(commandLineWording(error.message)) (\(error.code.rawValue))\n".utf8))
            throw ExitCode(1)
        }
        return response.result ?? .null
    }

    /// The daemon's message in the words of the command line: it names the protocol's parameters
    /// and commands (`params.contact`, `message.assign`), which here are options and subcommands
    /// (`--contact`, `message assign`).
    static func commandLineWording(_ message: String) -> String {
        var words = message
        while let range = words.range(of: #"(?<![^\s(])params\.[a-z_]+"#, options: .regularExpression) {
            let name = words[range].dropFirst("params.".count).replacingOccurrences(of: "_", with: "-")
            words.replaceSubrange(range, with: "--" + name)
        }
        // A command's name as a word of its own, not inside a value the message repeats
        // (`ops@case.list.example`).
        for command in AdminCommand.all.map(\.name) {
            let pattern = #"(^|[\s(])"# + NSRegularExpression.escapedPattern(for: command) + #"(?=$|[\s);:,])"#
            words = words.replacingOccurrences(
                of: pattern, with: "$1" + command.replacingOccurrences(of: ".", with: " "), options: .regularExpression)
        }
        return words
    }
}

/// Builds a parameter object, leaving out options that were not given.
struct Params {
    private(set) var values: [String: JSONValue] = [:]

    /// A string, or a whole number when it is one (ids).
    mutating func reference(_ name: String, _ value: String?) {
        guard let value else { return }
        values[name] = Int64(value).map(JSONValue.int) ?? .string(value)
    }

    mutating func string(_ name: String, _ value: String?) {
        if let value { values[name] = .string(value) }
    }

    mutating func int(_ name: String, _ value: Int?) {
        if let value { values[name] = .int(Int64(value)) }
    }

    /// Repeated options, each possibly comma-separated, as one list.
    mutating func list(_ name: String, _ value: [String]) {
        let items = value.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if !value.isEmpty { values[name] = .strings(items) }
    }
}
