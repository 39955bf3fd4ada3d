import AdminAPI
import ArgumentParser
import Foundation

// `intakectl GROUP VERB --flags` sends the admin command `GROUP.VERB` with the flags as its
// parameters (`--internal-domain` → `internal_domains`). See AdminAPI's `AdminCommand.all`.

// MARK: org

struct OrgCommands: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "org",
        abstract: "Organisations (tenants).", subcommands: [OrgCreate.self, OrgList.self, OrgShow.self])
}

struct OrgCreate: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create an organisation.")
    static let command = "org.create"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "Its name (unique).") var name: String
    @Option(help: "A domain of the organisation's own mail, never a contact (repeat, or comma-separate).") var internalDomain: [String] = []

    func params() -> [String: JSONValue] {
        var params = Params()
        params.string("name", name)
        params.list("internal_domains", internalDomain)
        return params.values
    }
}

struct OrgList: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the organisations.")
    static let command = "org.list"
    static let columns = ["id", "name", "internal_domains"]
    @OptionGroup var connection: AdminConnectionOptions
    func params() -> [String: JSONValue] { [:] }
}

struct OrgShow: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show an organisation and its settings.")
    static let command = "org.show"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The organisation: id or name.") var org: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("org", org)
        return params.values
    }
}

// MARK: user

struct UserCommands: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Users and their dropbox addresses.",
        subcommands: [UserCreate.self, UserList.self, UserShow.self, UserUpdate.self, UserDelete.self, UserRotate.self])
}

/// The columns of a user table.
let userColumns = ["id", "email", "name", "timezone", "senders"]

struct UserCreate: AdminVerb {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a user; shows their dropbox addresses.")
    static let command = "user.create"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The organisation: id or name.") var org: String
    @Option(help: "The user's primary email (unique).") var email: String
    @Option(help: "The user's name.") var name: String
    @Option(help: "IANA time zone for task due dates (default UTC).") var timezone: String?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("org", org)
        params.string("email", email)
        params.string("name", name)
        params.string("timezone", timezone)
        return params.values
    }
}

struct UserList: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List an organisation's users.")
    static let command = "user.list"
    static let columns = userColumns + ["addresses"]
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The organisation: id or name.") var org: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("org", org)
        return params.values
    }

    func render(_ result: JSONValue) -> String {
        // The note address is enough in a table; `user show` lists them all.
        let items = result["items"]?.arrayValue ?? []
        let shown = items.map { item -> JSONValue in
            guard case .object(var members) = item else { return item }
            members["addresses"] = item["addresses"]?["note"] ?? .null
            return .object(members)
        }
        return AdminOutput.table(shown, columns: Self.columns)
    }
}

struct UserShow: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a user and their dropbox addresses.")
    static let command = "user.show"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The user: id or primary email.") var user: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("user", user)
        return params.values
    }
}

struct UserDelete: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a user; their addresses stop working.")
    static let command = "user.delete"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The user: id or primary email.") var user: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("user", user)
        return params.values
    }
}

struct UserUpdate: AdminVerb {
    static let configuration = CommandConfiguration(
        commandName: "update", abstract: "Change a user's name or time zone; task due dates follow the new zone from then on.")
    static let command = "user.update"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The user: id or primary email.") var user: String
    @Option(help: "The user's new name.") var name: String?
    @Option(help: "The user's new IANA time zone (e.g. Europe/Berlin).") var timezone: String?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("user", user)
        params.string("name", name)
        params.string("timezone", timezone)
        return params.values
    }
}

struct UserRotate: AdminVerb {
    static let configuration = CommandConfiguration(
        commandName: "rotate", abstract: "Give a user new dropbox addresses; the old ones are refused from then on.")
    static let command = "user.rotate"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The user: id or primary email.") var user: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("user", user)
        return params.values
    }
}

// MARK: sender

struct SenderCommands: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sender",
        abstract: "Extra addresses a user sends from, trusted like their primary email.",
        subcommands: [SenderAdd.self, SenderRemove.self, SenderList.self])
}

struct SenderAdd: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Trust an extra sender address.")
    static let command = "sender.add"
    static let columns = ["email"]
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The user: id or primary email.") var user: String
    @Option(help: "The address to trust.") var email: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("user", user)
        params.string("email", email)
        return params.values
    }
}

struct SenderRemove: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Stop trusting an extra sender address.")
    static let command = "sender.remove"
    static let columns = ["email"]
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The user: id or primary email.") var user: String
    @Option(help: "The address to remove.") var email: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("user", user)
        params.string("email", email)
        return params.values
    }
}

struct SenderList: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List a user's trusted extra addresses.")
    static let command = "sender.list"
    static let columns = ["email"]
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The user: id or primary email.") var user: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("user", user)
        return params.values
    }
}

// MARK: exclusion

struct ExclusionCommands: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exclusion",
        abstract: "Addresses never made contacts: a@b.example, @b.example, local@*.",
        subcommands: [ExclusionAdd.self, ExclusionRemove.self, ExclusionList.self])
}

struct ExclusionAdd: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add an exclusion pattern.")
    static let command = "exclusion.add"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The organisation: id or name.") var org: String
    @Option(help: "Only for this user (id or primary email).") var user: String?
    @Option(help: "a@b.example, @b.example or local@*.") var pattern: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("org", org)
        params.reference("user", user)
        params.string("pattern", pattern)
        return params.values
    }
}

struct ExclusionRemove: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove an exclusion pattern.")
    static let command = "exclusion.remove"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The organisation: id or name.") var org: String
    @Option(help: "The user whose own pattern it is.") var user: String?
    @Option(help: "The pattern.") var pattern: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("org", org)
        params.reference("user", user)
        params.string("pattern", pattern)
        return params.values
    }
}

struct ExclusionList: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List exclusion patterns.")
    static let command = "exclusion.list"
    static let columns = ["id", "pattern", "user"]
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The organisation: id or name.") var org: String
    @Option(help: "Only this user's own patterns.") var user: String?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("org", org)
        params.reference("user", user)
        return params.values
    }
}

// MARK: settings

struct SettingsCommands: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "Organisation settings: create_contacts, company_from_domain, freemail_domains_extra.",
        subcommands: [SettingsGet.self, SettingsSet.self])
}

struct SettingsGet: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Show the settings, or one of them.")
    static let command = "settings.get"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The organisation: id or name.") var org: String
    @Option(help: "Only this setting.") var key: String?

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("org", org)
        params.string("key", key)
        return params.values
    }
}

struct SettingsSet: AdminVerb {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Change a setting.")
    static let command = "settings.set"
    @OptionGroup var connection: AdminConnectionOptions
    @Option(help: "The organisation: id or name.") var org: String
    @Option(help: "The setting.") var key: String
    @Option(help: "true / false, or a comma-separated list for freemail_domains_extra.") var value: String

    func params() -> [String: JSONValue] {
        var params = Params()
        params.reference("org", org)
        params.string("key", key)
        params.string("value", value)
        return params.values
    }
}
