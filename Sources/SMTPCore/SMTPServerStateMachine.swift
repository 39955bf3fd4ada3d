/// The SMTP server session as a state machine: events in (commands, decisions, data ends, timers),
/// actions out (replies to send, questions to ask, modes to switch). It performs no I/O.
///
/// The caller feeds one event at a time and performs each action before feeding the next event;
/// while an action is pending (a recipient check, a delivery, a TLS handshake) it feeds no command.
///
/// - SeeAlso: RFC 5321 §4.1.4 (order of commands), §4.3.2 (replies per command), RFC 2920
///   (pipelining), RFC 3207 §4.2 (state after STARTTLS).
public struct SMTPServerStateMachine: Sendable {
    /// What the session is set up with.
    public struct Configuration: Hashable, Sendable {
        /// The name the server greets with.
        public var hostname: String
        /// The limits enforced.
        public var limits: SMTPLimits
        /// Whether STARTTLS can be offered (a certificate is configured).
        public var startTLSAvailable: Bool

        /// Creates a configuration.
        public init(hostname: String, limits: SMTPLimits = SMTPLimits(), startTLSAvailable: Bool = false) {
            self.hostname = hostname
            self.limits = limits
            self.startTLSAvailable = startTLSAvailable
        }
    }

    /// What the caller must do next.
    public enum Action: Hashable, Sendable {
        /// Send the reply and read on.
        case reply(SMTPReply)
        /// Send the replies, then close the connection.
        case replyAndClose([SMTPReply])
        /// Ask whether the recipient is acceptable, then call ``recipientChecked(_:)``.
        case checkRecipient(ForwardPath, MailTransaction)
        /// Send the reply (354) and read message data until its end, then call ``dataReceived(_:)``.
        case receiveData(SMTPReply)
        /// Hand the message over, then call ``deliveryFinished(_:)`` with the answer.
        case deliver(MailTransaction, MessageDataSummary)
        /// Send the reply (220), drop any input already buffered, and start the TLS handshake; call
        /// ``tlsEstablished()`` once it is done, or close on failure.
        case startTLS(SMTPReply)
    }

    private enum State: Hashable, Sendable {
        case awaitingHello
        case ready
        case transaction(MailTransaction)
        case checkingRecipient(MailTransaction, ForwardPath)
        case receivingData(MailTransaction)
        case delivering(MailTransaction)
        case startingTLS
        case closed
    }

    private struct Hello: Hashable, Sendable {
        var name: String
        var extended: Bool
    }

    /// The configuration in force.
    public let configuration: Configuration
    private var state: State = .awaitingHello
    private var hello: Hello?
    private var errorCount = 0
    private var shuttingDown = false
    /// Whether the session runs over TLS.
    public private(set) var tlsActive = false

    /// Creates a session that has not greeted yet.
    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The name the client gave in EHLO or HELO, if it has.
    public var heloName: String? { hello?.name }
    /// Whether the client greeted with EHLO.
    public var isExtended: Bool { hello?.extended ?? false }
    /// Whether message data is being read.
    public var isReceivingData: Bool {
        if case .receivingData = state { return true }
        return false
    }

    /// Whether a message has ended and waits for its delivery's result.
    public var isDelivering: Bool {
        if case .delivering = state { return true }
        return false
    }

    /// Whether the session was closed because the client made too many errors.
    public private(set) var closedForErrors = false

    /// Whether the message being read came with MAIL FROM's `SMTPUTF8` (RFC 6531 §3.4).
    public var isReceivingSMTPUTF8: Bool {
        if case .receivingData(let transaction) = state { return transaction.parameters.smtpUTF8 }
        return false
    }

    // MARK: Events

    /// The connection is open: the greeting to send.
    public func sessionOpened() -> Action {
        .reply(SMTPReply(220, nil, "\(configuration.hostname) ESMTP Intake"))
    }

