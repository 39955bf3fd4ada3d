import Foundation
import GRDB

extension IntakeDatabase {
    /// Moves the files of the raw folder that no message names into its `unnamed` folder, and
    /// returns how many it moved.
    ///
    /// A file is kept (made durable) before the commit that names it. A crash or an I/O error
    /// between the two leaves a file that no row names; its sender was never answered `250` and
    /// sends the message again. The file is set aside, not removed: a database restored from an
    /// older backup beside a newer raw folder would leave files that are the only copy of a message.
    ///
    /// Run it before the server accepts mail: a file kept for a message still being filed is not
    /// named yet.
    public func setAsideUnnamedRawFiles() throws(StoreError) -> Int {
        guard let rawFolder else { return 0 }
        var moved = 0
        do {
            for subfolder in 0..<256 {
                let hashes = try rawFolder.hashes(inSubfolder: subfolder)
                guard !hashes.isEmpty else { continue }
                var named: Set<String> = []
                for start in stride(from: 0, to: hashes.count, by: 500) {
                    let batch = Array(hashes[start..<min(start + 500, hashes.count)])
                    let found = try writer.read { db in
                        try String.fetchAll(
                            db,
                            sql: "SELECT raw_sha256 FROM message WHERE raw_sha256 IN (\(databaseQuestionMarks(count: batch.count)))",
                            arguments: StatementArguments(batch))
                    }
                    named.formUnion(found)
                }
                for hash in hashes where !named.contains(hash) {
                    try rawFolder.setAside(hash)
                    moved += 1
                }
            }
        } catch {
            throw StoreError(error, doing: "set aside the raw files no message names")
        }
        return moved
    }
}
