import AdminAPI
import ArgumentParser
import Foundation

/// `intakectl backup PATH`: a consistent copy of the database while the daemon runs.
struct BackupCommand: AdminVerb {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the database to a new file while mail keeps flowing (SQLite's online backup).",
        discussion: "The daemon writes the file: give a path it may write, absolute; an existing file is never overwritten."
    )
    static let command = "backup"
    @OptionGroup var connection: AdminConnectionOptions
    @Argument(help: "Where to write the copy.") var path: String

    /// A relative path is taken from the current folder, not the daemon's.
    func params() -> [String: JSONValue] {
        ["path": .string(path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path)]
    }
}
