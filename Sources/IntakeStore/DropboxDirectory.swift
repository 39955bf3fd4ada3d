import Filing
import Foundation
import GRDB
import Synchronization

/// The dropbox users and their organisations' filing context, kept in memory: the RCPT check and
/// the filing transaction need them for every message, and they change only when an admin changes
/// them.
///
/// How an entry never outlives the change that made it stale:
/// - Only the filing transaction fills it, on the writer's connection, whose snapshot is the
///   latest commit: what a reader's older snapshot shows is never kept.
/// - A write through ``IntakeDatabase/write(_:)`` (every admin change) forgets everything inside its
///   transaction and again on the writer's queue right after its commit, before the next filing
///   transaction begins. An answer read from the database is kept only if no such write began
///   since it was read (a generation count).
/// - A change made by another process (the `sqlite3` shell, a test) is seen by the filing
///   transaction: it reads SQLite's `data_version` on the writer's connection first, which moves
///   only when another connection commits, and forgets everything when it moved.
/// - The RCPT check takes an entry only while the filing transaction confirmed the directory less
///   than ``rcptFreshness`` ago; otherwise it reads the database. A change by another process may
///   thus pass one RCPT in that window; the filing transaction then refuses the recipient.
public final class DropboxDirectory: Sendable {
    private struct State {
        var generation: UInt64 = 0
        /// SQLite's `data_version` on the writer's connection when last read; `nil` before.
        var dataVersion: Int64?
        var confirmedAt: ContinuousClock.Instant?
        var users: [String: DropboxUser] = [:]
        /// Organisations' contexts without any user's exclusions, by organisation.
        var organisations: [Int64: OrganisationContext] = [:]
        /// Users' contexts (their organisation's, with their own exclusions), by user: they share
        /// the organisation's member addresses.
        var contexts: [Int64: OrganisationContext] = [:]

        mutating func forget() {
            generation &+= 1
            users = [:]
            organisations = [:]
            contexts = [:]
        }
    }

    /// How long after the filing transaction last confirmed it the RCPT check trusts the directory.
    public static let rcptFreshness: Duration = .milliseconds(20)
    /// Entries kept at most; past that the directory starts over.
    static let capacity = 50_000

    private let state = Mutex(State())

    public init() {}

    /// Forgets every entry (after a write that may have changed users, addresses, exclusions or
    /// settings).
    func forget() {
        state.withLock { $0.forget() }
    }

    /// The user with this token when the directory is fresh enough for the RCPT check and knows
    /// it; `nil` when the database must be asked.
    public func userForRecipient(token: String) -> DropboxUser? {
        let now = ContinuousClock.now
        return state.withLock { state in
            guard let confirmed = state.confirmedAt, confirmed.duration(to: now) < Self.rcptFreshness else { return nil }
            return state.users[token.lowercased()]
        }
    }

    /// Reads SQLite's `data_version` in the writer's transaction and forgets everything when
    /// another process committed since the last call. Only from the writer's connection.
    func confirm(_ db: Database) throws {
        let started = ContinuousClock.now
        let version = try Int64.fetchOne(db.cachedStatement(sql: "PRAGMA data_version")) ?? 0
        state.withLock { state in
            if state.dataVersion != version {
                state.forget()
                state.dataVersion = version
            }
            state.confirmedAt = started
        }
    }

    /// The user with this token, from memory or from `db`.
    func user(_ db: Database, token: String) throws -> DropboxUser? {
        let token = token.lowercased()
        let (cached, generation) = state.withLock { ($0.users[token], $0.generation) }
        if let cached { return cached }
        guard let user = try IntakeDatabase.user(db, token: token) else { return nil }
        keep(generation) { $0.users[token] = user }
        return user
    }

    /// The filing context of the user's organisation, with the user's own exclusions, from
    /// memory or from `db`.
    func organisationContext(_ db: Database, user: DropboxUser, dropboxDomains: Set<String>) throws -> OrganisationContext {
        let (cached, organisation, generation) = state.withLock { state in
            (state.contexts[user.id], state.organisations[user.organisationID], state.generation)
        }
        if var cached {
            cached.dropboxDomains = dropboxDomains
            return cached
        }
        let base = try organisation ?? IntakeDatabase.organisationContext(db, organisationID: user.organisationID)
        let context = try IntakeDatabase.organisationContext(db, user: user, in: base, dropboxDomains: dropboxDomains)
        keep(generation) { state in
            state.organisations[user.organisationID] = base
            state.contexts[user.id] = context
        }
        return context
    }

    private func keep(_ generation: UInt64, _ update: (inout State) -> Void) {
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.users.count + state.organisations.count + state.contexts.count >= Self.capacity { state.forget() }
            update(&state)
        }
    }
}
