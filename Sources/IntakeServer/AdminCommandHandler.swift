import AdminAPI
import Filing
import Foundation
import IntakeStore
import Logging
import Synchronization

/// The addresses the daemon listens on, as `status` reports them; filled in as listeners bind.
final class ListenerAddresses: Sendable {
    private let addresses = Mutex<[String: String]>([:])

    func set(_ name: String, _ address: String) { addresses.withLock { $0[name] = address } }

    var all: [String: String] { addresses.withLock { $0 } }
}

/// Carries out admin commands: reads a request's parameters, calls the store, and shapes the
/// result as the stable snake_case objects of the admin API. No I/O of its own besides the store;
/// the socket is ``AdminService``'s business.
struct AdminCommandHandler: Sendable {
    let database: IntakeDatabase
    let dropboxDomains: [String]
    let databasePath: String
    let listeners: ListenerAddresses
    let startedAt: Date
    let logger: Logger

    /// Commands that change something: logged at info.
    static let changes: Set<String> = [
        "org.create", "user.create", "user.update", "user.delete", "user.rotate", "sender.add", "sender.remove", "exclusion.add",
        "exclusion.remove",
        "settings.set", "message.assign", "message.reprocess",
    ]

    /// Answers one request. Every failure becomes an error response; none escapes.
    func handle(_ request: AdminRequest, peer: PeerCredentials) async -> AdminResponse {
        let started = ContinuousClock.now
        let response: AdminResponse
        do {
            guard let command = AdminCommand.named(request.command) else {
                throw AdminError(
                    .invalid, "unknown command \(request.command); known: \(AdminCommand.all.map(\.name).joined(separator: ", "))")
            }
            let params = AdminParams(request.params)
            try params.check(against: command)
            response = .success(id: request.id, try await run(command.name, params))
        } catch let error as AdminError {
            response = .failure(id: request.id, error)
        } catch let error as StoreError {
            response = .failure(id: request.id, Self.adminError(error))
        } catch {
            response = .failure(id: request.id, AdminError(.internal, "\(error)"))
        }
        let elapsed = (ContinuousClock.now - started).components
        let metadata: Logger.Metadata = [
            "admin.command": "\(request.command)", "admin.peer.uid": "\(peer.uid)",
            "admin.result": "\(response.error?.code.rawValue ?? "ok")",
            "duration_ms": "\(elapsed.seconds * 1000 + elapsed.attoseconds / 1_000_000_000_000_000)",
        ]
        if Self.changes.contains(request.command) {
            logger.info("admin command", metadata: metadata)
        } else {
            logger.debug("admin command", metadata: metadata)
        }
        if response.error?.code == .internal {
            logger.error("admin command failed", metadata: metadata.merging(["error": "\(response.error?.message ?? "")"]) { $1 })
        }
        return response
    }

    static func adminError(_ error: StoreError) -> AdminError {
        switch error.code {
        case .invalid: return AdminError(.invalid, error.message)
        case .notFound: return AdminError(.notFound, error.message)
        case .conflict: return AdminError(.conflict, error.message)
        case .forbidden: return AdminError(.forbidden, error.message)
        case .unavailable: return AdminError(.unavailable, error.message)
        case .full: return AdminError(.unavailable, error.message)
        case .internalError: return AdminError(.internal, error.message)
        }
    }

    // MARK: Commands

