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
    let threadPool: NIOThreadPool
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

    func receive(_ message: ReceivedMessage) async -> DeliveryResult {
        let started = ContinuousClock.now
        defer { metrics.filingDuration.recordInterval(since: started) }
        let raw: Data
        switch message.content {
        case .memory(let buffer):
            raw = Data(buffer.readableBytesView)
        case .file(let path, _):
            do {
                raw = try await threadPool.runIfActive { try Self.readFile(path) }
            } catch {
                logger.error("cannot read the received message", metadata: ["error": "\(error)"])
                return .rejected(SMTPReply(451, EnhancedStatusCode(4, 3, 0), "could not read the message back; try again later"))
            }
        }
        let parsed = MailMessage.parse(raw)
        let recipients = message.transaction.recipients.map { path -> Delivery.Recipient in
            switch path {
            case .postmaster:
                return Delivery.Recipient(address: "postmaster", dropbox: nil)
            case .mailbox(let mailbox):
                return Delivery.Recipient(
                    address: mailbox.description.lowercased(), dropbox: DropboxAddress(localPart: mailbox.unquotedLocalPart))
            }
        }
        let delivery = Delivery(
            smtpID: message.id,
            envelopeFrom: message.transaction.reversePath.description,
            recipients: recipients,
            receivedAt: Date(timeIntervalSince1970: message.receivedAt),
            raw: raw,
            deduplicationKey: FilingRules.deduplicationKey(messageID: parsed.messageID, content: Self.clientContent(raw)),
            message: parsed,
            dropboxDomains: policy.domains
        )
        switch await queue.file(delivery) {
        case .success(let results):
            for result in results {
                metrics.filingOutcomes[result.outcome]?.increment()
                // One summary line per message and recipient: outcome, kind, size, duration.
                let kind = recipients.first { $0.address == result.recipient }?.dropbox?.kind.rawValue ?? "postmaster"
                logger.info(
                    "message filed",
                    metadata: [
                        "smtp.session.id": "\(message.session.id)", "smtp.message.id": "\(message.id)",
                        "filing.outcome": "\(result.outcome.rawValue)", "filing.kind": "\(kind)",
                        "filing.records": "\(result.filed.count)", "smtp.message.size": "\(raw.count)",
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
    static func clientContent(_ raw: Data) -> Data.SubSequence {
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

    static func readFile(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StoreError(code: .unavailable, message: "cannot read \(path)")
        }
        return data
    }
}
