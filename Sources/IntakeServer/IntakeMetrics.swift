import CoreMetrics
import Filing
import Prometheus
import SMTPNIO

/// Every metric the daemon exports, created once with bounded labels, on a registry of its own
/// (no global bootstrap), rendered by `GET /metrics`.
struct IntakeMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let smtp: SMTPMetrics
    /// From the end of data until the commit that holds the message is durable.
    let filingDuration: CoreMetrics.Timer
    /// One group commit's transaction, without the WAL sync that makes it durable.
    let commitDuration: CoreMetrics.Timer
    /// One sync of the WAL, making the batches committed before it durable.
    let walSyncDuration: CoreMetrics.Timer
    /// One WAL checkpoint by the commit thread.
    let checkpointDuration: CoreMetrics.Timer
    /// One pass of the checkpoint thread, beside the commits.
    let besideCheckpointDuration: CoreMetrics.Timer
    /// Pages in the WAL, copied or not.
    let walPages: CoreMetrics.Gauge
    let filingOutcomes: [MessageOutcome: CoreMetrics.Counter]
    let databaseSize: CoreMetrics.Gauge

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        let buckets: [Duration] = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        factory.defaultDurationHistogramBuckets = buckets
        // Fine steps below 10 ms, where the replies to most messages fall, and 15 and 20 ms.
        factory.durationHistogramBuckets[SMTPMetrics.endOfDataToReplyLabel] =
            [250, 500, 750, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 6000, 7000, 8000, 10_000, 15_000, 20_000].map(
                Duration.microseconds)
            + buckets.filter { $0 > .milliseconds(10) }
        smtp = SMTPMetrics(factory: factory)
        filingDuration = CoreMetrics.Timer(label: "filing_duration_seconds", factory: factory)
        commitDuration = CoreMetrics.Timer(label: "filing_commit_duration_seconds", factory: factory)
        walSyncDuration = CoreMetrics.Timer(label: "database_wal_sync_duration_seconds", factory: factory)
        checkpointDuration = CoreMetrics.Timer(
            label: "database_checkpoint_duration_seconds", dimensions: [("thread", "commit")], factory: factory)
        besideCheckpointDuration = CoreMetrics.Timer(
            label: "database_checkpoint_duration_seconds", dimensions: [("thread", "checkpoint")], factory: factory)
        walPages = CoreMetrics.Gauge(label: "database_wal_pages", factory: factory)
        filingOutcomes = Dictionary(
            uniqueKeysWithValues: [MessageOutcome.filed, .refused, .duplicate, .automated, .unmatched].map {
                ($0, CoreMetrics.Counter(label: "filing_messages_total", dimensions: [("outcome", $0.rawValue)], factory: factory))
            }
        )
        databaseSize = CoreMetrics.Gauge(label: "database_size_bytes", factory: factory)
    }
}

/// The `# HELP` line of each metric, which swift-metrics cannot carry: added to the exposition
/// text before the metric's `# TYPE` line.
/// - SeeAlso: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
enum MetricHelp {
    static let texts: [String: String] = [
        "smtp_sessions_active": "SMTP sessions open now.",
        "smtp_connections_refused_total": "Connections refused with 421 at smtp.max_connections or smtp.max_connections_per_ip.",
        "smtp_tls_handshakes_total": "TLS handshakes after STARTTLS, by result.",
        "smtp_messages_total": "Messages whose data ended, by the reply they got (accepted, or the class of the refusal).",
        "smtp_replies_total": "SMTP replies sent, by code.",
        "smtp_end_of_data_to_reply_seconds": "From reading the end of a message's data to writing its reply.",
        "filing_messages_total": "Deliveries to a dropbox recipient, by filing outcome.",
        "filing_duration_seconds": "From the end of data until the commit that holds the message is durable.",
        "filing_commit_duration_seconds": "One group commit's transaction, without the WAL sync.",
        "database_wal_sync_duration_seconds": "One sync of the WAL, which makes the commits before it durable.",
        "database_checkpoint_duration_seconds": "One WAL checkpoint, by the thread that ran it.",
        "database_wal_pages": "Pages in the WAL, copied back into the database file or not.",
        "database_size_bytes": "The database file's pages in use times the page size.",
    ]

    /// `exposition` with a `# HELP` line before each `# TYPE` line of a metric in ``texts``.
    static func adding(to exposition: String) -> String {
        var out = ""
        out.reserveCapacity(exposition.utf8.count + texts.count * 80)
        for line in exposition.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE "), let name = line.dropFirst("# TYPE ".count).split(separator: " ").first,
                let help = texts[String(name)]
            {
                out += "# HELP \(name) \(help)\n"
            }
            out += line
            out += "\n"
        }
        out.removeLast()
        return out
    }
}

extension ContinuousClock.Instant {
    /// Whole milliseconds from this instant to now, for log lines.
    var millisecondsElapsed: Int64 {
        let elapsed = ContinuousClock.now - self
        return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }
}
