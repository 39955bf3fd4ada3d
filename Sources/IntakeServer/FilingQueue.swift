import Dispatch
import Foundation
import IntakeStore
import ServiceLifecycle
import Synchronization

/// Group commit: deliveries from concurrent sessions wait here and are filed together, one
/// transaction per batch, so one fsync covers many messages. Each caller's answer comes only once
/// the transaction holding its delivery has committed.
///
/// The transactions run on a thread of their own, which blocks on SQLite and its fsyncs and
/// answers each caller directly: no task or queue hop between a batch and the next. It runs as a
/// service; at shutdown it files what is queued, then stops. The SMTP listener stops before it,
/// so no session is left waiting; a delivery that still comes later is answered as unavailable.
final class FilingQueue: Service, Sendable {
    private struct Job: Sendable {
        var delivery: Delivery
        var continuation: CheckedContinuation<Result<[RecipientResult], StoreError>, Never>
    }

    private struct State {
        var jobs: [Job] = []
        var stopping = false
        var stopped = false
    }

    private let database: IntakeDatabase
    private let metrics: IntakeMetrics
    private let maxBatch: Int
    private let state = Mutex(State())
    /// Signalled once per queued delivery and once at shutdown.
    private let wake = DispatchSemaphore(value: 0)

    init(database: IntakeDatabase, metrics: IntakeMetrics, maxBatch: Int = 64) {
        self.database = database
        self.metrics = metrics
        self.maxBatch = maxBatch
    }

    /// Files `delivery` in the next batch and returns once it is committed (or has failed).
    func file(_ delivery: Delivery) async -> Result<[RecipientResult], StoreError> {
        await withCheckedContinuation { continuation in
            let queued = state.withLock { state in
                guard !state.stopped else { return false }
                state.jobs.append(Job(delivery: delivery, continuation: continuation))
                return true
            }
            if queued {
                wake.signal()
            } else {
                continuation.resume(returning: .failure(StoreError(code: .unavailable, message: "the server is shutting down")))
            }
        }
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
                Thread.detachNewThread { [self] in
                    commitLoop()
                    finished.resume()
                }
            }
        } onGracefulShutdown: {
            self.state.withLock { $0.stopping = true }
            self.wake.signal()
        }
    }

    /// Takes batches and commits them until shutdown, then files what is left and stops.
    private func commitLoop() {
        while true {
            wake.wait()
            while true {
                let batch: [Job] = state.withLock { state in
                    let taken = Array(state.jobs.prefix(maxBatch))
                    state.jobs.removeFirst(taken.count)
                    if taken.isEmpty && state.stopping { state.stopped = true }
                    return taken
                }
                guard !batch.isEmpty else { break }
                let started = ContinuousClock.now
                let results = database.fileBlocking(batch.map(\.delivery))
                metrics.commitDuration.recordInterval(since: started)
                for (job, result) in zip(batch, results) {
                    job.continuation.resume(returning: result)
                }
            }
            if state.withLock({ $0.stopped }) { return }
        }
    }
}