    private func run(_ command: String, _ params: AdminParams) async throws -> JSONValue {
        switch command {
        case "org.create":
            let record = try await database.createOrganisation(
                name: try params.string("name"), internalDomains: try params.optionalStringList("internal_domains") ?? [])
            return Self.organisation(try await database.organisation(String(record.id)))
        case "org.list":
            return .object(["items": .array(try await database.organisations().map(Self.organisation))])
        case "org.show":
            return Self.organisation(try await database.organisation(try params.reference("org")))

        case "user.create":
            let user = try await database.createUser(
                organisation: try params.reference("org"), email: try params.string("email"), name: try params.string("name"),
                timeZone: try params.optionalString("timezone") ?? "UTC")
            return try await userObject(user)
        case "user.list":
            let organisation = try await database.organisation(try params.reference("org")).organisation
            return .object(["items": .array(try await database.users(organisation: String(organisation.id)).map { user(organisation, $0) })]
            )
        case "user.show":
            return try await userObject(try await database.user(try params.reference("user")))
        case "user.update":
            return try await userObject(
                try await database.updateUser(
                    try params.reference("user"), name: try params.optionalString("name"), timeZone: try params.optionalString("timezone")))
        case "user.delete":
            let user = try await database.user(try params.reference("user"))
            let organisation = try await database.organisation(String(user.organisationID)).organisation
            return self.user(organisation, try await database.deleteUser(String(user.id)))
        case "user.rotate":
            return try await userObject(try await database.rotateToken(user: try params.reference("user")))

        case "sender.add":
            return Self.senders(try await database.addSender(user: try params.reference("user"), email: try params.string("email")))
        case "sender.remove":
            return Self.senders(try await database.removeSender(user: try params.reference("user"), email: try params.string("email")))
        case "sender.list":
            return Self.senders(try await database.user(try params.reference("user")))

        case "exclusion.add":
            let organisation = try params.reference("org")
            let user = try params.optionalReference("user")
            let pattern = try await database.addExclusion(organisation: organisation, user: user, pattern: try params.string("pattern"))
            let all = try await database.exclusions(organisation: organisation, user: user)
            guard let added = all.first(where: { $0.pattern == pattern && (user == nil ? $0.user == nil : $0.user != nil) }) else {
                throw AdminError(.internal, "the exclusion \(pattern) was not found after adding it")
            }
            return Self.exclusion(added)
        case "exclusion.remove":
            return Self.exclusion(
                try await database.removeExclusion(
                    organisation: try params.reference("org"), user: try params.optionalReference("user"),
                    pattern: try params.string("pattern")))
        case "exclusion.list":
            let all = try await database.exclusions(organisation: try params.reference("org"), user: try params.optionalReference("user"))
            return .object(["items": .array(all.map(Self.exclusion))])

        case "settings.get":
            let settings = Self.settings(try await database.settings(organisation: try params.reference("org")))
            guard let key = try params.optionalString("key") else { return settings }
            guard let value = settings[key] else {
                throw AdminError(
                    .invalid, "params.key: unknown setting \(key); known: \(OrganisationSettings.keys.joined(separator: ", "))")
            }
            return .object(["key": .string(key), "value": value])
        case "settings.set":
            let organisation = try params.reference("org")
            try await database.setSetting(organisation: organisation, key: try params.string("key"), value: try Self.settingText(params))
            return Self.settings(try await database.settings(organisation: organisation))

        case "contact.create":
            return Self.contact(
                try await database.createContact(
                    organisation: try params.reference("org"), email: try params.string("email"), name: try params.optionalString("name")))
        case "contact.list":
            let contacts = try await database.contacts(
                organisation: try params.reference("org"), email: try params.optionalString("email"),
                company: try params.optionalReference("company"))
            return .object(["items": .array(contacts.map(Self.contact))])
        case "contact.show":
            let details = try await database.contact(try params.reference("contact"), organisation: try params.optionalReference("org"))
            guard case .object(var object) = Self.contact(details.contact) else { return .null }
            object["notes"] = .array(details.notes.map(Self.note))
            object["messages"] = .array(details.messages.map(Self.messageBrief))
            return .object(object)
        case "company.list":
            return .object(["items": .array(try await database.companies(organisation: try params.reference("org")).map(Self.company))])
        case "company.show":
            let details = try await database.company(try params.reference("company"), organisation: try params.optionalReference("org"))
            guard case .object(var object) = Self.company(details.company) else { return .null }
            object["messages"] = .ints(details.messages)
            return .object(object)

        case "note.list":
            let organisation = try params.reference("org")
            var contactID: Int64?
            if let contact = try params.optionalReference("contact") {
                contactID = try await database.contact(contact, organisation: organisation).contact.id
            }
            return .object(["items": .array(try await database.notes(organisation: organisation, contact: contactID).map(Self.note))])

        case "case.list", "opportunity.list":
            let opportunities = command == "opportunity.list"
            let records = try await database.records(organisation: try params.reference("org"), opportunities: opportunities)
            return .object(["items": .array(records.map { Self.record($0, opportunity: opportunities) })])
        case "case.show":
            return Self.record(
                try await database.record(
                    try params.reference("case"), organisation: try params.optionalReference("org"), opportunities: false),
                opportunity: false)
        case "opportunity.show":
            return Self.record(
                try await database.record(
                    try params.reference("opportunity"), organisation: try params.optionalReference("org"), opportunities: true),
                opportunity: true)

        case "task.list":
            let tasks = try await database.tasks(organisation: try params.reference("org"), owner: try params.optionalReference("user"))
            return .object(["items": .array(tasks.map(Self.task))])

        case "message.list":
            let outcome = try params.optionalString("outcome")
            if let outcome, MessageOutcome(rawValue: outcome) == nil {
                throw AdminError(.invalid, "params.outcome must be one of filed, refused, duplicate, automated, unmatched, not \(outcome)")
            }
            let limit = try params.optionalInt("limit") ?? 100
            guard (1...10_000).contains(limit) else { throw AdminError(.invalid, "params.limit must be 1…10000, not \(limit)") }
            let entries = try await database.messageLog(
                organisation: try params.optionalReference("org"), user: try params.optionalReference("user"), outcome: outcome,
                limit: limit)
            return .object(["items": .array(entries.map(Self.logEntry))])
        case "message.show":
            return try await messageObject(try Self.messageID(params))
        case "message.raw":
            let id = try Self.messageID(params)
            let raw = try await database.rawMessage(id)
            return .object(["id": .int(id), "size": .int(Int64(raw.count)), "raw": .string(Data(raw).base64EncodedString())])
        case "message.assign":
            let id = try Self.messageID(params)
            let targets: [AssignTarget] = [
                try params.optionalReference("contact").map(AssignTarget.contact),
                try params.optionalReference("case").map(AssignTarget.case),
                try params.optionalReference("opportunity").map(AssignTarget.opportunity),
            ].compactMap { $0 }
            guard targets.count == 1 else {
                throw AdminError(.invalid, "message.assign needs exactly one of params.contact, params.case, params.opportunity")
            }
            _ = try await database.assign(message: id, to: targets[0], dropboxDomains: dropboxDomains)
            return try await messageObject(id)
        case "message.reprocess":
            let id = try Self.messageID(params)
            let result = try await database.reprocess(message: id, dropboxDomains: dropboxDomains)
            return .object([
                "previous_id": .int(id), "message": .optional(result.message),
                "results": .array(
                    result.results.map {
                        .object([
                            "recipient": .string($0.recipient), "outcome": .string($0.outcome.rawValue), "reason": .optional($0.reason),
                            "filed": .strings($0.filed), "unresolved_refs": .strings($0.unresolvedReferences),
                        ])
                    }),
            ])

        case "attachment.list":
            let items = try await database.attachments(
                sha256: try params.string("sha256"), organisation: try params.optionalReference("org"))
            return .object(["items": .array(items.map(Self.attachment))])
        case "attachment.get":
            let offset = try params.optionalInt("offset") ?? 0
            // The first piece is checked against the digest; the later ones come from the same part.
            let (attachment, content) = try await database.attachmentContent(
                sha256: try params.string("sha256"), organisation: try params.optionalReference("org"), verified: offset == 0)
            guard (0...content.count).contains(offset) else {
                throw AdminError(.invalid, "params.offset must be 0…\(content.count), the attachment's size, not \(offset)")
            }
            // A piece at a time: an answer is one line of at most 1 MiB, and base64 takes a third more.
            let piece = content[offset..<min(content.count, offset + Self.attachmentPiece)]
            return .object(
                Self.attachmentFields(attachment).merging([
                    "offset": .int(Int64(offset)), "content": .string(Data(piece).base64EncodedString()),
                ]) {
                    $1
                })

        case "status":
            return try await status()

        case "backup":
            let backup = try await database.backup(to: try params.string("path"))
            return .object(["path": .string(backup.path), "size": .int(Int64(backup.size))])

        default:
            throw AdminError(.internal, "the command \(command) is listed but has no handler")
        }
    }

