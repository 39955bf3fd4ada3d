import NIOCore
import NIOPosix
import SMTPCore
import SMTPNIO

/// Accepts mail for the dropbox domains and never relays: the recipient rules every receiver
/// shares (RFC 5321 §3.6.1, §4.5.1).
struct DropboxRecipientPolicy: Sendable {
    let domains: Set<String>
    /// The server's own name (`smtp.hostname`), whose postmaster is accepted too (RFC 5321
    /// §4.5.1: postmaster at any domain the server serves; the greeting names this one).
    let hostname: String

    init(domains: [String], hostname: String = "") {
        self.domains = Set(domains.map { Self.normalise($0) })
        self.hostname = Self.normalise(hostname)
    }

    /// `nil` when the address is at a dropbox domain and may be looked up; else the refusal.
    func refusal(for recipient: ForwardPath) -> SMTPReply? {
        switch recipient {
        case .postmaster:
            return nil
        case .mailbox(let mailbox)
        where !hostname.isEmpty && mailbox.unquotedLocalPart.lowercased() == "postmaster" && Self.normalise(mailbox.domain) == hostname:
            return nil
        case .mailbox(let mailbox):
            if mailbox.isAddressLiteral {
                return SMTPReply(550, EnhancedStatusCode(5, 7, 1), "relay access denied: \(mailbox) is not a dropbox address")
            }
            guard domains.contains(Self.normalise(mailbox.domain)) else {
                return SMTPReply(
                    550, EnhancedStatusCode(5, 7, 1),
                    "relay access denied: this server only accepts mail for \(domains.sorted().joined(separator: ", "))"
                )
            }
            let local = mailbox.unquotedLocalPart
            if local.contains("%") || local.contains("!") || local.contains("@") {
                return SMTPReply(550, EnhancedStatusCode(5, 7, 1), "relay access denied: routing in the local part is not accepted")
            }
            return nil
        }
    }

    static func normalise(_ domain: String) -> String {
        var lowered = domain.lowercased()
        while lowered.hasSuffix(".") { lowered.removeLast() }
        return lowered
    }
}

/// The receiver that only keeps messages (`delivery=spool`): each message is written durably to the spool
/// folder (`spool/new/<id>.eml`: temp file, fsync, rename, fsync of the folder) before it is
/// acknowledged.
struct SpoolReceiver: SMTPMessageReceiver {
    let policy: DropboxRecipientPolicy
    let spoolDirectory: String
    let threadPool: NIOThreadPool

    var temporaryFolder: String { spoolDirectory + "/tmp" }
    var newFolder: String { spoolDirectory + "/new" }

    func checkRecipient(_ recipient: ForwardPath, transaction: MailTransaction, session: SMTPSessionInfo) async -> RecipientDecision {
        policy.refusal(for: recipient).map(RecipientDecision.reject) ?? .accept
    }

    func receive(_ message: ReceivedMessage) async -> DeliveryResult {
        let temporary = "\(temporaryFolder)/\(message.id)"
        let final = "\(newFolder)/\(message.id).eml"
        let newFolder = self.newFolder
        do {
            try await threadPool.runIfActive {
                switch message.content {
                case .memory(let buffer):
                    try DurableFiles.writeDurably(buffer, to: temporary)
                    try DurableFiles.publish(temporary, as: final, folder: newFolder)
                case .file(let path, let descriptor, _, _, _):
                    try DurableFiles.sync(descriptor, path: path)
                    try DurableFiles.publish(path, as: final, folder: newFolder)
                }
            }
            return .accepted(id: message.id, text: "message kept")
        } catch let failure as DurableFiles.Failure {
            return .rejected(.storageFailure(outOfSpace: failure.isOutOfSpace))
        } catch {
            return .rejected(.storageFailed)
        }
    }
}

/// Accepts and drops every message: measures the protocol path in benchmarks. Never for real mail.
struct DiscardReceiver: SMTPMessageReceiver {
    let policy: DropboxRecipientPolicy

    func checkRecipient(_ recipient: ForwardPath, transaction: MailTransaction, session: SMTPSessionInfo) async -> RecipientDecision {
        policy.refusal(for: recipient).map(RecipientDecision.reject) ?? .accept
    }

    func receive(_ message: ReceivedMessage) async -> DeliveryResult {
        .accepted(id: message.id, text: "message discarded (benchmark delivery)")
    }
}
