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
import Synchronization

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
    /// A buffer for reading large messages back, kept for the next one.
    let readBuffers = ReadBufferPool(count: 1, maxSize: 8 << 20)
    /// Where messages received into spool files are read back and parsed: one at a time, so one
    /// buffer of the size of a message is resident however many arrive together (a parse takes
    /// about 0.6 ms for 2 MB; reading the message took the session far longer).
    let largeParses = DispatchQueue(label: "intake-large-parse")
    let logger: Logger
    let metrics: IntakeMetrics
    /// The last delivery that could not be stored, for `/healthz`.
    let failures = StorageFailures()

    func checkRecipient(_ recipient: ForwardPath, transaction: MailTransaction, session: SMTPSessionInfo) async -> RecipientDecision {
        switch immediateDecision(recipient) {
        case .decided(let decision): return decision
        case .lookUp(let dropbox, let mailbox):
            do {
                return try await database.dropboxUser(token: dropbox.token) == nil ? .reject(Self.unknownDropbox(mailbox)) : .accept
            } catch {
                logger.error("cannot look up a dropbox", metadata: ["error": "\(error)"])
                return .reject(SMTPReply(451, EnhancedStatusCode(4, 3, 0), "the dropbox directory is unavailable; try again later"))
            }
        }
    }

    /// Answers at once when the address is not a dropbox or the directory in memory knows the
    /// token (the usual case under load); `nil` when the database must be read.
    func recipientDecisionAtOnce(_ recipient: ForwardPath, transaction: MailTransaction, session: SMTPSessionInfo) -> RecipientDecision? {
        if case .decided(let decision) = immediateDecision(recipient) { return decision }
        return nil
    }

    private enum RecipientCheck {
        case decided(RecipientDecision)
        case lookUp(DropboxAddress, Mailbox)
    }

    private func immediateDecision(_ recipient: ForwardPath) -> RecipientCheck {
        if let refusal = policy.refusal(for: recipient) { return .decided(.reject(refusal)) }
        guard case .mailbox(let mailbox) = recipient else { return .decided(.accept) }
        if mailbox.unquotedLocalPart.lowercased() == "postmaster" { return .decided(.accept) }
        guard let dropbox = DropboxAddress(localPart: mailbox.unquotedLocalPart) else {
            return .decided(.reject(Self.unknownDropbox(mailbox)))
        }
        if database.directory.userForRecipient(token: dropbox.token) != nil { return .decided(.accept) }
        return .lookUp(dropbox, mailbox)
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

    /// The same as ``receive(_:completing:)``, awaited.
    func receive(_ message: ReceivedMessage) async -> DeliveryResult {
        let promise = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: DeliveryResult.self)
        receive(message, completing: promise)
        return (try? await promise.futureResult.get()) ?? Self.unavailable.result
    }

    /// Parses on the event loop (small messages), in a task (up to the memory threshold) or on
    /// ``largeParses`` (spooled ones), then answers from the
    /// commit thread: no task hop between the commit and the reply. A message in a spool file is
    /// kept as a file (on a thread of ``durableWrites``) while it is parsed.
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
            file(.success(prepare(message, buffer)))
        case .memory(let buffer):
            Task { file(.success(prepare(message, buffer))) }
        case .file(let path, let descriptor, let size, let sha256, let observed):
            // The file is kept (moved and synced) while it is read back and parsed through its
            // descriptor. The two end in either order; the second files the message on its own
            // thread, with no hop through the session's event loop, which may be busy reading
            // other messages.
            let join = ParseAndKeep(then: file)
            durableWrites.submit { state in
                guard case .active = state else { return join.kept(.failure(Self.unavailable)) }
                join.kept(keep(path, descriptor: descriptor, size: size, sha256: sha256, id: message.id))
            }
            largeParses.async {
                var bytes = readBuffers.take()
                if case .failure(let refusal) = read(descriptor, path: path, size: size, into: &bytes) {
                    readBuffers.give(bytes)
                    return join.parsed(.failure(refusal))
                }
                join.parsed(
                    .success(
                        makeDelivery(
                            message, bytes: bytes, raw: .file(path: path, size: size),
                            digests: observed as? PrecomputedDigests ?? PrecomputedDigests())))
                readBuffers.give(bytes)
            }
        }
    }

    func makeContentObserver() -> (any MessageContentObserver)? {
        AttachmentObserver()
    }

    /// The server is stopping.
    static let unavailable = Refusal(
        result: .rejected(SMTPReply(421, EnhancedStatusCode(4, 3, 2), "the server is shutting down; try again later")))

    /// Moves a large message's spool file into the database's raw folder and makes it durable,
    /// before the transaction that names it. On another file system than the raw folder the
    /// transaction copies the spool file into the database instead. `descriptor` is the file's,
    /// still open from its writing: the fsync goes through it. Blocks on fsync.
    func keep(_ path: String, descriptor: CInt, size: Int, sha256 digest: [UInt8], id: String) -> Result<RawMessage, Refusal> {
        guard let rawFolder = database.rawFolder else { return .success(.file(path: path, size: size)) }
        let sha256 = MailParser.SHA256.hexDigits(digest)
        do {
            try rawFolder.keep(path, sha256: sha256, descriptor: descriptor)
            failures.worked(.rawFile)
            return .success(.kept(sha256: sha256, size: size))
        } catch .otherFileSystem {
            return .success(.file(path: path, size: size))
        } catch {
            logger.error("cannot keep the message's file", metadata: ["smtp.message.id": "\(id)", "error": "\(error)"])
            if !error.isOutOfSpace {
                let folder = rawFolder.subfolder(sha256)
                failures.failed(.rawFile, "cannot keep the message's file in \(folder): \(error)", probeFolder: folder)
            }
            return .failure(Refusal(result: .rejected(.storageFailure(outOfSpace: error.isOutOfSpace))))
        }
    }

    /// A refusal before filing.
    struct Refusal: Error {
        var result: DeliveryResult
    }

    /// Parses a message received in memory and makes its delivery. What then waits for the commit
    /// is the parse without its bodies and the octets.
    func prepare(_ message: ReceivedMessage, _ buffer: ByteBuffer) -> Delivery {
        let bytes = Data(buffer.readableBytesView)
        return makeDelivery(message, bytes: bytes, raw: .bytes(bytes))
    }

    /// Reads the spool file's octets into `bytes` through its descriptor: a file this session has
    /// just written, read from the page cache.
    private func read(_ descriptor: CInt, path: String, size: Int, into bytes: inout [UInt8]) -> Result<Void, Refusal> {
        do {
            try RawMessage.read(descriptor, path: path, size: size, into: &bytes)
            failures.worked(.readBack)
            return .success(())
        } catch {
            logger.error("cannot read the received message", metadata: ["error": "\(error)"])
            failures.failed(.readBack, "cannot read the received message: \(error)")
            return .failure(
                Refusal(
                    result: .rejected(SMTPReply(451, EnhancedStatusCode(4, 3, 0), "could not read the message back; try again later"))))
        }
    }

    /// The delivery of `message`, whose octets are `bytes`, parsed, with the attachment digests
    /// taken as it arrived.
    private func makeDelivery<Bytes: RandomAccessCollection<UInt8>>(
        _ message: ReceivedMessage, bytes: Bytes, raw: RawMessage, digests: PrecomputedDigests = PrecomputedDigests()
    ) -> Delivery where Bytes.Index == Int {
        let (parsed, deduplicationKey) = Self.parse(bytes, digests: digests)
        let recipients = message.transaction.recipients.map { path -> Delivery.Recipient in
            switch path {
            case .postmaster:
                return Delivery.Recipient(address: "postmaster", dropbox: nil)
            case .mailbox(let mailbox):
                return Delivery.Recipient(
                    address: mailbox.description.lowercased(), dropbox: DropboxAddress(localPart: mailbox.unquotedLocalPart))
            }
        }
        return Delivery(
            smtpID: message.id,
            envelopeFrom: message.transaction.reversePath.description,
            recipients: recipients,
            receivedAt: Date(timeIntervalSince1970: message.receivedAt),
            raw: raw,
            deduplicationKey: deduplicationKey,
            message: parsed,
            dropboxDomains: policy.domains
        )
    }

    /// The parse without its bodies, and the key that recognises the message arriving again.
    static func parse<Bytes: RandomAccessCollection<UInt8>>(
        _ bytes: Bytes, digests: PrecomputedDigests = PrecomputedDigests()
    ) -> (MailMessage, String) where Bytes.Index == Int {
        let parsed = MailMessage.parse(bytes, digestingAttachmentsWith: CryptoContentDigest.self, precomputed: digests)
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
            failures.worked(.commit)
            for result in results {
                metrics.filingOutcomes[result.outcome]?.increment()
                // One summary line per message and recipient: outcome, kind, size, duration.
                let kind = delivery.recipients.first { $0.address == result.recipient }?.dropbox?.kind.rawValue ?? "postmaster"
                // The outcome may be a refusal: "filing outcome", not "message filed". The size
                // stored holds the Received field this server adds, so it is not the SMTP size.
                logger.info(
                    "filing outcome",
                    metadata: [
                        "smtp.session.id": "\(message.session.id)", "smtp.message.id": "\(message.id)",
                        "filing.outcome": "\(result.outcome.rawValue)", "filing.kind": "\(kind)",
                        "filing.records": "\(result.filed.count)", "filing.stored_octets": "\(delivery.raw.count)",
                        "duration_ms": "\(started.millisecondsElapsed)",
                    ]
                )
            }
            return Self.reply(results, id: message.id)
        case .failure(let error):
            logger.error(
                "could not file the message",
                metadata: ["smtp.session.id": "\(message.session.id)", "smtp.message.id": "\(message.id)", "error": "\(error)"])
            // A full database or disk is the database's standing failure (cleared with room);
            // the server shutting down is no failure of the storage.
            if error.code != .full && !FilingQueue.isShuttingDown(error) { failures.failed(.commit, "\(error)") }
            return .rejected(.storageFailure(outOfSpace: error.code == .full))
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
}

