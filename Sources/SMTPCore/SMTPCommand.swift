/// A command from the client, parsed from one command line.
///
/// - SeeAlso: RFC 5321 §4.1.1 (the commands), RFC 3207 (STARTTLS).
public enum SMTPCommand: Hashable, Sendable {
    /// `HELO domain`: a plain SMTP session.
    case helo(String)
    /// `EHLO domain`: an extended (ESMTP) session.
    case ehlo(String)
    /// `MAIL FROM:<reverse-path> [parameters]`: starts a mail transaction.
    case mail(ReversePath, MailParameters)
    /// `RCPT TO:<forward-path>`: adds a recipient.
    case rcpt(ForwardPath)
    /// `DATA`: the message content follows.
    case data
    /// `RSET`: aborts the transaction.
    case rset
    /// `NOOP [string]`.
    case noop
    /// `QUIT`.
    case quit
    /// `HELP [string]`.
    case help
    /// `VRFY string`: answered without revealing anything (RFC 5321 §3.5.3).
    case vrfy
    /// `EXPN string`: not implemented.
    case expn
    /// `STARTTLS`: upgrade the connection to TLS (RFC 3207 §4).
    case startTLS
}

/// The ESMTP parameters of MAIL FROM that Intake implements.
///
/// - SeeAlso: RFC 1870 (SIZE), RFC 6152 (BODY=8BITMIME), RFC 6531 §3.4 (SMTPUTF8).
public struct MailParameters: Hashable, Sendable {
    /// The size the client declares, in octets.
    public var size: Int?
    /// The body type the client declares.
    public var body: BodyType?
    /// Whether the client asked for SMTPUTF8.
    public var smtpUTF8: Bool = false

    /// No parameters.
    public init(size: Int? = nil, body: BodyType? = nil, smtpUTF8: Bool = false) {
        self.size = size
        self.body = body
        self.smtpUTF8 = smtpUTF8
    }

    /// Whether any parameter was given.
    public var isEmpty: Bool { size == nil && body == nil && !smtpUTF8 }
}

/// The value of the BODY parameter (RFC 6152 §2).
public enum BodyType: String, Hashable, Sendable {
    case sevenBit = "7BIT"
    case eightBitMIME = "8BITMIME"
}

/// A command line that could not be parsed, with the reply it earns.
public struct SMTPCommandError: Error, Hashable, Sendable {
    /// The reply to send.
    public var reply: SMTPReply
    /// Whether the connection is closed after the reply (an HTTP request on the SMTP port).
    public var closesConnection: Bool

    /// Creates an error answered by `reply`.
    public init(_ reply: SMTPReply, closesConnection: Bool = false) {
        self.reply = reply
        self.closesConnection = closesConnection
    }
}

extension SMTPCommand {
    /// Parses one command line, without its CRLF.
    ///
    /// - Throws: the error reply for an unknown verb or a bad argument.
    public static func parse(_ line: some Collection<UInt8>) throws(SMTPCommandError) -> SMTPCommand {
        let bytes = Array(line)
        let verbEnd = bytes.firstIndex(of: UInt8(ascii: " ")) ?? bytes.endIndex
        // ASCII case only (RFC 5321 §2.4): `quıt` or `ſtarttls` is no command.
        let verb = asciiUppercased(bytes[..<verbEnd])
        let argument = verbEnd < bytes.endIndex ? bytes[(verbEnd + 1)...] : []
        let hasArgument = argument.contains { $0 != UInt8(ascii: " ") }

        switch verb {
        case "EHLO", "HELO":
            // A domain or an address literal (RFC 5321 §4.1.1.1), echoed in the reply and in the
            // Received field: no control characters, and UTF-8 if not ASCII (RFC 6531 §3.7.1).
            guard let name = String(validating: argument, as: UTF8.self)?.trimmingSpaces(),
                !name.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
            else {
                throw SMTPCommandError(.syntax("\(verb) needs your host name in plain text: \(verb) client.example"))
            }
            guard !name.isEmpty else { throw SMTPCommandError(.syntax("\(verb) needs your host name: \(verb) client.example")) }
            // One word: a name with spaces, comments or brackets inside would write a trace of
            // its own into the Received field (`EHLO a ([10.0.0.1]) by trusted.example`).
            let isLiteral = name.hasPrefix("[") && name.hasSuffix("]") && name.count > 2
            let inner = isLiteral ? name.dropFirst().dropLast() : Substring(name)
            guard !inner.contains(where: { " \t()<>[];,\"\\".contains($0) }) else {
                throw SMTPCommandError(.syntax("\(verb) takes one host name or address literal: \(verb) client.example"))
            }
            return verb == "EHLO" ? .ehlo(name) : .helo(name)
        case "MAIL":
            return try parseMail(argument)
        case "RCPT":
            return try parseRcpt(argument)
        case "DATA":
            guard !hasArgument else { throw SMTPCommandError(.syntax("DATA takes no argument")) }
            return .data
        case "RSET":
            guard !hasArgument else { throw SMTPCommandError(.syntax("RSET takes no argument")) }
            return .rset
        case "NOOP": return .noop
        case "QUIT":
            guard !hasArgument else { throw SMTPCommandError(.syntax("QUIT takes no argument")) }
            return .quit
        case "HELP": return .help
        case "VRFY":
            // `"VRFY" SP String` (RFC 5321 §4.1.1.6); the answer is 252 whatever it names.
            guard hasArgument else { throw SMTPCommandError(.syntax("VRFY needs an address: VRFY user@example.org")) }
            return .vrfy
        case "EXPN": return .expn
        case "STARTTLS":
            guard !hasArgument else { throw SMTPCommandError(.syntax("STARTTLS takes no argument")) }
            return .startTLS
        case "GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS", "DELETE":
            throw SMTPCommandError(
                SMTPReply(421, EnhancedStatusCode(4, 7, 0), "this is an SMTP server, not a web server; closing"),
                closesConnection: true
            )
        default:
            throw SMTPCommandError(SMTPReply(500, EnhancedStatusCode(5, 5, 2), "unknown command; try HELP"))
        }
    }

