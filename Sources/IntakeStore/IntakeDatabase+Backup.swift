import Dispatch
import Foundation
import GRDB

extension IntakeDatabase {
    /// What a backup wrote.
    public struct BackupResult: Sendable {
        public var path: String
        /// Octets written: the database file and the raw message files copied beside it.
        public var size: Int
    }

    /// Copies the database to a new file at `path` with SQLite's online backup API, from one
    /// consistent snapshot, while mail keeps being filed, then copies the raw message files the
    /// copy names into its own raw folder (`<path>-raw`). The copy runs on a thread of its own,
    /// off the cooperative pool.
    public func backup(to path: String) async throws(StoreError) -> BackupResult {
        guard path.hasPrefix("/") else {
            throw StoreError(code: .invalid, message: "path must be absolute (the daemon's folder is not yours), not \(path)")
        }
        guard !FileManager.default.fileExists(atPath: path) && !FileManager.default.fileExists(atPath: path + "-raw") else {
            throw StoreError(code: .conflict, message: "\(path) exists already; a backup never overwrites a file")
        }
        // Its folder must be there and take files, before SQLite's own "unable to open".
        let folder = (path as NSString).deletingLastPathComponent
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw StoreError(code: .invalid, message: "cannot back up to \(path): there is no folder \(folder)")
        }
        guard FileManager.default.isWritableFile(atPath: folder) else {
            throw StoreError(code: .invalid, message: "cannot back up to \(path): the daemon may not write in \(folder)")
        }
        let writer = self.writer
        let rawFolder = self.rawFolder
        let destinationRaw = RawMessageFolder(databasePath: path)
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                DispatchQueue.global(qos: .utility).async {
                    do {
                        let destination = try DatabaseQueue(path: path)
                        try writer.backup(to: destination)
                        // Files are never changed once kept, and a row never outlives its file.
                        let hashes = try destination.read { db in
                            try String.fetchAll(db, sql: "SELECT DISTINCT raw_sha256 FROM message WHERE raw_sha256 IS NOT NULL")
                        }
                        try destination.close()
                        if let rawFolder, !hashes.isEmpty { try rawFolder.copy(hashes, to: destinationRaw) }
                        continuation.resume()
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            }
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: destinationRaw.path)
            throw StoreError(error, doing: "back up to \(path)")
        }
        var size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        if let files = FileManager.default.enumerator(atPath: destinationRaw.path) {
            for case let file as String in files where file.contains("/") {
                size += (try? FileManager.default.attributesOfItem(atPath: destinationRaw.path + "/" + file)[.size] as? Int) ?? 0
            }
        }
        return BackupResult(path: path, size: size)
    }
}