/// Finds and hashes the attachments of a large message while it arrives (on the SMTP listener's
/// pool threads), so that the parse at its end takes their digests instead of decoding and
/// hashing them then.
struct AttachmentObserver: MessageContentObserver {
    var digester = AttachmentDigester<CryptoContentDigest>()

    mutating func observe(_ piece: UnsafeRawBufferPointer) {
        digester.consume(piece)
    }

    mutating func finish() -> any Sendable {
        digester.finish()
    }
}

/// SHA-256 from swift-crypto (BoringSSL, which uses the CPU's SHA extensions where there are
/// some), for the parse that hashes attachments as it decodes them.
struct CryptoContentDigest: ContentDigest {
    private var hasher = Crypto.SHA256()

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
    }

    mutating func finalizeHex() -> String {
        MailParser.SHA256.hexDigits(hasher.finalize())
    }
}

/// The two halves of taking a message received into a spool file, which run at the same time: its
/// reading back and parse, and the keeping of its file (rename and fsyncs). Whichever ends second
/// hands the delivery on, on its own thread.
private final class ParseAndKeep: Sendable {
    private struct Halves {
        var parsed: Result<Delivery, FilingReceiver.Refusal>?
        var kept: Result<RawMessage, FilingReceiver.Refusal>?
    }

