import Foundation
import Synchronization

/// The last delivery that could not be stored (a commit that failed, a raw file that could not
/// be kept or read back), until a later one is: `/healthz` reports it, since the health probe's
/// own small write can succeed while deliveries fail (an unwritable raw folder, unreadable pages).
/// A full database or disk is not recorded here: the database reports that standing failure
/// itself, and clears it as soon as there is room.
final class StorageFailures: Sendable {
    private let last = Mutex<(reason: String, at: Date)?>(nil)

    /// A delivery failed for `reason`.
    func failed(_ reason: String) {
        last.withLock { $0 = (reason, Date()) }
    }

    /// A delivery was stored: the failure, if any, is over.
    func stored() {
        last.withLock { if $0 != nil { $0 = nil } }
    }

    /// What `/healthz` says while the failure stands.
    var problem: String? {
        last.withLock { last in
            last.map { failure in
                let when = ISO8601DateFormatter.string(from: failure.at, timeZone: .gmt, formatOptions: [.withInternetDateTime])
                return "the last delivery could not be stored (\(when): \(failure.reason)); messages get 451 until one is"
            }
        }
    }
}