    // MARK: Results

    static func organisation(_ view: OrganisationView) -> JSONValue {
        .object([
            "id": .int(view.organisation.id), "name": .string(view.organisation.name),
            "internal_domains": .strings(view.organisation.internalDomains), "settings": settings(view.settings),
        ])
    }

    static func settings(_ settings: OrganisationSettings) -> JSONValue {
        .object([
            "create_contacts": .bool(settings.createContacts), "company_from_domain": .bool(settings.companyFromDomain),
            "freemail_domains_extra": .strings(settings.freemailDomainsExtra),
        ])
    }

    /// A setting's value as the store takes it: booleans as `true` / `false`, lists comma-separated.
    static func settingText(_ params: AdminParams) throws(AdminError) -> String {
        switch try params.value("value") {
        case .string(let text): return text
        case .bool(let flag): return flag ? "true" : "false"
        case .array:
            return (try params.optionalStringList("value") ?? []).joined(separator: ",")
        case let other: throw AdminError(.invalid, "params.value must be a string, a boolean or a list of strings, not \(other.typeName)")
        }
    }

    private func userObject(_ user: UserRecord) async throws -> JSONValue {
        self.user(try await database.organisation(String(user.organisationID)).organisation, user)
    }

    private func user(_ organisation: OrganisationRecord, _ user: UserRecord) -> JSONValue {
        var addresses: [String: JSONValue] = [:]
        for (kind, address) in user.addresses(domain: dropboxDomains.first ?? "dropbox.localhost") {
            addresses[kind.rawValue] = .string(address)
        }
        return .object([
            "id": .int(user.id), "org": .string(organisation.name), "org_id": .int(organisation.id), "email": .string(user.email),
            "name": .string(user.name), "timezone": .string(user.timeZone), "senders": .strings(user.trustedAddresses),
            "addresses": .object(addresses),
        ])
    }

