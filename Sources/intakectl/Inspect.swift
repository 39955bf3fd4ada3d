import ArgumentParser
import Foundation
import MailParser

/// `intakectl inspect FILE.eml [--json]`: what Intake reads in a message, offline.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what Intake reads in a message file: people, forwarded originals, new text, refs, attachments, defects."
    )

    @Argument(help: "The message file (.eml, raw RFC 5322 bytes).")
    var file: String

    @Flag(help: "Print the stable JSON form (sorted keys).")
    var json = false

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CannotRead(path: file)
        }
        let message = MailMessage.parse(data)
        let report = InspectReport(message)
        if json {
            print(try report.jsonString())
        } else {
            print(report.humanReadable(), terminator: "")
        }
    }
}

/// The message file could not be read (the only case where `inspect` exits non-zero).
struct CannotRead: Error, CustomStringConvertible {
    var path: String
    var description: String { "cannot read \(path)" }
}
