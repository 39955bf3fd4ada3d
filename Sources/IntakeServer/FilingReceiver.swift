import Crypto
import Filing
import Foundation
import IntakeStore
import Logging
import MailParser
import NIOCore
import NIOPosix
import SMTPCore
import SMTPNIO

/// The receiver that files mail into the CRM: at RCPT it checks that the address is a live
/// dropbox, at the end of data it parses the message and files it through the group-commit
/// queue, and answers `250` only after the commit.
struct FilingReceiver: SMTPMessageReceiver {
    let policy: DropboxRecipientPolicy
    let database: IntakeDatabase
    let queue: FilingQueue
    /// Threads for the fsyncs that keep large raw messages as files: they wait on the disk, so
    /// there are more of them than cores.
    let durableWrites: NIOThreadPool
    let logger: Logger
    let metrics: IntakeMetrics

    func checkRecipient(_ recipient: ForwardPath, transaction: MailTransaction, session: SMTPSessionInfo) async -> RecipientDecision {
        if let refusal = policy.refusal(for: recipient) { return .reject(refusal) }
        guard case .mailbox(let mailbox) = recipient else { return .accept }
        if mailbox.unquotedLocalPart.lowercased() == "postmaster" { return .accept }
        guard let dropbox = DropboxAddress(localPart: mailbox.unquotedLocalPart) else {
            return .reject(Self.unknownDropbox(mailbox))
        }
        do {
            return try await database.dropboxUser(token: dropbox.token) == nil ? .reject(Self.unknownDropbox(mailbox)) : .accept
        } catch {
            logger.error("cannot look up a dropbox", metadata: ["error": "\(error)"])
            return .reject(SMTPReply(451, EnhancedStatusCode(4, 3, 0), "the dropbox directory is unavailable; try again later"))
        }
    }

    static func unknownDropbox(_ mailbox: Mailbox) -> SMTPReply {
        SMTPReply(
            550, EnhancedStatusCode(5, 1, 1),
            "\(mailbox) is not a dropbox address; check it in your CRM profile (an old address stops working when its token is rotated)"
        )
    }

    /// Messages up to this size are parsed on the session's event loop (a few tens of
    /// microseconds); larger ones in a task.
    static let inlineParseLimit = 32 * 1024

    func receive(_ message: ReceivedMessage) async -> DeliveryResult {
        let started = ContinuousClock.now
        var delivery: Delivery
        switch prepare(message) {
        case .success(let prepared): delivery = prepared
        case .failure(let refusal): return finish(refusal, started: started)
        }
        if case .file(_, _, let sha256) = message.content {
            let prepared = delivery
            let kept = try? await durableWrites.runIfActive { keepRaw(prepared, sha256: sha256) }
            switch kept ?? .failure(Self.unavailable) {
            case .success(let prepared): delivery = prepared
            case .failure(let refusal): return finish(refusal, started: started)
            }
        }
        return finish(await queue.file(delivery), message: message, delivery: delivery, started: started)
    }

    /// Parses on the event loop (small messages) or in a task (large ones), keeps a large raw
    /// message as a file on a thread of ``durableWrites``, then answers from the commit thread: no
    /// task hop between the commit and the reply.
    func receive(_ message: ReceivedMessage, completing promise: EventLoopPromise<DeliveryResult>) {
        let started = ContinuousClock.now
        let file = { @Sendable (prepared: Result<Delivery, Refusal>) in
            switch prepared {
            case .success(let delivery):
                queue.file(delivery) { outcome in
                    promise.succeed(finish(outcome, message: message, delivery: delivery, started: started))
                }
            case .failure(let refusal):
                promise.succeed(finish(refusal, started: started))
            }
        }
        switch message.content {
        case .memory(let buffer) where buffer.readableBytes <= Self.inlineParseLimit:
            file(prepare(message))
        case .memory:
            Task { file(prepare(message)) }
        case .file(_, _, let sha256):
            // The parse first, while the last pieces' write-back ends; then the fsyncs.
            Task {
                switch prepare(message) {
                case .success(let delivery):
                    durableWrites.runIfActive(eventLoop: promise.futureResult.eventLoop) { keepRaw(delivery, sha256: sha256) }
                        .whenComplete { file((try? $0.get()) ?? .failure(Self.unavailable)) }
                case .failure(let refusal):
                    file(.failure(refusal))
                }
            }
        }
    }