    /// A command line was parsed.
    public mutating func receivedCommand(_ command: SMTPCommand) -> Action {
        switch state {
        case .awaitingHello, .ready, .transaction:
            break
        case .checkingRecipient, .receivingData, .delivering, .startingTLS, .closed:
            return fail(SMTPReply(503, EnhancedStatusCode(5, 5, 1), "command out of sequence"))
        }
        if shuttingDown {
            state = .closed
            return .replyAndClose([.shuttingDown(configuration.hostname)])
        }
        switch command {
        case .ehlo(let name), .helo(let name):
            let extended = if case .ehlo = command { true } else { false }
            hello = Hello(name: name, extended: extended)
            state = .ready
            return .reply(extended ? ehloReply(name) : SMTPReply(250, nil, "\(configuration.hostname) greets \(name)"))
        case .mail(let reversePath, let parameters):
            return mail(reversePath, parameters)
        case .rcpt(let forwardPath):
            return rcpt(forwardPath)
        case .data:
            // Without a transaction there is no accepted recipient either (RFC 5321 §3.3 allows
            // 503 or 554; the one answer for both keeps clients' handling simple).
            guard case .transaction(let transaction) = state else {
                return fail(SMTPReply(554, EnhancedStatusCode(5, 5, 1), "no valid recipients: send MAIL FROM and RCPT TO before DATA"))
            }
            guard !transaction.recipients.isEmpty else {
                return fail(SMTPReply(554, EnhancedStatusCode(5, 5, 1), "no valid recipients; nothing to send data for"))
            }
            state = .receivingData(transaction)
            return .receiveData(SMTPReply(354, nil, "send the message; end it with <CRLF>.<CRLF>"))
        case .rset:
            state = hello == nil ? .awaitingHello : .ready
            return .reply(SMTPReply(250, EnhancedStatusCode(2, 0, 0), "OK, transaction reset"))
        case .noop:
            return .reply(SMTPReply(250, EnhancedStatusCode(2, 0, 0), "OK"))
        case .quit:
            state = .closed
            return .replyAndClose([SMTPReply(221, EnhancedStatusCode(2, 0, 0), "\(configuration.hostname) closing connection")])
        case .help:
            return .reply(
                SMTPReply(
                    214, EnhancedStatusCode(2, 0, 0),
                    "Intake files mail sent to its dropbox addresses; commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY"
                        + (configuration.startTLSAvailable && !tlsActive ? " STARTTLS" : "")
                )
            )
        case .vrfy:
            return .reply(SMTPReply(252, EnhancedStatusCode(2, 5, 0), "cannot verify addresses; send the message and it will be handled"))
        case .expn:
            return fail(SMTPReply(502, EnhancedStatusCode(5, 5, 1), "EXPN is not supported"))
        case .startTLS:
            guard configuration.startTLSAvailable else {
                return fail(SMTPReply(502, EnhancedStatusCode(5, 5, 1), "STARTTLS is not available: no certificate is configured"))
            }
            guard !tlsActive else {
                return fail(SMTPReply(503, EnhancedStatusCode(5, 5, 1), "TLS is already active"))
            }
            if case .transaction = state {
                return fail(
                    SMTPReply(503, EnhancedStatusCode(5, 5, 1), "STARTTLS is not allowed inside a mail transaction; send RSET first"))
            }
            state = .startingTLS
            return .startTLS(SMTPReply(220, EnhancedStatusCode(2, 0, 0), "ready to start TLS"))
        }
    }

    /// A command line could not be parsed.
    public mutating func receivedInvalidCommand(_ error: SMTPCommandError) -> Action {
        if error.closesConnection {
            state = .closed
            return .replyAndClose([error.reply])
        }
        return fail(error.reply)
    }

    /// A command line was framed (or could not be: too long, bare line ending).
    public mutating func receivedLine(_ line: CommandLineReader.Line) -> Action {
        switch line {
        case .line(let bytes):
            do {
                return receivedCommand(try SMTPCommand.parse(bytes.readableBytesView))
            } catch {
                return receivedInvalidCommand(error)
            }
        case .tooLong:
            return fail(
                SMTPReply(
                    500, EnhancedStatusCode(5, 5, 2),
                    "command line too long: the limit is \(configuration.limits.maxCommandLineLength) octets")
            )
        case .bareLineEnding:
            return fail(SMTPReply(500, EnhancedStatusCode(5, 5, 2), "command line holds a bare CR or LF; end every line with CRLF"))
        }
    }

    /// The answer to ``Action/checkRecipient(_:_:)``.
    public mutating func recipientChecked(_ decision: RecipientDecision) -> Action {
        guard case .checkingRecipient(var transaction, let forwardPath) = state else {
            return fail(SMTPReply(503, EnhancedStatusCode(5, 5, 1), "command out of sequence"))
        }
        switch decision {
        case .accept:
            transaction.recipients.append(forwardPath)
            state = .transaction(transaction)
            return respond(SMTPReply(250, EnhancedStatusCode(2, 1, 5), "recipient \(forwardPath) OK"))
        case .reject(let reply):
            state = .transaction(transaction)
            return reply.isPermanentFailure ? fail(reply) : respond(reply)
        }
    }

