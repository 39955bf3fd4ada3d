import Dispatch
import Foundation
import GRDB

extension IntakeDatabase {
    /// What a backup wrote.
    public struct BackupResult: Sendable {
        public var path: String
        public var size: Int
    }

    /// Copies the database to a new file at `path` with SQLite's online backup API, from one
    /// consistent snapshot, while mail keeps being filed. The copy runs on a thread of its own, off
    /// the cooperative pool.
    public func backup(to path: String) async throws(StoreError) -> BackupResult {
        guard path.hasPrefix("/") else {
            throw StoreError(code: .invalid, message: "path must be absolute (the daemon's folder is not yours), not \(path)")
        }
        guard !FileManager.default.fileExists(atPath: path) else {
            throw StoreError(code: .conflict, message: "\(path) exists already; a backup never overwrites a file")
        }
        let writer = self.writer
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                DispatchQueue.global(qos: .utility).async {
                    do {
                        let destination = try DatabaseQueue(path: path)
                        try writer.backup(to: destination)
                        try destination.close()
                        continuation.resume()
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            }
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw StoreError(error, doing: "back up to \(path)")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return BackupResult(path: path, size: size)
    }
}
