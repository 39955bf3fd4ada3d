/// The commands of the admin socket and the parameters each takes: the one list the daemon
/// checks requests against and `intakectl` is built from.
///
/// `org` takes an organisation's id or name, `user` a user's id or primary email, `contact` an id
/// or an email, `company` an id or a domain, `case` / `opportunity` an id or a reference
/// (`CS1001`, `CO1001`), `message` a stored message's id (the `message` field of `message.list`).
public struct AdminCommand: Sendable, Hashable {
    /// `GROUP.VERB`.
    public let name: String
    /// Parameters that must be given.
    public let required: [String]
    /// Parameters that may be given.
    public let optional: [String]
    /// What the command does, one line.
    public let summary: String

    public init(_ name: String, required: [String] = [], optional: [String] = [], _ summary: String) {
        self.name = name
        self.required = required
        self.optional = optional
        self.summary = summary
    }

    /// Every parameter the command knows.
    public var parameters: [String] { required + optional }

    /// Every command, in the order of the documentation.
    public static let all: [AdminCommand] = [
        AdminCommand("org.create", required: ["name"], optional: ["internal_domains"], "Create an organisation."),
        AdminCommand("org.list", "List the organisations."),
        AdminCommand("org.show", required: ["org"], "Show an organisation and its settings."),
        AdminCommand(
            "user.create", required: ["org", "email", "name"], optional: ["timezone"],
            "Create a user with a new dropbox token; the result has their dropbox addresses."),
        AdminCommand("user.list", required: ["org"], "List an organisation's users."),
        AdminCommand("user.show", required: ["user"], "Show a user and their dropbox addresses."),
        AdminCommand(
            "user.update", required: ["user"], optional: ["name", "timezone"],
            "Change a user's name or time zone (task due dates follow it from then on)."),
        AdminCommand("user.delete", required: ["user"], "Delete a user; their dropbox addresses stop working."),
        AdminCommand("user.rotate", required: ["user"], "Give a user a new token; every old dropbox address is refused from then on."),
        AdminCommand("sender.add", required: ["user", "email"], "Trust an extra address the user sends from."),
        AdminCommand("sender.remove", required: ["user", "email"], "Stop trusting an extra sender address."),
        AdminCommand("sender.list", required: ["user"], "List the user's trusted extra addresses."),
        AdminCommand(
            "exclusion.add", required: ["org", "pattern"], optional: ["user"],
            "Never make contacts of addresses matching a@b.example, @b.example or local@*."),
        AdminCommand("exclusion.remove", required: ["org", "pattern"], optional: ["user"], "Remove an exclusion pattern."),
        AdminCommand(
            "exclusion.list", required: ["org"], optional: ["user"],
            "List the organisation's exclusions (with user: that user's own)."),
        AdminCommand("settings.get", required: ["org"], optional: ["key"], "Show the organisation's settings, or one of them."),
        AdminCommand("settings.set", required: ["org", "key", "value"], "Change a setting."),
        AdminCommand(
            "contact.create", required: ["org", "email"], optional: ["name"],
            "Create a contact (and its company, as filing would), e.g. to assign an unmatched message to."),
        AdminCommand("contact.list", required: ["org"], optional: ["email", "company"], "List contacts, optionally by email or company."),
        AdminCommand("contact.show", required: ["contact"], optional: ["org"], "Show a contact with its notes and messages."),
        AdminCommand("company.list", required: ["org"], "List companies."),
        AdminCommand("company.show", required: ["company"], optional: ["org"], "Show a company with its contacts and messages."),
        AdminCommand("note.list", required: ["org"], optional: ["contact"], "List notes, optionally of one contact."),
        AdminCommand("case.list", required: ["org"], "List cases."),
        AdminCommand("case.show", required: ["case"], optional: ["org"], "Show a case."),
        AdminCommand("opportunity.list", required: ["org"], "List opportunities."),
        AdminCommand("opportunity.show", required: ["opportunity"], optional: ["org"], "Show an opportunity."),
        AdminCommand("task.list", required: ["org"], optional: ["user"], "List tasks, optionally of one owner."),
        AdminCommand(
            "message.list", optional: ["org", "user", "outcome", "limit"],
            "The message log, newest first (without org: every organisation and postmaster)."),
        AdminCommand("message.show", required: ["message"], "Show a stored message's parsed summary and where it is filed."),
        AdminCommand("message.raw", required: ["message"], "A stored message's raw bytes, base64."),
        AdminCommand(
            "message.assign", required: ["message"], optional: ["contact", "case", "opportunity"],
            "File a message by hand under a contact, a case or an opportunity (exactly one)."),
        AdminCommand("message.reprocess", required: ["message"], "Run the filing rules again on a kept message."),
        AdminCommand(
            "attachment.list", required: ["sha256"], optional: ["org"],
            "The kept messages that carry the attachment whose content has this SHA-256."),
        AdminCommand(
            "attachment.get", required: ["sha256"], optional: ["org", "offset"],
            "The content of the attachment of this SHA-256 (base64, at most 512 KiB from offset), read from the first kept message that carries it."
        ),
        AdminCommand("status", "Version, uptime, listeners, counts and database size."),
        AdminCommand(
            "backup", required: ["path"],
            "Copy the database to a new file (an absolute path the daemon can write) while mail keeps flowing."),
    ]