    static func senders(_ user: UserRecord) -> JSONValue {
        .object(["items": .array(user.trustedAddresses.map { .object(["email": .string($0)]) })])
    }

    static func exclusion(_ view: ExclusionView) -> JSONValue {
        .object(["id": .int(view.id), "pattern": .string(view.pattern), "user": .optional(view.user)])
    }

    static func contact(_ view: ContactView) -> JSONValue {
        .object([
            "id": .int(view.id), "name": .string(view.name), "emails": .strings(view.emails), "company": .optional(view.company),
            "company_id": .optional(view.companyID),
        ])
    }

    static func company(_ view: CompanyView) -> JSONValue {
        .object(["id": .int(view.id), "name": .string(view.name), "domains": .strings(view.domains), "contacts": .ints(view.contacts)])
    }

    static func note(_ view: NoteView) -> JSONValue {
        .object([
            "id": .int(view.id), "contact": .int(view.contact), "message": .optional(view.message), "author": .optional(view.author),
            "created_at": timestamp(view.createdAt), "text": .string(view.text),
        ])
    }

    static func record(_ view: RecordView, opportunity: Bool) -> JSONValue {
        .object([
            "id": .int(view.id), "ref": .string(view.ref), "title": .string(view.title),
            (opportunity ? "stage" : "status"): .string(view.state),
            "contacts": .ints(view.contacts), "messages": .ints(view.messages),
        ])
    }

    static func task(_ view: TaskView) -> JSONValue {
        .object([
            "id": .int(view.id), "title": .string(view.title), "due": .optional(view.due), "owner": .optional(view.owner),
            "contacts": .ints(view.contacts), "message": .optional(view.message),
        ])
    }