    /// The end of the message data was read.
    public mutating func dataReceived(_ summary: MessageDataSummary) -> Action {
        guard case .receivingData(let transaction) = state else {
            return fail(SMTPReply(503, EnhancedStatusCode(5, 5, 1), "command out of sequence"))
        }
        state = .ready
        let limits = configuration.limits
        switch summary.violation {
        case .messageTooLarge:
            return respond(
                SMTPReply(
                    552, EnhancedStatusCode(5, 3, 4),
                    "the message is larger than the limit of \(limits.maxMessageSize) octets; nothing was kept")
            )
        case .bareLineEnding:
            return respond(
                SMTPReply(
                    550, EnhancedStatusCode(5, 5, 2),
                    "the message holds a bare CR or LF; lines must end with CRLF (RFC 5321 2.3.8); nothing was kept")
            )
        case .lineTooLong:
            return respond(
                SMTPReply(
                    500, EnhancedStatusCode(5, 5, 2),
                    "a line of the message is longer than \(limits.maxDataLineLength) octets (RFC 5321 4.5.3.1.6); nothing was kept"
                )
            )
        case nil:
            break
        }
        if summary.receivedHeaderCount > limits.maxReceivedHeaders {
            return respond(
                SMTPReply(
                    554, EnhancedStatusCode(5, 4, 6),
                    "the message has \(summary.receivedHeaderCount) Received: fields, more than \(limits.maxReceivedHeaders): a mail loop; nothing was kept"
                )
            )
        }
        state = .delivering(transaction)
        return .deliver(transaction, summary)
    }

    /// The answer to ``Action/deliver(_:_:)``.
    public mutating func deliveryFinished(_ result: DeliveryResult) -> Action {
        guard case .delivering = state else {
            return fail(SMTPReply(503, EnhancedStatusCode(5, 5, 1), "command out of sequence"))
        }
        state = .ready
        switch result {
        case .accepted(let id, let text):
            return respond(SMTPReply(250, EnhancedStatusCode(2, 0, 0), "\(id) \(text)"))
        case .rejected(let reply):
            return respond(reply)
        }
    }

    /// The TLS handshake after STARTTLS succeeded: the session starts over (RFC 3207 §4.2).
    public mutating func tlsEstablished() {
        // A session closed meanwhile (the shutdown's grace period ended) stays closed.
        guard case .startingTLS = state else { return }
        tlsActive = true
        hello = nil
        state = .awaitingHello
    }

    /// The client has been silent for the idle timeout; `nil` while the server itself is busy.
    public mutating func idleTimeoutElapsed() -> Action? {
        switch state {
        case .startingTLS:
            // A handshake that has not ended: no reply can be sent in plaintext, nor yet in TLS.
            state = .closed
            return .replyAndClose([])
        case .checkingRecipient, .delivering, .closed:
            return nil
        case .awaitingHello, .ready, .transaction, .receivingData:
            state = .closed
            return .replyAndClose([
                SMTPReply(421, EnhancedStatusCode(4, 4, 2), "\(configuration.hostname) idle for too long; closing, nothing was kept")
            ])
        }
    }

    /// The server is shutting down: idle sessions are closed now, busy ones after their current
    /// message; `nil` when the session is busy.
    public mutating func shutdownRequested() -> Action? {
        shuttingDown = true
        switch state {
        case .awaitingHello, .ready, .transaction:
            state = .closed
            return .replyAndClose([.shuttingDown(configuration.hostname)])
        case .checkingRecipient, .receivingData, .delivering, .startingTLS, .closed:
            return nil
        }
    }