    private let halves = Mutex(Halves())
    private let then: @Sendable (Result<Delivery, FilingReceiver.Refusal>) -> Void

    init(then: @escaping @Sendable (Result<Delivery, FilingReceiver.Refusal>) -> Void) {
        self.then = then
    }

    /// The parse has ended, or the message could not be read back.
    func parsed(_ parsed: Result<Delivery, FilingReceiver.Refusal>) {
        let kept = halves.withLock { halves in
            halves.parsed = parsed
            return halves.kept
        }
        if let kept { finish(parsed, kept) }
    }

    func kept(_ kept: Result<RawMessage, FilingReceiver.Refusal>) {
        let parsed = halves.withLock { halves in
            halves.kept = kept
            return halves.parsed
        }
        if let parsed { finish(parsed, kept) }
    }

    /// A file kept for a message that could not be read back is named by no row: the raw folder's
    /// sweep at the next start sets it aside (``IntakeDatabase/setAsideUnnamedRawFiles()``).
    private func finish(_ parsed: Result<Delivery, FilingReceiver.Refusal>, _ kept: Result<RawMessage, FilingReceiver.Refusal>) {
        // When both failed, the keep's reason (the disk is full, the server is stopping) says more
        // than the read's.
        then(
            kept.flatMap { raw in
                parsed.map { parsed in
                    var delivery = parsed
                    delivery.raw = raw
                    return delivery
                }
            })
    }
}