    /// The command named `name`, if there is one.
    public static func named(_ name: String) -> AdminCommand? {
        all.first { $0.name == name }
    }
}

/// A request's parameters, read with errors that name the field (`invalid`).
public struct AdminParams: Sendable {
    public let values: [String: JSONValue]

    public init(_ values: [String: JSONValue]) {
        self.values = values
    }

    /// Checks the request against the command's parameter list: every required one present and
    /// none unknown.
    public func check(against command: AdminCommand) throws(AdminError) {
        for name in values.keys.sorted() where !command.parameters.contains(name) {
            let known = command.parameters.isEmpty ? "it takes none" : "it takes \(command.parameters.joined(separator: ", "))"
            throw AdminError(.invalid, "params.\(name) is not a parameter of \(command.name); \(known)")
        }
        for name in command.required where values[name] == nil || values[name] == .null {
            throw AdminError(.invalid, "params.\(name) is missing; \(command.name) needs \(command.required.joined(separator: ", "))")
        }
    }

    /// A required string.
    public func string(_ name: String) throws(AdminError) -> String {
        guard let value = try optionalString(name) else { throw AdminError(.invalid, "params.\(name) is missing") }
        return value
    }

    /// An optional string; `null` counts as absent.
    public func optionalString(_ name: String) throws(AdminError) -> String? {
        switch values[name] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        case let other?: throw AdminError(.invalid, "params.\(name) must be a string, not \(other.typeName)")
        }
    }

    /// A required reference to something by id or by name: a string, or a whole number (an id).
    public func reference(_ name: String) throws(AdminError) -> String {
        guard let value = try optionalReference(name) else { throw AdminError(.invalid, "params.\(name) is missing") }
        return value
    }

    /// An optional reference: a string or a whole number.
    public func optionalReference(_ name: String) throws(AdminError) -> String? {
        switch values[name] {
        case nil, .null?: return nil
        case .string(let value)?:
            guard !value.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw AdminError(.invalid, "params.\(name) must not be empty")
            }
            return value.trimmingCharacters(in: .whitespaces)
        case .int(let value)?: return String(value)
        case let other?: throw AdminError(.invalid, "params.\(name) must be an id or a name, not \(other.typeName)")
        }
    }

    /// An optional whole number.
    public func optionalInt(_ name: String) throws(AdminError) -> Int? {
        switch values[name] {
        case nil, .null?: return nil
        case .int(let value)?: return Int(value)
        case let other?: throw AdminError(.invalid, "params.\(name) must be a whole number, not \(other.typeName)")
        }
    }

    /// An optional list of strings: a JSON list, or one comma-separated string.
    public func optionalStringList(_ name: String) throws(AdminError) -> [String]? {
        switch values[name] {
        case nil, .null?: return nil
        case .string(let value)?:
            return value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        case .array(let elements)?:
            var result: [String] = []
            for (index, element) in elements.enumerated() {
                guard case .string(let value) = element else {
                    throw AdminError(.invalid, "params.\(name)[\(index)] must be a string, not \(element.typeName)")
                }
                result.append(value)
            }
            return result
        case let other?: throw AdminError(.invalid, "params.\(name) must be a list of strings, not \(other.typeName)")
        }
    }

    /// A required value of any type.
    public func value(_ name: String) throws(AdminError) -> JSONValue {
        guard let value = values[name], value != .null else { throw AdminError(.invalid, "params.\(name) is missing") }
        return value
    }
}