    /// The server is stopping.
    static let unavailable = Refusal(
        result: .rejected(SMTPReply(421, EnhancedStatusCode(4, 3, 2), "the server is shutting down; try again later")))

    /// Moves a large message's spool file into the database's raw folder and makes it durable,
    /// before the transaction that names it. On another file system than the raw folder the
    /// transaction copies the spool file into the database instead. Blocks on fsync.
    func keepRaw(_ delivery: Delivery, sha256 digest: [UInt8]) -> Result<Delivery, Refusal> {
        guard case .file(let path, let size) = delivery.raw, let rawFolder = database.rawFolder else { return .success(delivery) }
        let sha256 = MailParser.SHA256.hexDigits(digest)
        do {
            try rawFolder.keep(path, sha256: sha256)
            var kept = delivery
            kept.raw = .kept(sha256: sha256, size: size)
            return .success(kept)
        } catch .otherFileSystem {
            return .success(delivery)
        } catch {
            logger.error("cannot keep the message's file", metadata: ["smtp.message.id": "\(delivery.smtpID)", "error": "\(error)"])
            if error.isOutOfSpace {
                return .failure(
                    Refusal(
                        result: .rejected(
                            SMTPReply(452, EnhancedStatusCode(4, 3, 1), "not enough storage to keep the message; try again later"))))
            }
            return .failure(
                Refusal(result: .rejected(SMTPReply(451, EnhancedStatusCode(4, 3, 0), "could not store the message; try again later"))))
        }
    }

    /// A refusal before filing.
    struct Refusal: Error {
        var result: DeliveryResult
    }

    /// Reads and parses the message and makes its delivery.
    ///
    /// The message's bytes are read and parsed in one step with no suspension point, so that at
    /// most one message per thread is in memory whole; what then waits for the commit is the parse
    /// without its bodies and, for a large message, the spool file's path (the transaction copies
    /// the file into the database).
    func prepare(_ message: ReceivedMessage) -> Result<Delivery, Refusal> {
        let raw: RawMessage
        let parsed: MailMessage
        let deduplicationKey: String
        switch message.content {
        case .memory(let buffer):
            let bytes = Data(buffer.readableBytesView)
            (parsed, deduplicationKey) = Self.parse(bytes)
            raw = .bytes(bytes)
        case .file(let path, let size, _):
            let bytes: [UInt8]
            do {
                // A file this session has just written: read from the page cache.
                bytes = try RawMessage.contents(of: path, size: size)
            } catch {
                logger.error("cannot read the received message", metadata: ["error": "\(error)"])
                return .failure(
                    Refusal(
                        result: .rejected(
                            SMTPReply(451, EnhancedStatusCode(4, 3, 0), "could not read the message back; try again later"))))
            }
            (parsed, deduplicationKey) = Self.parse(bytes)
            raw = .file(path: path, size: size)
        }
        let recipients = message.transaction.recipients.map { path -> Delivery.Recipient in
            switch path {
            case .postmaster:
                return Delivery.Recipient(address: "postmaster", dropbox: nil)
            case .mailbox(let mailbox):
                return Delivery.Recipient(
                    address: mailbox.description.lowercased(), dropbox: DropboxAddress(localPart: mailbox.unquotedLocalPart))
            }
        }
        return .success(
            Delivery(
                smtpID: message.id,
                envelopeFrom: message.transaction.reversePath.description,
                recipients: recipients,
                receivedAt: Date(timeIntervalSince1970: message.receivedAt),
                raw: raw,
                deduplicationKey: deduplicationKey,
                message: parsed,
                dropboxDomains: policy.domains
            ))
    }

