import Logging
import NIOCore
import NIOSSL
import NIOTLS
import SMTPCore

/// Sent down a session's pipeline to ask it to finish: idle sessions close at once with
/// `421 4.3.2`, busy ones after their current message; once the grace period is over
/// (`graceElapsed`), a message still arriving is dropped with `421 4.3.2` too.
public struct SMTPShutdownEvent: Sendable {
    /// The grace period is over: a session still receiving a message drops it (`421 4.3.2`).
    public var graceElapsed: Bool

    public init(graceElapsed: Bool = false) {
        self.graceElapsed = graceElapsed
    }
}

/// Drives one SMTP session: frames input with ``SMTPFrameDecoder``, feeds the frames to
/// ``SMTPServerStateMachine`` and performs the actions it returns. It holds no protocol state of
/// its own beyond what I/O needs.
///
/// Replies to pipelined commands are gathered and flushed together (RFC 2920 §3). While an answer
/// is awaited (a recipient check, a delivery, room among a large message's pieces being written, a
/// TLS handshake) no further input is handled, and reading stops once the buffered input passes a
/// bound.
final class SMTPSessionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var machine: SMTPServerStateMachine
    private var decoder: SMTPFrameDecoder
    private let environment: SMTPSessionEnvironment
    private let sessionID: String
    private var logger: Logger
    private var input = ByteBuffer()
    private var output = ByteBuffer()
    private var busy = false
    private var heldRead = false
    private var closing = false
    private var body: MessageBodyBuffer?
    private var messageID = ""
    private var peerAddress = "unknown"
    private var dataStarted = ContinuousClock.now
    private var tlsPending = false
    /// The client has shut down its side of the connection (a TCP half-close): what it sent is
    /// answered, then the session closes.
    private var inputClosed = false
    /// The idle timeout: due that long after the last whole line read (a command, or lines of
    /// message data) or the server's last answer. Not every read moves it, so a client sending a
    /// line a byte at a time cannot hold its connection for ever (slowloris); a silent one, or a
    /// TLS handshake that does not end, is timed out as well.
    private var lineDeadline: Scheduled<Void>?
    /// When the last whole line was read.
    private var lastWholeLine = NIODeadline.now()

    /// Most bytes buffered from the client while the session waits, before it stops reading.
    private static let inputHighWater = 64 * 1024

    init(environment: SMTPSessionEnvironment, sessionID: String) {
        self.environment = environment
        self.sessionID = sessionID
        self.machine = SMTPServerStateMachine(configuration: environment.stateMachineConfiguration)
        self.decoder = SMTPFrameDecoder(limits: environment.limits)
        self.logger = environment.logger
        self.logger[metadataKey: "smtp.session.id"] = "\(sessionID)"
    }

    func channelActive(context: ChannelHandlerContext) {
        peerAddress = context.channel.remoteAddress?.ipAddress ?? "unknown"
        logger[metadataKey: "smtp.peer"] = "\(peerAddress)"
        logger.debug("session opened")
        environment.metrics.sessionsActive.increment()
        perform(machine.sessionOpened(), context: context)
        flushOutput(context: context)
        armLineDeadline(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        lineDeadline?.cancel()
        lineDeadline = nil
        environment.metrics.sessionsActive.decrement()
        body?.discard()
        body = nil
        logger.debug("session closed")
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !closing else { return }
        input.writeBuffer(&bytes)
        processInput(context: context)
    }

    func read(context: ChannelHandlerContext) {
        // Replies the client does not read: no more commands until they drain, so that a flood
        // of pipelined commands cannot pile its replies up in memory.
        if (busy && input.readableBytes >= Self.inputHighWater) || !context.channel.isWritable {
            heldRead = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && heldRead && !busy {
            heldRead = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            processInput(context: context)
        } else if let event = event as? SMTPShutdownEvent {
            let messageEnds = event.graceElapsed && (machine.isReceivingData || machine.isDelivering)
            if let action = event.graceElapsed ? machine.shutdownGraceElapsed() : machine.shutdownRequested() {
                // The message dropped or left unconfirmed counts as one that ended with its 421.
                if messageEnds, case .replyAndClose(let replies) = action, let reply = replies.first {
                    environment.metrics.messageFinished(reply)
                }
                perform(action, context: context)
                flushOutput(context: context)
            }
        } else if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            tlsPending = false
            environment.metrics.tlsHandshakes[true]?.increment()
            machine.tlsEstablished()
            logger.debug("TLS established")
            resume(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if tlsPending {
            tlsPending = false
            environment.metrics.tlsHandshakes[false]?.increment()
        }
        if case NIOSSLError.uncleanShutdown = error {
            // A TLS client that closes the connection without close_notify, often after QUIT.
            logger.debug("TLS closed without close_notify", metadata: ["error": "\(error)"])
        } else {
            logger.info("session error, closing", metadata: ["error": "\(error)"])
        }
        closing = true
        context.close(promise: nil)
    }

    private func recipientChecked(_ decision: RecipientDecision, context: ChannelHandlerContext) {
        // An answer that comes after the session was closed (the shutdown's grace ended) has
        // no one to go to.
        guard !closing else { return }
        if case .reject(let reply) = decision {
            // The code says why (5.1.1 no such dropbox, 5.7.1 not ours); the address stays out.
            logger.info("recipient refused", metadata: reply.logMetadata)
        }
        perform(machine.recipientChecked(decision), context: context)
    }

    // MARK: Input

    /// The idle timeout has passed: the state machine says what follows. `false` when it lets
    /// the session go on (an answer is awaited).
    private func timedOut(_ what: Logger.Message, context: ChannelHandlerContext) -> Bool {
        guard !closing, let action = machine.idleTimeoutElapsed() else { return false }
        if case .replyAndClose(let replies) = action, let reply = replies.last {
            logger.info(what, metadata: reply.logMetadata)
        } else {
            logger.info(what, metadata: ["smtp.reply": "none (TLS handshake unfinished)"])
        }
        perform(action, context: context)
        flushOutput(context: context)
        return true
    }

    /// The idle timeout now: the shorter one while the server is under load for this session's
    /// address (``SMTPLimits/idleTimeoutUnderLoadSeconds``).
    private var idleTimeout: TimeAmount {
        let limits = environment.limits
        let seconds =
            environment.underLoad(peerAddress)
            ? min(limits.idleTimeoutSeconds, limits.idleTimeoutUnderLoadSeconds) : limits.idleTimeoutSeconds
        return .seconds(Int64(seconds))
    }

    /// Schedules the line deadline (see ``lineDeadline``): due `timeout` after the last whole
    /// line, looked at again at least every ``SMTPLimits/idleTimeoutUnderLoadSeconds`` so that
    /// load coming meanwhile shortens it; a line read since moves it on.
    private func armLineDeadline(context: ChannelHandlerContext, timeout: TimeAmount? = nil) {
        let limits = environment.limits
        let check = TimeAmount.seconds(Int64(max(1, min(limits.idleTimeoutSeconds, limits.idleTimeoutUnderLoadSeconds))))
        let due = min(lastWholeLine + (timeout ?? idleTimeout), .now() + check)
        lineDeadline = context.eventLoop.assumeIsolated().scheduleTask(deadline: due) { [self] in
            lineDeadline = nil
            guard !closing else { return }
            let timeout = idleTimeout
            if NIODeadline.now() < lastWholeLine + timeout {
                armLineDeadline(context: context, timeout: timeout)  // a line came since, or the time is not yet up
            } else if (busy && !tlsPending) || !timedOut("idle timeout", context: context), !closing {
                // An answer is awaited and the session goes on: the client has a whole timeout
                // from here.
                lastWholeLine = .now()
                armLineDeadline(context: context, timeout: timeout)
            }
        }
    }

    private func processInput(context: ChannelHandlerContext) {
        let dropped = decoder.droppedLines
        while !busy && !closing, let frame = decoder.next(from: &input) {
            lastWholeLine = .now()
            handle(frame, context: context)
        }
        // Lines of a message already refused (too large, a bare line ending) are read to its end
        // without frames: the client is not stalling, and gets its 5xx at the end.
        if decoder.droppedLines != dropped { lastWholeLine = .now() }
        if !busy { flushOutput(context: context) }
        if input.readableBytes == 0 || input.readerIndex > 64 * 1024 { input.discardReadBytes() }
        if inputClosed && !busy && !closing { closeAfterReplies(context: context) }
    }

    /// After a half-close, once every command that arrived is answered: nothing more can come,
    /// so the session ends with what it has written (an unfinished message is dropped, as at a
    /// lost connection).
    private func closeAfterReplies(context: ChannelHandlerContext) {
        closing = true
        logger.debug("client closed its side; closing")
        close(after: context.channel.allocator.buffer(capacity: 0), context: context)
    }

    /// The longest a session waits for its last replies to be written before it closes: a
    /// client that never reads would otherwise keep its connection and output forever.
    private static let lastWriteDeadline = TimeAmount.seconds(10)

    /// Writes `pending` (after what was written before it), then closes; at
    /// ``lastWriteDeadline`` closes anyway.
    private func close(after pending: ByteBuffer, context: ChannelHandlerContext) {
        let deadline = context.eventLoop.assumeIsolated().scheduleTask(in: Self.lastWriteDeadline) {
            context.close(promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(pending)).assumeIsolated().whenComplete { _ in
            deadline.cancel()
            context.close(promise: nil)
        }
    }

    private func handle(_ frame: SMTPFrame, context: ChannelHandlerContext) {
        switch frame {
        case .command(let line):
            perform(machine.receivedLine(line), context: context)
        case .messageContent(var content):
            guard let body else { return }
            body.append(&content)
            if let room = body.spillIfNeeded() {
                wait(for: room, context: context) { _ in _ = body.spillIfNeeded() }
            }
        case .endOfMessage(let summary):
            let action = machine.dataReceived(summary)
            if case .reply(let refusal) = action {
                // Refused by the protocol's limits (too large, a line too long, a mail loop)
                // before any delivery: its summary line says so, as a delivery's would.
                environment.metrics.messageFinished(refusal)
                logger.info(
                    "message refused before delivery",
                    metadata: refusal.logMetadata.merging(["smtp.message.id": "\(messageID)", "smtp.message.size": "\(summary.size)"]) {
                        _, new in new
                    })
            }
            perform(action, context: context)
        }
    }

    /// Marks the session busy until `future` completes, then runs `then` and handles input again.
    private func wait<Value>(
        for future: EventLoopFuture<Value>,
        context: ChannelHandlerContext,
        then: @escaping (Value) -> Void
    ) {
        busy = true
        future.assumeIsolated().whenSuccess { value in
            then(value)
            self.resume(context: context)
        }
    }

    private func resume(context: ChannelHandlerContext) {
        busy = false
        // The client's time runs from the server's answer, not from its own last line.
        lastWholeLine = .now()
        processInput(context: context)
        if heldRead && !busy && context.channel.isWritable {
            heldRead = false
            context.read()
        }
    }

    // MARK: Actions

    private func perform(_ action: SMTPServerStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .reply(let reply):
            write(reply)
        case .replyAndClose(let replies) where replies.isEmpty && output.readableBytes == 0:
            // Nothing to say (a TLS handshake in progress, which would hold any write): close.
            closing = true
            context.close(promise: nil)
        case .replyAndClose(let replies):
            if machine.closedForErrors, let last = replies.last {
                logger.info("too many errors; closing", metadata: last.logMetadata)
            }
            for reply in replies { write(reply) }
            closing = true
            let pending = output
            output = context.channel.allocator.buffer(capacity: 0)
            close(after: pending, context: context)
        case .checkRecipient(let recipient, let transaction):
            let receiver = environment.receiver
            let session = sessionInfo
            if let decision = receiver.recipientDecisionAtOnce(recipient, transaction: transaction, session: session) {
                recipientChecked(decision, context: context)
                return
            }
            flushOutput(context: context)
            let promise = context.eventLoop.makePromise(of: RecipientDecision.self)
            promise.completeWithTask {
                await receiver.checkRecipient(recipient, transaction: transaction, session: session)
            }
            wait(for: promise.futureResult, context: context) { decision in
                self.recipientChecked(decision, context: context)
            }
        case .receiveData(let reply):
            write(reply)
            decoder.mode = .data
            startMessage(context: context)
        case .deliver(let transaction, let summary):
            flushOutput(context: context)
            deliver(transaction, summary: summary, context: context)
        case .startTLS(let reply):
            startTLS(reply, context: context)
        }
        if case .replyAndClose = action {
            return
        }
        if !busy && decoder.mode == .command && body != nil && !machine.isReceivingData {
            // The data ended with a refusal: nothing of it is kept.
            body?.discard()
            body = nil
        }
    }

    private func startMessage(context: ChannelHandlerContext) {
        messageID = SMTPIdentifiers.messageID()
        dataStarted = .now
        let body = MessageBodyBuffer(
            threshold: environment.memoryThreshold,
            directory: environment.temporaryDirectory,
            threadPool: environment.threadPool,
            eventLoop: context.eventLoop,
            allocator: context.channel.allocator,
            observer: environment.receiver.makeContentObserver()
        )
        body.append(receivedField())
        self.body = body
    }

    private func deliver(_ transaction: MailTransaction, summary: MessageDataSummary, context: ChannelHandlerContext) {
        guard let body else { return }
        let dataEnded = ContinuousClock.now
        let receiver = environment.receiver
        let session = sessionInfo
        let id = messageID
        let promise = context.eventLoop.makePromise(of: (DeliveryResult, MessageContent?).self)
        body.finish().assumeIsolated().whenComplete { result in
            switch result {
            case .success(let content):
                let message = ReceivedMessage(
                    id: id, session: session, transaction: transaction, content: content,
                    receivedAt: SMTPIdentifiers.now()
                )
                let delivered = context.eventLoop.makePromise(of: DeliveryResult.self)
                receiver.receive(message, completing: delivered)
                // A receiver answers rather than fail; one that failed still gets the content's
                // file and descriptor cleaned up, and the client a 451.
                promise.completeWith(delivered.futureResult.recover { _ in .rejected(.storageFailed) }.map { ($0, content) })
            case .failure(let error):
                self.logger.error("could not keep the message data", metadata: ["error": "\(error)"])
                let outOfSpace = (error as? BodyBufferError)?.isOutOfSpace ?? false
                promise.succeed((.rejected(.storageFailure(outOfSpace: outOfSpace)), nil))
            }
        }
        wait(for: promise.futureResult, context: context) { result, content in
            if case .file(let path, let descriptor, _, _, _) = content {
                MessageFiles.remove(path, descriptor: descriptor)
            }
            self.body = nil
            // The grace period ended first and the client was told 421: no reply goes out now.
            guard !self.closing else {
                self.logDelivery(result, transaction: transaction, size: summary.size, afterClose: true)
                return
            }
            self.environment.metrics.endOfDataToReply.recordInterval(since: dataEnded)
            self.logDelivery(result, transaction: transaction, size: summary.size)
            switch result {
            case .accepted: self.environment.metrics.messageFinished(SMTPReply(250, nil, "accepted"))
            case .rejected(let reply): self.environment.metrics.messageFinished(reply)
            }
            self.perform(self.machine.deliveryFinished(result), context: context)
        }
    }

    private func startTLS(_ reply: SMTPReply, context: ChannelHandlerContext) {
        write(reply)
        flushOutput(context: context)
        // Plaintext pipelined after STARTTLS is never executed (CVE-2011-0411).
        input.clear()
        guard let tlsContext = environment.tlsContext?.context else {
            context.close(promise: nil)
            return
        }
        busy = true
        tlsPending = true
        do {
            // The line deadline times the handshake too: no line comes until it has ended.
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext), position: .first)
        } catch {
            logger.error("could not start TLS", metadata: ["error": "\(error)"])
            closing = true
            context.close(promise: nil)
        }
    }

    private func write(_ reply: SMTPReply) {
        reply.write(to: &output)
        environment.metrics.sent(reply)
    }

    private func flushOutput(context: ChannelHandlerContext) {
        guard output.readableBytes > 0, !closing else { return }
        let pending = output
        output = context.channel.allocator.buffer(capacity: 256)
        context.writeAndFlush(wrapOutboundOut(pending), promise: nil)
    }

    // MARK: Details

    private var sessionInfo: SMTPSessionInfo {
        SMTPSessionInfo(id: sessionID, peerAddress: peerAddress, heloName: machine.heloName ?? "", tls: machine.tlsActive)
    }

    /// The trace field this server adds (RFC 5321 §4.4; protocol names of RFC 3848, and of RFC
    /// 6531 §3.7.3 for a message sent with SMTPUTF8: `UTF8SMTP`, `UTF8SMTPS`).
    private func receivedField() -> String {
        var with = machine.isReceivingSMTPUTF8 ? "UTF8SMTP" : machine.isExtended ? "ESMTP" : "SMTP"
        if machine.tlsActive { with += "S" }
        return "Received: from \(machine.heloName ?? "unknown") ([\(peerAddress)])\r\n"
            + "\tby \(environment.stateMachineConfiguration.hostname) (Intake) with \(with) id \(messageID);\r\n"
            + "\t\(SMTPIdentifiers.rfc5322Date())\r\n"
    }

    private func logDelivery(_ result: DeliveryResult, transaction: MailTransaction, size: Int, afterClose: Bool = false) {
        let elapsed = ContinuousClock.now - dataStarted
        let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        var metadata: Logger.Metadata = [
            "smtp.message.id": "\(messageID)",
            "smtp.message.size": "\(size)",
            "smtp.recipients": "\(transaction.recipients.count)",
            "duration_ms": "\(Int(milliseconds.rounded()))",
        ]
        if afterClose {
            // The client got 421 at the end of the shutdown's grace period and sends it again.
            metadata["smtp.reply"] = "421"
            switch result {
            case .accepted: metadata["smtp.later_outcome"] = "stored"
            case .rejected(let reply): metadata["smtp.later_outcome"] = "\(reply.code)"
            }
            logger.notice("message answered 421 at the end of the shutdown grace period", metadata: metadata)
            return
        }
        switch result {
        case .accepted:
            metadata["smtp.reply"] = "250"
            logger.info("message accepted", metadata: metadata)
        case .rejected(let reply):
            metadata["smtp.reply"] = "\(reply.code)"
            logger.info("message refused", metadata: metadata)
        }
    }
}

extension SMTPReply {
    /// The reply's codes for a log line: `smtp.reply` and, when it has one, `smtp.reply.enhanced`
    /// (never its text, which may name an address).
    fileprivate var logMetadata: Logger.Metadata {
        var metadata: Logger.Metadata = ["smtp.reply": "\(code)"]
        if let enhancedCode { metadata["smtp.reply.enhanced"] = "\(enhancedCode)" }
        return metadata
    }
}
