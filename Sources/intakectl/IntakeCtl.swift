import ArgumentParser

/// The Intake admin command line: `intakectl GROUP VERB …`.
///
/// Admin groups that talk to the daemon's socket are added as subcommands; `inspect` works
/// offline on a message file.
@main
struct IntakeCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "intakectl",
        abstract: "Administer Intake and inspect how it reads a message.",
        subcommands: [Inspect.self, BenchParse.self] + adminGroups
    )

    /// Runs the command line, taking the connection options (`--socket`, `--json`) before the
    /// subcommand too: `intakectl --socket /run/intake/admin.sock org list`.
    static func main() {
        main(AdminConnectionOptions.movedAfterSubcommand(Array(CommandLine.arguments.dropFirst())))
    }
}
