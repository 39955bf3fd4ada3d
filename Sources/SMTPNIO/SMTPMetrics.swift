import CoreMetrics
import SMTPCore

/// The SMTP listener's metrics, created once with bounded labels: never an address, a user or a
/// message id.
public struct SMTPMetrics: Sendable {
    let sessionsActive: Meter
    let connectionsRefused: Counter
    let tlsHandshakes: [Bool: Counter]
    let messages: [String: Counter]
    /// From reading a message's end of data (CRLF.CRLF) to writing its reply: what the client
    /// waits for once its last octet has arrived.
    let endOfDataToReply: Timer
    private let replies: [Int: Counter]
    private let otherReplies: Counter

    /// The reply codes counted one by one; any other counts as `other`.
    static let knownCodes = [
        214, 220, 221, 250, 252, 354, 421, 451, 452, 500, 501, 502, 503, 550, 552, 553, 554, 555,
    ]

    /// Creates the metrics through `factory`.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        sessionsActive = Meter(label: "smtp_sessions_active", factory: factory)
        connectionsRefused = Counter(label: "smtp_connections_refused_total", factory: factory)
        tlsHandshakes = [
            true: Counter(label: "smtp_tls_handshakes_total", dimensions: [("result", "ok")], factory: factory),
            false: Counter(label: "smtp_tls_handshakes_total", dimensions: [("result", "failed")], factory: factory),
        ]
        messages = Dictionary(
            uniqueKeysWithValues: ["accepted", "refused", "failed"].map {
                ($0, Counter(label: "smtp_messages_total", dimensions: [("result", $0)], factory: factory))
            }
        )
        replies = Dictionary(
            uniqueKeysWithValues: Self.knownCodes.map {
                ($0, Counter(label: "smtp_replies_total", dimensions: [("code", String($0))], factory: factory))
            }
        )
        otherReplies = Counter(label: "smtp_replies_total", dimensions: [("code", "other")], factory: factory)
        endOfDataToReply = Timer(label: Self.endOfDataToReplyLabel, factory: factory)
    }

    /// The label of ``endOfDataToReply``, for its histogram's buckets.
    public static let endOfDataToReplyLabel = "smtp_end_of_data_to_reply_seconds"

    /// Counts a reply sent.
    func sent(_ reply: SMTPReply) {
        (replies[reply.code] ?? otherReplies).increment()
    }

    /// Counts the end of a message: accepted (250), refused (5xx) or failed (4xx).
    func messageFinished(_ reply: SMTPReply) {
        let result = reply.isPositive ? "accepted" : reply.isPermanentFailure ? "refused" : "failed"
        messages[result]?.increment()
    }
}

extension Timer {
    /// Records the time elapsed since `start`.
    public func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