    /// The parse without its bodies, and the key that recognises the message arriving again.
    static func parse<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes) -> (MailMessage, String) where Bytes.Index == Int {
        let parsed = MailMessage.parse(bytes).droppingContent(sha256: sha256)
        return (parsed, FilingRules.deduplicationKey(messageID: parsed.messageID, content: clientContent(bytes)))
    }

    private func finish(_ refusal: Refusal, started: ContinuousClock.Instant) -> DeliveryResult {
        metrics.filingDuration.recordInterval(since: started)
        return refusal.result
    }

    /// The reply for a filed (or failed) delivery, with its log lines and metrics.
    private func finish(
        _ outcome: FilingQueue.Outcome, message: ReceivedMessage, delivery: Delivery, started: ContinuousClock.Instant
    ) -> DeliveryResult {
        metrics.filingDuration.recordInterval(since: started)
        switch outcome {
        case .success(let results):
            for result in results {
                metrics.filingOutcomes[result.outcome]?.increment()
                // One summary line per message and recipient: outcome, kind, size, duration.
                let kind = delivery.recipients.first { $0.address == result.recipient }?.dropbox?.kind.rawValue ?? "postmaster"
                logger.info(
                    "message filed",
                    metadata: [
                        "smtp.session.id": "\(message.session.id)", "smtp.message.id": "\(message.id)",
                        "filing.outcome": "\(result.outcome.rawValue)", "filing.kind": "\(kind)",
                        "filing.records": "\(result.filed.count)", "smtp.message.size": "\(delivery.raw.count)",
                        "duration_ms": "\(started.millisecondsElapsed)",
                    ]
                )
            }
            return Self.reply(results, id: message.id)
        case .failure(let error):
            logger.error("could not file the message", metadata: ["smtp.message.id": "\(message.id)", "error": "\(error)"])
            if error.code == .full {
                return .rejected(SMTPReply(452, EnhancedStatusCode(4, 3, 1), "not enough storage to keep the message; try again later"))
            }
            return .rejected(SMTPReply(451, EnhancedStatusCode(4, 3, 0), "could not store the message; try again later"))
        }
    }

    /// 250 when any recipient took the message; else the first refusal.
    static func reply(_ results: [RecipientResult], id: String) -> DeliveryResult {
        guard results.contains(where: \.accepted) else {
            guard let refusal = results.first?.refusal else {
                return .rejected(SMTPReply(554, EnhancedStatusCode(5, 0, 0), "the message was not accepted"))
            }
            let parts = refusal.enhancedCode.split(separator: ".").compactMap { Int($0) }
            let code = parts.count == 3 ? EnhancedStatusCode(parts[0], parts[1], parts[2]) : EnhancedStatusCode(5, 0, 0)
            return .rejected(SMTPReply(refusal.code, code, refusal.text))
        }
        let outcomes = Set(results.filter(\.accepted).map(\.outcome.rawValue)).sorted().joined(separator: ", ")
        return .accepted(id: id, text: outcomes == "filed" ? "filed" : "accepted: \(outcomes)")
    }

    /// The message as the client sent it: without the Received field this server put first, so a
    /// retry of the same content has the same hash.
    static func clientContent<Bytes: RandomAccessCollection<UInt8>>(_ raw: Bytes) -> Bytes.SubSequence where Bytes.Index == Int {
        var index = raw.startIndex
        while index + 2 < raw.endIndex {
            if raw[index] == UInt8(ascii: "\r") && raw[index + 1] == UInt8(ascii: "\n") && raw[index + 2] != UInt8(ascii: " ")
                && raw[index + 2] != UInt8(ascii: "\t")
            {
                return raw[(index + 2)...]
            }
            index += 1
        }
        return raw[...]
    }

    /// SHA-256 as 64 lower-case hex digits, from swift-crypto (BoringSSL, which uses the CPU's
    /// SHA extensions where there are some): attachments of large messages are hashed here.
    static func sha256(_ bytes: [UInt8]) -> String {
        MailParser.SHA256.hexDigits(Crypto.SHA256.hash(data: bytes))
    }
}
