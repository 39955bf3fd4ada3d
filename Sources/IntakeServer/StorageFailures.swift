import Foundation
import Synchronization

/// The deliveries that could not be stored, by what failed, until that part works again: `/healthz`
/// reports them, since the health probe's own small write can succeed while deliveries fail (an
/// unwritable raw folder, pages that cannot be read). A failure of one part is cleared by a success
/// of that part: small messages committed while the raw folder refuses every large one's file leave
/// that failure standing. A failure to keep a file in a folder names that folder, and `/healthz`
/// keeps a small file of its own there (``RawMessageFolder/keepProblem(in:)``): when that works,
/// the failure ends, so that a daemon taken out of service for its 503 can come back without a
/// large message. A full database or disk is not recorded here: the database reports that
/// standing failure itself, and clears it as soon as there is room.
final class StorageFailures: Sendable {
    /// The part of storing a delivery that failed.
    enum Part: String, Sendable, CaseIterable {
        /// Keeping a large message's file in the raw folder.
        case rawFile = "raw file"
        /// Reading a large message back from its spool file. Its own part: the file's keep runs at
        /// the same time, and its success must not end this failure.
        case readBack = "reading back"
        /// The transaction that files the message.
        case commit
    }

    /// One standing failure.
    private struct Failure {
        var reason: String
        var at: Date
        /// The folder where keeping a file would show that the part works again, if any.
        var probeFolder: String?
        /// Which failure this is, so that a probe that began before it does not end it.
        var number: Int
    }

    private struct State {
        var failures: [Part: Failure] = [:]
        var count = 0
        var probing: Set<Part> = []
    }

    private let state = Mutex(State())

    /// `part` failed for `reason`; keeping a file in `probeFolder` would show it works again.
    func failed(_ part: Part, _ reason: String, probeFolder: String? = nil) {
        state.withLock { state in
            state.count += 1
            state.failures[part] = Failure(reason: reason, at: Date(), probeFolder: probeFolder, number: state.count)
        }
    }

    /// `part` worked: its failure, if any, is over.
    func worked(_ part: Part) {
        state.withLock { if $0.failures[part] != nil { $0.failures[part] = nil } }
    }

    /// A probe to run for the standing failure of `part`: the folder to keep a file in, and the
    /// failure's number for ``endProbe(_:of:worked:)``. `nil` when the failure names no folder, or
    /// when a probe of it is already running (one at a time, however often `/healthz` is asked).
    func startProbe(_ part: Part) -> (folder: String, failure: Int)? {
        state.withLock { state in
            guard let failure = state.failures[part], let folder = failure.probeFolder, !state.probing.contains(part) else {
                return nil
            }
            state.probing.insert(part)
            return (folder, failure.number)
        }
    }

    /// The probe begun for failure `number` of `part` has ended: when it `worked`, that failure
    /// is over, unless a newer one has taken its place meanwhile.
    func endProbe(_ part: Part, of number: Int, worked: Bool) {
        state.withLock { state in
            state.probing.remove(part)
            if worked, state.failures[part]?.number == number { state.failures[part] = nil }
        }
    }

    /// What `/healthz` says while a failure stands.
    var problem: String? {
        let failures = state.withLock { state in Part.allCases.compactMap { part in state.failures[part].map { (part, $0) } } }
        guard !failures.isEmpty else { return nil }
        let told = failures.map { part, failure in
            let when = ISO8601DateFormatter.string(from: failure.at, timeZone: .gmt, formatOptions: [.withInternetDateTime])
            return "\(part.rawValue) failed at \(when): \(failure.reason)"
        }
        return "deliveries could not be stored (\(told.joined(separator: "; "))); messages get 451 until that works again"
    }
}