    /// The shutdown's grace period is over and the session is still busy: a message still
    /// arriving is dropped with `421 4.3.2` (RFC 5321 §3.8), so that its sender knows to send it
    /// again; so is one still waiting for the store (it may yet be stored, and then the retry is
    /// recognised as a duplicate).
    public mutating func shutdownGraceElapsed() -> Action? {
        shuttingDown = true
        switch state {
        case .receivingData:
            state = .closed
            return .replyAndClose([
                SMTPReply(
                    421, EnhancedStatusCode(4, 3, 2),
                    "\(configuration.hostname) is shutting down; the message was not kept, send it again later")
            ])
        case .delivering:
            // Still waiting for the store: the client must not count the message as delivered.
            // Should it be stored after all, the client's retry is recognised as a duplicate.
            state = .closed
            return .replyAndClose([
                SMTPReply(
                    421, EnhancedStatusCode(4, 3, 2),
                    "\(configuration.hostname) is shutting down before the message was stored; send it again later")
            ])
        case .startingTLS:
            // The handshake holds the connection: a plaintext reply could not be sent.
            state = .closed
            return .replyAndClose([])
        case .awaitingHello, .ready, .transaction, .checkingRecipient:
            state = .closed
            return .replyAndClose([.shuttingDown(configuration.hostname)])
        case .closed:
            return nil
        }
    }

    // MARK: Commands

    private mutating func mail(_ reversePath: ReversePath, _ parameters: MailParameters) -> Action {
        guard let hello else {
            return fail(SMTPReply(503, EnhancedStatusCode(5, 5, 1), "send EHLO or HELO first"))
        }
        if case .transaction = state {
            return fail(SMTPReply(503, EnhancedStatusCode(5, 5, 1), "nested MAIL command: finish this transaction or send RSET"))
        }
        if !hello.extended && !parameters.isEmpty {
            return fail(SMTPReply(555, EnhancedStatusCode(5, 5, 4), "MAIL FROM parameters need EHLO, not HELO"))
        }
        if let size = parameters.size, size > configuration.limits.maxMessageSize {
            return fail(
                SMTPReply(
                    552, EnhancedStatusCode(5, 3, 4),
                    "the message is larger than the limit of \(configuration.limits.maxMessageSize) octets")
            )
        }
        state = .transaction(MailTransaction(reversePath: reversePath, parameters: parameters))
        return .reply(SMTPReply(250, EnhancedStatusCode(2, 1, 0), "sender \(reversePath) OK"))
    }

    private mutating func rcpt(_ forwardPath: ForwardPath) -> Action {
        guard case .transaction(let transaction) = state else {
            return fail(SMTPReply(503, EnhancedStatusCode(5, 5, 1), "send MAIL FROM before RCPT TO"))
        }
        if transaction.recipients.count >= configuration.limits.maxRecipients {
            return .reply(
                SMTPReply(452, EnhancedStatusCode(4, 5, 3), "too many recipients: send the others in another transaction")
            )
        }
        if case .mailbox(let mailbox) = forwardPath, mailbox.requiresSMTPUTF8, !transaction.parameters.smtpUTF8 {
            return fail(
                SMTPReply(553, EnhancedStatusCode(5, 6, 7), "the recipient address is not ASCII; send MAIL FROM with SMTPUTF8")
            )
        }
        state = .checkingRecipient(transaction, forwardPath)
        return .checkRecipient(forwardPath, transaction)
    }

    private func ehloReply(_ name: String) -> SMTPReply {
        var lines = [
            "\(configuration.hostname) greets \(name)",
            "PIPELINING",
            "SIZE \(configuration.limits.maxMessageSize)",
            "8BITMIME",
            "ENHANCEDSTATUSCODES",
            "SMTPUTF8",
        ]
        if configuration.startTLSAvailable && !tlsActive { lines.append("STARTTLS") }
        return SMTPReply(250, nil, lines)
    }

    // MARK: Replies

    /// An error reply, counted; past the limit the session is closed.
    private mutating func fail(_ reply: SMTPReply) -> Action {
        errorCount += 1
        if errorCount > configuration.limits.maxErrors {
            state = .closed
            closedForErrors = true
            return .replyAndClose([
                reply, SMTPReply(421, EnhancedStatusCode(4, 7, 0), "\(configuration.hostname) too many errors; closing"),
            ])
        }
        return respond(reply)
    }

    /// A reply; during shutdown the session closes after it.
    private mutating func respond(_ reply: SMTPReply) -> Action {
        if shuttingDown {
            state = .closed
            return .replyAndClose([reply, .shuttingDown(configuration.hostname)])
        }
        return .reply(reply)
    }
}

extension SMTPReply {
    static func shuttingDown(_ hostname: String) -> SMTPReply {
        SMTPReply(421, EnhancedStatusCode(4, 3, 2), "\(hostname) is shutting down; try again later")
    }
}
