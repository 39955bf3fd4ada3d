/// Every limit the SMTP receiver enforces, in one place, each with the RFC section it comes from.
///
/// All of them can be overridden through the daemon's configuration (`smtp.*` keys); the defaults
/// here are what Intake runs with when nothing is configured.
public struct SMTPLimits: Hashable, Sendable {
    /// Longest command line, in octets including CRLF: 512 (RFC 5321 §4.5.3.1.4), plus the room the
    /// advertised extensions add to MAIL FROM: SIZE 26 (RFC 1870 §3), BODY 16 (RFC 6152 §2),
    /// SMTPUTF8 10 (RFC 6531 §3.4). Over it: `500 5.5.2`, input discarded up to the next CRLF.
    public var maxCommandLineLength: Int = 512 + 26 + 16 + 10

    /// Longest line of message data, in octets including CRLF (RFC 5321 §4.5.3.1.6). Over it the
    /// message is read to its end and refused with `500 5.5.2`.
    public var maxDataLineLength: Int = 1000

    /// Largest message accepted, in octets after dot-unstuffing; advertised with SIZE (RFC 1870).
    /// Over it: `552 5.3.4`.
    public var maxMessageSize: Int = 25 * 1024 * 1024

    /// Most recipients in one transaction; RFC 5321 §4.5.3.1.8 asks for at least 100. Each one more
    /// gets `452 4.5.3`.
    public var maxRecipients: Int = 100

    /// Most error replies a session may earn before it is closed with `421 4.7.0`.
    public var maxErrors: Int = 10

    /// Most `Received:` header fields a message may carry before it is taken for a mail loop and
    /// refused with `554 5.4.6` (RFC 5321 §6.3).
    public var maxReceivedHeaders: Int = 50

    /// Seconds a session may stay silent before it is closed with `421 4.4.2`. RFC 5321 §4.5.3.2.7
    /// asks for at least 5 minutes.
    public var idleTimeoutSeconds: Int = 300

    /// The idle timeout while the server is under load: 80 % of ``maxConnections`` open, or 80 %
    /// of ``maxConnectionsPerIP`` from the session's own address. A client holding its slots
    /// with a line every few minutes (a slowloris) then has to send one every few seconds, as
    /// Postfix's stress-dependent `smtpd_timeout` asks.
    public var idleTimeoutUnderLoadSeconds: Int = 10

    /// Most simultaneous connections, in total. Over it: `421 4.7.0`, close.
    public var maxConnections: Int = 1000

    /// Most simultaneous connections from one IP address. Over it: `421 4.7.0`, close.
    public var maxConnectionsPerIP: Int = 50

    /// Longest local part, in octets (RFC 5321 §4.5.3.1.1).
    public static let maxLocalPartLength = 64
    /// Longest domain, in octets (RFC 5321 §4.5.3.1.2).
    public static let maxDomainLength = 255
    /// Longest reverse or forward path, in octets including the angle brackets (RFC 5321 §4.5.3.1.3).
    public static let maxPathLength = 256

    /// The defaults above.
    public init() {}
}
