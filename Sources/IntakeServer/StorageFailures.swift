import Foundation
import Synchronization

/// The deliveries that could not be stored, by what failed, until that part works again: `/healthz`
/// reports them, since the health probe's own small write can succeed while deliveries fail (an
/// unwritable raw folder, pages that cannot be read). A failure of one part is cleared only by a
/// success of that part: small messages committed while the raw folder refuses every large one's
/// file leave that failure standing; a file that `/healthz` itself keeps in the raw folder ends it
/// (``RawMessageFolder/keepProblem()``), so that a daemon taken out of service for its 503 can come
/// back without a large message. A full database or disk is not recorded here: the database
/// reports that standing failure itself, and clears it as soon as there is room.
final class StorageFailures: Sendable {
    /// The part of storing a delivery that failed.
    enum Part: String, Sendable, CaseIterable {
        /// Keeping a large message's file in the raw folder, or reading it back.
        case rawFile = "raw file"
        /// The transaction that files the message.
        case commit
    }

    private let last = Mutex<[Part: (reason: String, at: Date)]>([:])

    /// `part` failed for `reason`.
    func failed(_ part: Part, _ reason: String) {
        last.withLock { $0[part] = (reason, Date()) }
    }

    /// `part` worked: its failure, if any, is over.
    func worked(_ part: Part) {
        last.withLock { if $0[part] != nil { $0[part] = nil } }
    }

    /// Whether a failure of `part` stands.
    func stands(_ part: Part) -> Bool {
        last.withLock { $0[part] != nil }
    }

    /// What `/healthz` says while a failure stands.
    var problem: String? {
        let failures = last.withLock { last in Part.allCases.compactMap { part in last[part].map { (part, $0) } } }
        guard !failures.isEmpty else { return nil }
        let told = failures.map { part, failure in
            let when = ISO8601DateFormatter.string(from: failure.at, timeZone: .gmt, formatOptions: [.withInternetDateTime])
            return "\(part.rawValue) failed at \(when): \(failure.reason)"
        }
        return "deliveries could not be stored (\(told.joined(separator: "; "))); messages get 451 until that works again"
    }
}
