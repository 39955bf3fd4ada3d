import Foundation
import GRDB
import MailParser

/// An attachment of a kept message, found by the SHA-256 of its decoded content.
public struct AttachmentView: Sendable, Hashable, Codable {
    /// The SHA-256 of the decoded content, 64 lower-case hex digits: its address.
    public var sha256: String
    public var size: Int
    public var contentType: String
    public var filename: String?
    /// The kept message that carries it.
    public var message: Int64
    public var receivedAt: Double
    public var subject: String?
}

extension IntakeDatabase {
    /// The kept messages that carry the attachment whose content has the SHA-256 `sha256`
    /// (64 hex digits), oldest first, optionally of one organisation.
    public func attachments(sha256: String, organisation: String? = nil) async throws(StoreError) -> [AttachmentView] {
        let digest = try Self.digest(sha256)
        return try await read { db in
            var sql = """
                SELECT a.sha256, a.size, a.content_type, a.filename, a.message_id, m.received_at, m.subject
                FROM attachment a JOIN message m ON m.id = a.message_id WHERE a.sha256 = ?
                """
            var arguments: StatementArguments = [digest]
            if let organisation {
                sql += " AND m.organisation_id = ?"
                arguments += [try Self.organisation(db, organisation).id]
            }
            sql += " ORDER BY a.message_id"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map {
                AttachmentView(
                    sha256: $0["sha256"], size: $0["size"], contentType: $0["content_type"], filename: $0["filename"],
                    message: $0["message_id"], receivedAt: $0["received_at"], subject: $0["subject"])
            }
        }
    }

    /// The attachment of SHA-256 `sha256` and its decoded content, read from the first kept
    /// message that carries it and holds it: one whose raw message cannot be read, or that was
    /// stored again meanwhile, gives way to the next. The message's parts of the indexed size are
    /// checked against the digest, unless `verified` is false and only one has that size (the
    /// later pieces of a file read in pieces: hashing 25 MB again for each would take seconds).
    public func attachmentContent(sha256: String, organisation: String? = nil, verified: Bool = true) async throws(StoreError) -> (
        attachment: AttachmentView, content: [UInt8]
    ) {
        let digest = try Self.digest(sha256)
        let carriers = try await attachments(sha256: digest, organisation: organisation)
        var failure = StoreError(code: .notFound, message: "no kept message carries an attachment of SHA-256 \(digest)")
        for carrier in carriers {
            let raw: [UInt8]
            do {
                raw = try await rawMessage(carrier.message)
            } catch {
                failure = error
                continue
            }
            let sized = MailMessage.parse(raw).attachments.filter { $0.size == carrier.size }
            if !verified && sized.count == 1 { return (carrier, sized[0].content) }
            if let found = sized.first(where: { $0.sha256 == digest }) {
                return (carrier, found.content)
            }
            failure = StoreError(
                code: .internalError,
                message: "message \(carrier.message) names an attachment of SHA-256 \(digest) that its raw message does not hold")
        }
        throw failure
    }

    /// `text` as a SHA-256 in lower-case hex, or `invalid`.
    static func digest(_ text: String) throws(StoreError) -> String {
        let digest = text.lowercased()
        guard RawMessageFolder.isContentHash(digest) else {
            throw StoreError(code: .invalid, message: "a SHA-256 is 64 hex digits, not \(text)")
        }
        return digest
    }
}