    private static func parseMail(_ argument: ArraySlice<UInt8>) throws(SMTPCommandError) -> SMTPCommand {
        let (path, rest) = try parsePath(
            argument, keyword: "FROM:", usage: "Syntax: MAIL FROM:<address> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8]",
            badAddress: EnhancedStatusCode(5, 1, 7), role: "sender",
            // A forwarder's SRS or VERP return path may pass 64 octets (RFC 5321 §4.5.3.1).
            maxLocalPart: SMTPLimits.maxPathLength
        )
        // `Reverse-path [SP Mail-parameters]` (RFC 5321 §4.1.1.2): a parameter starts after a space.
        if let first = rest.first, first != UInt8(ascii: " ") {
            throw SMTPCommandError(
                .syntax("Syntax: MAIL FROM:<address> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8], a space before each parameter"))
        }
        let parameters = try parseMailParameters(rest)
        let reversePath: ReversePath
        switch path {
        case .null: reversePath = .null
        case .postmaster:
            throw SMTPCommandError(SMTPReply(501, EnhancedStatusCode(5, 1, 7), "bad sender address: it needs a domain"))
        case .mailbox(let mailbox):
            if mailbox.requiresSMTPUTF8 && !parameters.smtpUTF8 {
                throw SMTPCommandError(
                    SMTPReply(553, EnhancedStatusCode(5, 6, 7), "the sender address is not ASCII; send MAIL FROM with SMTPUTF8")
                )
            }
            reversePath = .mailbox(mailbox)
        }
        return .mail(reversePath, parameters)
    }

    private static func parseRcpt(_ argument: ArraySlice<UInt8>) throws(SMTPCommandError) -> SMTPCommand {
        let (path, rest) = try parsePath(
            argument, keyword: "TO:", usage: "Syntax: RCPT TO:<address>", badAddress: EnhancedStatusCode(5, 1, 3), role: "recipient"
        )
        if rest.contains(where: { $0 != UInt8(ascii: " ") }) {
            throw SMTPCommandError(SMTPReply(555, EnhancedStatusCode(5, 5, 4), "RCPT TO takes no parameters here"))
        }
        switch path {
        case .null:
            throw SMTPCommandError(SMTPReply(501, EnhancedStatusCode(5, 1, 3), "bad recipient address: <> is not a mailbox"))
        case .postmaster:
            return .rcpt(.postmaster)
        case .mailbox(let mailbox):
            return .rcpt(.mailbox(mailbox))
        }
    }

    /// Parses `KEYWORD<path>` and returns the path and what follows it; a missing keyword or
    /// brackets earn `501 5.5.4` with `usage`, a bad address `501` with `badAddress`.
    private static func parsePath(
        _ argument: ArraySlice<UInt8>, keyword: String, usage: String, badAddress: EnhancedStatusCode, role: String,
        maxLocalPart: Int = SMTPLimits.maxLocalPartLength
    ) throws(SMTPCommandError) -> (PathParser.Parsed, ArraySlice<UInt8>) {
        guard let pathStart = afterKeyword(keyword, in: argument) else { throw SMTPCommandError(.syntax(usage)) }
        var parser = PathParser(pathStart, maxLocalPart: maxLocalPart)
        do {
            return try parser.parsePath()
        } catch {
            switch error {
            case .syntax: throw SMTPCommandError(.syntax(usage))
            case .address(let reason): throw SMTPCommandError(SMTPReply(501, badAddress, "bad \(role) address: \(reason)"))
            }
        }
    }

