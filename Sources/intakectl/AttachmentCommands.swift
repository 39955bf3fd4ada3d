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
        commandName: "get", abstract: "Write the content of the attachment of a SHA-256 (with --json: base64 in the result).")
    static let command = "attachment.get"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The SHA-256 of the attachment's content (64 hex digits).") var sha256: String
    @Option(help: "The organisation: id or name (default: every one).") var org: String?
    @Option(help: "The file to write it to (default: standard output).") var output: String?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.string("sha256", sha256)
        params.reference("org", org)
        return params.values
    }

    func render(_ result: JSONValue) -> String {
        guard let encoded = result["content"]?.stringValue, let data = Data(base64Encoded: encoded) else { return "" }
        if let output {
            do {
                try data.write(to: URL(fileURLWithPath: output))
            } catch {
                FileHandle.standardError.write(Data("intakectl: cannot write \(output): \(error.localizedDescription)\n".utf8))
                Foundation.exit(1)
            }
            return "\(output): \(data.count) octets\n"
        }
        FileHandle.standardOutput.write(data)
        return ""
    }
}
