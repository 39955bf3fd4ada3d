import AdminAPI
import ArgumentParser
import Foundation

// The CRM records and the message log: contacts, companies, notes, cases, opportunities, tasks,
// messages, status and backup (see AdminCommands.swift for the directory groups).

// MARK: contact, company, note

struct ContactCommands: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contact", abstract: "Contacts.", subcommands: [ContactCreate.self, ContactList.self, ContactShow.self])
}

let contactColumns = ["id", "name", "emails", "company"]

struct ContactCreate: AdminVerb {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a contact (and its company, as filing would), e.g. to assign an unmatched message to.")
    static let command = "contact.create"
    static let columns = contactColumns
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The organisation: id or name.") var org: String
    @Option(help: "The contact's address.") var email: String
    @Option(help: "The contact's name (default: from the address).") var name: String?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("org", org)
        params.string("email", email)
        params.string("name", name)
        return params.values
    }
}

struct ContactList: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List contacts.")
    static let command = "contact.list"
    static let columns = contactColumns
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The organisation: id or name.") var org: String
    @Option(help: "Only the contact with this address.") var email: String?
    @Option(help: "Only contacts at this company (id or domain).") var company: String?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("org", org)
        params.string("email", email)
        params.reference("company", company)
        return params.values
    }
}

struct ContactShow: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a contact with its notes and messages.")
    static let command = "contact.show"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The contact: id or email.") var contact: String
    @Option(help: "The organisation, when an email is given.") var org: String?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("contact", contact)
        params.reference("org", org)
        return params.values
    }
}

struct CompanyCommands: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "company", abstract: "Companies.", subcommands: [CompanyList.self, CompanyShow.self])
}

struct CompanyList: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List companies.")
    static let command = "company.list"
    static let columns = ["id", "name", "domains", "contacts"]
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The organisation: id or name.") var org: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("org", org)
        return params.values
    }
}

struct CompanyShow: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a company.")
    static let command = "company.show"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The company: id or domain.") var company: String
    @Option(help: "The organisation, when a domain is given.") var org: String?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("company", company)
        params.reference("org", org)
        return params.values
    }
}

struct NoteCommands: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "note", abstract: "Notes.", subcommands: [NoteList.self])
}

struct NoteList: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List notes.")
    static let command = "note.list"
    static let columns = ["id", "contact", "message", "author", "created_at", "text"]
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The organisation: id or name.") var org: String
    @Option(help: "Only this contact's notes (id or email).") var contact: String?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("org", org)
        params.reference("contact", contact)
        return params.values
    }
}

// MARK: case, opportunity, task

struct CaseCommands: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "case", abstract: "Cases.", subcommands: [CaseList.self, CaseShow.self])
}

struct CaseList: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List cases.")
    static let command = "case.list"
    static let columns = ["id", "ref", "title", "status", "contacts", "messages"]
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The organisation: id or name.") var org: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("org", org)
        return params.values
    }
}

struct CaseShow: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a case.")
    static let command = "case.show"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(name: .customLong("case"), help: "The case: id or reference (CS1001).") var record: String
    @Option(help: "The organisation, when a reference is given.") var org: String?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("case", record)
        params.reference("org", org)
        return params.values
    }
}

struct OpportunityCommands: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "opportunity", abstract: "Opportunities.", subcommands: [OpportunityList.self, OpportunityShow.self])
}

struct OpportunityList: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List opportunities.")
    static let command = "opportunity.list"
    static let columns = ["id", "ref", "title", "stage", "contacts", "messages"]
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The organisation: id or name.") var org: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("org", org)
        return params.values
    }
}

struct OpportunityShow: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show an opportunity.")
    static let command = "opportunity.show"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The opportunity: id or reference (CO1001).") var opportunity: String
    @Option(help: "The organisation, when a reference is given.") var org: String?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("opportunity", opportunity)
        params.reference("org", org)
        return params.values
    }
}

struct TaskCommands: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "task", abstract: "Tasks.", subcommands: [TaskList.self])
}

struct TaskList: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List tasks.")
    static let command = "task.list"
    static let columns = ["id", "title", "due", "owner", "contacts", "message"]
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The organisation: id or name.") var org: String
    @Option(help: "Only this owner's tasks (id or primary email).") var user: String?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("org", org)
        params.reference("user", user)
        return params.values
    }
}

// MARK: message

struct MessageCommands: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "message",
        abstract: "The message log and the kept messages.",
        subcommands: [MessageList.self, MessageShow.self, MessageRaw.self, MessageAssign.self, MessageReprocess.self])
}

struct MessageList: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The message log, newest first.")
    static let command = "message.list"
    static let columns = ["id", "message", "received_at", "from", "subject", "users", "kind", "outcome", "reason"]
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The organisation: id or name (default: every one, and postmaster).") var org: String?
    @Option(help: "Only messages to this user's dropbox.") var user: String?
    @Option(help: "filed, refused, duplicate, automated or unmatched.") var outcome: String?
    @Option(help: "At most this many rows (default 100).") var limit: Int?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("org", org)
        params.reference("user", user)
        params.string("outcome", outcome)
        params.int("limit", limit)
        return params.values
    }
}

struct MessageShow: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a kept message's parsed summary.")
    static let command = "message.show"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The message id (the MESSAGE column of message list).") var message: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("message", message)
        return params.values
    }
}

struct MessageRaw: AdminVerb {
    static let configuration = CommandConfiguration(
        commandName: "raw", abstract: "Print a kept message as received (with --json: base64 in the result).")
    static let command = "message.raw"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The message id (the MESSAGE column of message list).") var message: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("message", message)
        return params.values
    }

    func render(_ result: JSONValue) -> String {
        guard let encoded = result["raw"]?.stringValue, let data = Data(base64Encoded: encoded) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
}

struct MessageAssign: AdminVerb {
    static let configuration = CommandConfiguration(
        commandName: "assign", abstract: "File a message by hand under a contact, a case or an opportunity.")
    static let command = "message.assign"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The message id (the MESSAGE column of message list).") var message: String
    @Option(help: "A contact: id or email.") var contact: String?
    @Option(name: .customLong("case"), help: "A case: id or reference (CS1001).") var record: String?
    @Option(help: "An opportunity: id or reference (CO1001).") var opportunity: String?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("message", message)
        params.reference("contact", contact)
        params.reference("case", record)
        params.reference("opportunity", opportunity)
        return params.values
    }
}

struct MessageReprocess: AdminVerb {
    static let configuration = CommandConfiguration(
        commandName: "reprocess", abstract: "Run the filing rules again on a kept message.")
    static let command = "message.reprocess"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The message id (the MESSAGE column of message list).") var message: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("message", message)
        return params.values
    }
}

// MARK: status

struct StatusCommand: AdminVerb {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "The daemon's version, uptime, listeners, counts and database size.")
    static let command = "status"
    @OptionGroup var connection: AdminConnectionOptions
    func params() -> [String: JSONValue] { [:] }
}

/// The admin command groups, registered in `IntakeCtl`.
let adminGroups: [any ParsableCommand.Type] = [
    OrgCommands.self, UserCommands.self, SenderCommands.self, ExclusionCommands.self, SettingsCommands.self, ContactCommands.self,
    CompanyCommands.self, NoteCommands.self, CaseCommands.self,
    OpportunityCommands.self, TaskCommands.self, MessageCommands.self, AttachmentCommands.self, StatusCommand.self, BackupCommand.self,
]