    /// `bytes` with ASCII letters in upper case and every other octet as it is, as text: verbs
    /// and parameter keywords are ASCII and case-insensitive in ASCII only (RFC 5321 §2.4).
    static func asciiUppercased(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes.map { (0x61...0x7A).contains($0) ? $0 - 0x20 : $0 }, as: UTF8.self)
    }

    /// Parses `esmtp-param *(SP esmtp-param)` of MAIL FROM (RFC 5321 §4.1.2).
    private static func parseMailParameters(_ bytes: ArraySlice<UInt8>) throws(SMTPCommandError) -> MailParameters {
        var parameters = MailParameters()
        // A parameter given twice with the same value is taken once (Python's smtplib repeats
        // SMTPUTF8); with different values it is an error.
        var seen: [String: String?] = [:]
        for word in bytes.split(separator: UInt8(ascii: " ")) {
            let keyword: String
            let value: String?
            if let equals = word.firstIndex(of: UInt8(ascii: "=")) {
                keyword = asciiUppercased(word[..<equals])
                value = String(decoding: word[(equals + 1)...], as: UTF8.self)
            } else {
                keyword = asciiUppercased(word)
                value = nil
            }
            if let earlier = seen[keyword] {
                guard earlier.map { Self.asciiUppercased($0.utf8) } == value.map({ Self.asciiUppercased($0.utf8) }) else {
                    throw SMTPCommandError(.syntax("the parameter \(keyword) is given twice with different values"))
                }
                continue
            }
            seen[keyword] = value
            switch (keyword, value) {
            case ("SIZE", let value?):
                // `1*20DIGIT` (RFC 1870 §3): a number too large for an Int is over any limit.
                guard (1...20).contains(value.utf8.count), value.utf8.allSatisfy({ (48...57).contains($0) }) else {
                    throw SMTPCommandError(.syntax("SIZE must be a number of octets"))
                }
                parameters.size = Int(value) ?? Int.max
            case ("BODY", let value?):
                if Self.asciiUppercased(value.utf8) == "BINARYMIME" {
                    // RFC 3030 §3: only with CHUNKING, which this server does not offer.
                    throw SMTPCommandError(
                        SMTPReply(555, EnhancedStatusCode(5, 5, 4), "BODY=BINARYMIME is not supported (no CHUNKING); send 8BITMIME or 7BIT")
                    )
                }
                guard let body = BodyType(rawValue: Self.asciiUppercased(value.utf8)) else {
                    throw SMTPCommandError(.syntax("BODY must be 7BIT or 8BITMIME"))
                }
                parameters.body = body
            case ("SMTPUTF8", nil):
                parameters.smtpUTF8 = true
            case ("SIZE", nil), ("BODY", nil), ("SMTPUTF8", _):
                throw SMTPCommandError(.syntax("bad value for the parameter \(keyword)"))
            default:
                throw SMTPCommandError(
                    SMTPReply(555, EnhancedStatusCode(5, 5, 4), "the parameter \(keyword) is not supported")
                )
            }
        }
        return parameters
    }

    /// The bytes after `keyword` (case-insensitive), skipping spaces that lenient clients put after
    /// the colon; `nil` if the argument does not start with it.
    private static func afterKeyword(_ keyword: String, in argument: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        let keywordBytes = Array(keyword.utf8)
        guard argument.count >= keywordBytes.count else { return nil }
        for (offset, expected) in keywordBytes.enumerated() {
            let byte = argument[argument.startIndex + offset]
            guard byte == expected || (byte >= 97 && byte <= 122 && byte - 32 == expected) else { return nil }
        }
        return argument.dropFirst(keywordBytes.count).drop { $0 == UInt8(ascii: " ") }
    }
}

extension SMTPReply {
    /// `501 5.5.4`: a syntax error in the parameters or arguments of a command.
    static func syntax(_ text: String) -> SMTPReply {
        SMTPReply(501, EnhancedStatusCode(5, 5, 4), text)
    }
}

extension String {
    func trimmingSpaces() -> String {
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { $0 != 32 && $0 != 9 }) else { return "" }
        let last = bytes.lastIndex(where: { $0 != 32 && $0 != 9 })!
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
