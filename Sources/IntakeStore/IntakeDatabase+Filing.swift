import Filing
import GRDB

extension IntakeDatabase {
    /// Files several deliveries in one transaction (group commit): each in a savepoint of its own,
    /// so one that fails leaves the others whole. When the commit itself fails, every delivery
    /// fails and nothing of any of them is visible.
    public func file(_ deliveries: [Delivery]) async -> [Result<[RecipientResult], StoreError>] {
        do {
            return try await writer.write { db in
                deliveries.map { delivery in
                    var outcome: Result<[RecipientResult], StoreError> = .failure(StoreError(code: .internalError, message: "not filed"))
                    do {
                        try db.inSavepoint {
                            outcome = .success(try Self.file(delivery, in: db))
                            return .commit
                        }
                    } catch {
                        outcome = .failure(StoreError(error, doing: "file message \(delivery.smtpID)"))
                    }
                    return outcome
                }
            }
        } catch {
            let failure = StoreError(error, doing: "commit")
            return deliveries.map { _ in .failure(failure) }
        }
    }

    /// Files one delivery in a transaction of its own.
    public func file(_ delivery: Delivery) async -> Result<[RecipientResult], StoreError> {
        await file([delivery])[0]
    }
}
