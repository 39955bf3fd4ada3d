import AdminAPI
import ArgumentParser
import Foundation

/// `intakectl attachment …`: attachments found by the SHA-256 of their content.
struct AttachmentCommands: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attachment", abstract: "Attachments, by the SHA-256 of their content.",
        subcommands: [AttachmentList.self, AttachmentGet.self])
}

struct AttachmentList: AdminVerb {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "The kept messages that carry the attachment of a SHA-256.")
    static let command = "attachment.list"
    static let columns = ["message", "received_at", "subject", "filename", "content_type", "size"]
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The SHA-256 of the attachment's content (64 hex digits).") var sha256: String
    @Option(help: "The organisation: id or name (default: every one).") var org: String?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.string("sha256", sha256)
        params.reference("org", org)
        return params.values
    }
}

struct AttachmentGet: AdminVerb {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Write the content of the attachment of a SHA-256 (with --json: one piece of it, base64, from --offset).")
    static let command = "attachment.get"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The SHA-256 of the attachment's content (64 hex digits).") var sha256: String
    @Option(help: "The organisation: id or name (default: every one).") var org: String?
    @Option(help: "The file to write it to (default: standard output).") var output: String?
    @Option(help: "With --json: the octet the piece starts at.") var offset: Int?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.string("sha256", sha256)
        params.reference("org", org)
        params.int("offset", offset)
        return params.values
    }

    /// Asks for the pieces one after the other and writes them out.
    mutating func run() throws {
        if connection.json {
            print(String(decoding: try AdminFraming.encoder().encode(try call(from: offset ?? 0)), as: UTF8.self))
            return
        }
        var content = Data()
        var size = 0
        repeat {
            let result = try call(from: content.count)
            guard let encoded = result["content"]?.stringValue, let piece = Data(base64Encoded: encoded),
                let total = result["size"]?.intValue
            else { throw ExitCode(1) }
            size = Int(total)
            content += piece
            if piece.isEmpty { break }
        } while content.count < size
        guard let output else {
            FileHandle.standardOutput.write(content)
            return
        }
        do {
            try content.write(to: URL(fileURLWithPath: output))
        } catch {
            FileHandle.standardError.write(Data("intakectl: cannot write \(output): \(error.localizedDescription)\n".utf8))
            throw ExitCode(1)
        }
        print("\(output): \(content.count) octets")
    }

    private func call(from offset: Int) throws -> JSONValue {
        var params = params()
        params["offset"] = .int(Int64(offset))
        return try AdminVerbRunner.call(Self.command, params, socketPath: connection.socketPath)
    }
}