    /// The most octets of an attachment one `attachment.get` answers.
    static let attachmentPiece = 512 * 1024

    static func attachment(_ view: AttachmentView) -> JSONValue {
        .object(attachmentFields(view))
    }

    static func attachmentFields(_ view: AttachmentView) -> [String: JSONValue] {
        [
            "sha256": .string(view.sha256), "size": .int(Int64(view.size)), "content_type": .string(view.contentType),
            "filename": .optional(view.filename), "message": .int(view.message), "received_at": timestamp(view.receivedAt),
            "subject": .optional(view.subject),
        ]
    }

    static func messageBrief(_ brief: MessageBrief) -> JSONValue {
        .object([
            "id": .int(brief.id), "received_at": timestamp(brief.receivedAt), "subject": .optional(brief.subject),
            "from": .optional(brief.from),
        ])
    }

    static func logEntry(_ entry: MessageLogEntry) -> JSONValue {
        .object([
            "id": .int(entry.id), "message": .optional(entry.storedMessage), "received_at": timestamp(entry.receivedAt),
            "smtp_id": .string(entry.smtpID), "envelope_from": .string(entry.envelopeFrom), "message_id": .optional(entry.messageID),
            "from": .optional(entry.from),
            "subject": .optional(entry.subject), "recipient": .string(entry.recipient), "users": .strings(entry.user.map { [$0] } ?? []),
            "kind": .optional(entry.kind), "outcome": .string(entry.outcome), "reason": .optional(entry.reason),
            "unresolved_refs": .strings(entry.unresolvedRefs), "filed": .strings(entry.filed),
        ])
    }

    private func messageObject(_ id: Int64) async throws -> JSONValue {
        let view = try await database.storedMessage(id)
        var summary = (try? JSONDecoder().decode(JSONValue.self, from: Data(view.summaryJSON.utf8))) ?? .null
        if case .object(var members) = summary, let newText = view.newText {
            members["new_text"] = .string(newText)
            summary = .object(members)
        }
        return .object([
            "id": .int(view.id), "org": .optional(view.organisation), "received_at": Self.timestamp(view.receivedAt),
            "message_id": .optional(view.messageID), "from": .optional(view.from), "from_name": .optional(view.fromName),
            "subject": .optional(view.subject), "size": .int(Int64(view.size)),
            "users": .array(
                view.users.map {
                    .object(["email": .string($0.email), "kind": .string($0.kind), "received_at": Self.timestamp($0.receivedAt)])
                }
            ),
            "filed": .strings(view.filed), "summary": summary,
        ])
    }

    static func messageID(_ params: AdminParams) throws(AdminError) -> Int64 {
        let reference = try params.reference("message")
        guard let id = Int64(reference) else {
            throw AdminError(.invalid, "params.message must be a stored message's id (the message field of message.list), not \(reference)")
        }
        return id
    }

    private func status() async throws -> JSONValue {
        var listeners: [String: JSONValue] = [:]
        for (name, address) in self.listeners.all { listeners[name] = .string(address) }
        var counts: [String: JSONValue] = [:]
        for (name, count) in try await database.counts() { counts[name] = .int(Int64(count)) }
        return .object([
            "version": .string(IntakeVersion.current), "started_at": Self.timestamp(startedAt.timeIntervalSince1970),
            "uptime_seconds": .int(Int64(Date().timeIntervalSince(startedAt))), "listeners": .object(listeners),
            "dropbox_domains": .strings(dropboxDomains), "counts": .object(counts),
            "database": .object(["path": .string(databasePath), "size": .int(Int64(await database.size()))]),
        ])
    }

    /// Seconds since 1970 as ISO 8601 in UTC (`2026-11-23T10:00:00Z`).
    static func timestamp(_ seconds: Double) -> JSONValue {
        .string(Date(timeIntervalSince1970: seconds).formatted(.iso8601))
    }
}
