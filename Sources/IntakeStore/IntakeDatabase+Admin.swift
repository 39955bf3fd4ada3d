import Filing
import Foundation
import GRDB
import MailParser

/// An organisation as the admin API shows it.
public struct OrganisationRecord: Sendable, Hashable, Codable {
    public var id: Int64
    public var name: String
    public var internalDomains: [String]
}

/// A user as the admin API shows it.
public struct UserRecord: Sendable, Hashable, Codable {
    public var id: Int64
    public var organisationID: Int64
    public var email: String
    public var name: String
    public var timeZone: String
    public var token: String
    public var trustedAddresses: [String]

    /// The user's dropbox addresses at `domain`, by kind.
    public func addresses(domain: String) -> [DropboxKind: String] {
        var result: [DropboxKind: String] = [:]
        for kind in DropboxKind.allCases { result[kind] = DropboxAddress(token: token, kind: kind).localPart + "@" + domain }
        return result
    }
}

extension IntakeDatabase {
    /// Creates an organisation.
    public func createOrganisation(name: String, internalDomains: [String] = []) async throws(StoreError) -> OrganisationRecord {
        let name = try AdminInput.name(name, of: "an organisation")
        var checked: [String] = []
        for domain in internalDomains { checked.append(try AdminInput.domain(domain, field: "internal domain")) }
        let domains = checked
        return try await write { db in
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM organisation WHERE name = ?)", arguments: [name]) == true {
                throw StoreError(code: .conflict, message: "an organisation named \(name) exists already")
            }
            try db.execute(
                sql: "INSERT INTO organisation (name, internal_domains, created_at) VALUES (?, ?, ?)",
                arguments: [name, Self.encodeList(domains), Date().timeIntervalSince1970]
            )
            return OrganisationRecord(id: db.lastInsertedRowID, name: name, internalDomains: domains)
        }
    }

    /// Finds an organisation by id or name.
    static func organisation(_ db: Database, _ reference: String) throws -> OrganisationRecord {
        let row =
            try Int64(reference).flatMap { try Row.fetchOne(db, sql: "SELECT * FROM organisation WHERE id = ?", arguments: [$0]) }
            ?? Row.fetchOne(db, sql: "SELECT * FROM organisation WHERE name = ?", arguments: [reference])
        guard let row else { throw StoreError(code: .notFound, message: "no organisation named \(reference)") }
        return OrganisationRecord(id: row["id"], name: row["name"], internalDomains: decodeList(row["internal_domains"]))
    }

    /// Creates a user with a new dropbox token.
    public func createUser(organisation: String, email: String, name: String, timeZone: String = "UTC") async throws(StoreError)
        -> UserRecord
    {
        let email = try AdminInput.address(email, field: "email")
        let name = try AdminInput.name(name, of: "a user")
        let timeZone = try AdminInput.timeZone(timeZone)
        return try await write { db in
            let organisation = try Self.organisation(db, organisation)
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM user WHERE email = ?)", arguments: [email]) == true {
                throw StoreError(code: .conflict, message: "a user with the email \(email) exists already")
            }
            try db.execute(
                sql: "INSERT INTO user (organisation_id, email, name, timezone, token, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [organisation.id, email, name, timeZone, DropboxToken.generate(), Date().timeIntervalSince1970]
            )
            return try Self.userRecord(db, id: db.lastInsertedRowID)
        }
    }

    static func userRecord(_ db: Database, id: Int64) throws -> UserRecord {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM user WHERE id = ?", arguments: [id]) else {
            throw StoreError(code: .notFound, message: "no user with id \(id)")
        }
        let user = try user(db, row: row)
        return UserRecord(
            id: user.id, organisationID: user.organisationID, email: user.email, name: user.name, timeZone: user.timeZone,
            token: row["token"], trustedAddresses: user.trustedAddresses
        )
    }

    /// Finds a user by id or primary email.
    static func userID(_ db: Database, _ reference: String) throws -> Int64 {
        let id =
            try Int64(reference).flatMap { try Int64.fetchOne(db, sql: "SELECT id FROM user WHERE id = ?", arguments: [$0]) }
            ?? Int64.fetchOne(
                db, sql: "SELECT id FROM user WHERE email = ?",
                arguments: [AdminInput.lookupKey(reference.trimmingCharacters(in: .whitespaces))])
        guard let id else { throw StoreError(code: .notFound, message: "no user \(reference)") }
        return id
    }

    /// The user, by id or primary email.
    public func user(_ reference: String) async throws(StoreError) -> UserRecord {
        try await read { db in try Self.userRecord(db, id: try Self.userID(db, reference)) }
    }

    /// Gives the user a new token: every old dropbox address is refused from then on.
    public func rotateToken(user reference: String) async throws(StoreError) -> UserRecord {
        try await write { db in
            let id = try Self.userID(db, reference)
            try db.execute(sql: "UPDATE user SET token = ? WHERE id = ?", arguments: [DropboxToken.generate(), id])
            return try Self.userRecord(db, id: id)
        }
    }

    /// Changes a user's name, time zone, or both; `nil` keeps what is there.
    public func updateUser(_ reference: String, name: String?, timeZone: String?) async throws(StoreError) -> UserRecord {
        let name = try name.map { name throws(StoreError) in try AdminInput.name(name, of: "a user") }
        let timeZone = try timeZone.map { zone throws(StoreError) in try AdminInput.timeZone(zone) }
        guard name != nil || timeZone != nil else {
            throw StoreError(code: .invalid, message: "user update needs a new name or a new timezone")
        }
        return try await write { db in
            let id = try Self.userID(db, reference)
            try db.execute(
                sql: "UPDATE user SET name = ifnull(?, name), timezone = ifnull(?, timezone) WHERE id = ?", arguments: [name, timeZone, id])
            return try Self.userRecord(db, id: id)
        }
    }

    /// Adds a trusted (validated) extra sender address.
    public func addSender(user reference: String, email: String) async throws(StoreError) -> UserRecord {
        let email = try AdminInput.address(email, field: "email")
        return try await write { db in
            let id = try Self.userID(db, reference)
            try db.execute(sql: "INSERT OR IGNORE INTO user_address (user_id, email, validated) VALUES (?, ?, 1)", arguments: [id, email])
            return try Self.userRecord(db, id: id)
        }
    }

    /// Removes a trusted sender address.
    public func removeSender(user reference: String, email: String) async throws(StoreError) -> UserRecord {
        try await write { db in
            let id = try Self.userID(db, reference)
            try db.execute(
                sql: "DELETE FROM user_address WHERE user_id = ? AND email = ?",
                arguments: [id, AdminInput.lookupKey(email.trimmingCharacters(in: .whitespaces))])
            guard db.changesCount > 0 else {
                throw StoreError(code: .notFound, message: "\(email) is not a trusted address of \(reference)")
            }
            return try Self.userRecord(db, id: id)
        }
    }

    /// Adds an exclusion pattern for the organisation, or for one of its users.
    public func addExclusion(organisation: String, user: String? = nil, pattern: String) async throws(StoreError) -> String {
        guard let parsed = ExclusionPattern(pattern) else {
            throw StoreError(code: .invalid, message: "pattern must be a@b.example, @b.example or local@*, not \(pattern)")
        }
        return try await write { db in
            let organisation = try Self.organisation(db, organisation)
            let userID = try user.map { try Self.userID(db, $0) }
            if let user, let userID,
                try Int64.fetchOne(db, sql: "SELECT organisation_id FROM user WHERE id = ?", arguments: [userID]) != organisation.id
            {
                throw StoreError(code: .invalid, message: "\(user) is not a user of \(organisation.name)")
            }
            // Adding a pattern it has already is no change (migration v7's index).
            try db.execute(
                sql: "INSERT OR IGNORE INTO exclusion (organisation_id, user_id, pattern) VALUES (?, ?, ?)",
                arguments: [organisation.id, userID, parsed.description]
            )
            return parsed.description
        }
    }

    /// Sets an organisation setting.
    public func setSetting(organisation: String, key: String, value: String) async throws(StoreError) {
        switch key {
        case "create_contacts", "company_from_domain":
            guard value == "true" || value == "false" else { throw StoreError(code: .invalid, message: "\(key) must be true or false") }
        case "freemail_domains_extra":
            break
        default:
            throw StoreError(code: .invalid, message: "unknown setting \(key); known: \(OrganisationSettings.keys.joined(separator: ", "))")
        }
        var checked = value
        if key == "freemail_domains_extra" {
            var domains: [String] = []
            for domain in value.split(separator: ",") where !domain.trimmingCharacters(in: .whitespaces).isEmpty {
                domains.append(try AdminInput.domain(String(domain), field: "freemail_domains_extra"))
            }
            checked = Self.encodeList(domains)
        }
        let stored = checked
        try await write { db in
            let organisation = try Self.organisation(db, organisation)
            try db.execute(
                sql:
                    "INSERT INTO setting (organisation_id, key, value) VALUES (?, ?, ?) ON CONFLICT (organisation_id, key) DO UPDATE SET value = excluded.value",
                arguments: [organisation.id, key, stored]
            )
        }
    }
}
