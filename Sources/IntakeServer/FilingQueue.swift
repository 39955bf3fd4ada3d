import IntakeStore
import ServiceLifecycle
import Synchronization

/// Group commit: deliveries from concurrent sessions wait here and are filed together, one
/// transaction per batch, so one fsync covers many messages. Each caller's answer comes only once
/// the transaction holding its delivery has committed.
///
/// It runs as a service; at shutdown it files what is queued, then stops. The SMTP listener stops
/// before it, so no session is left waiting.
final class FilingQueue: Service, Sendable {
    private struct Job: Sendable {
        var delivery: Delivery
        var continuation: CheckedContinuation<Result<[RecipientResult], StoreError>, Never>
    }

    private let database: IntakeDatabase
    private let metrics: IntakeMetrics
    private let maxBatch: Int
    private let pending = Mutex<[Job]>([])
    private let wakeUp: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(database: IntakeDatabase, metrics: IntakeMetrics, maxBatch: Int = 64) {
        self.database = database
        self.metrics = metrics
        self.maxBatch = maxBatch
        (wakeUp, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Files `delivery` in the next batch and returns once it is committed (or has failed).
    func file(_ delivery: Delivery) async -> Result<[RecipientResult], StoreError> {
        await withCheckedContinuation { continuation in
            pending.withLock { $0.append(Job(delivery: delivery, continuation: continuation)) }
            wake.yield()
        }
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in wakeUp {
                await drain()
            }
        } onGracefulShutdown: {
            self.wake.finish()
        }
        await drain()
    }

    private func drain() async {
        while true {
            let batch: [Job] = pending.withLock { jobs in
                let taken = Array(jobs.prefix(maxBatch))
                jobs.removeFirst(taken.count)
                return taken
            }
            guard !batch.isEmpty else { return }
            let started = ContinuousClock.now
            let results = await database.file(batch.map(\.delivery))
            metrics.commitDuration.recordInterval(since: started)
            for (job, result) in zip(batch, results) {
                job.continuation.resume(returning: result)
            }
        }
    }
}
