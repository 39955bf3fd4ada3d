import Dispatch
import Foundation
import IntakeStore
import Logging
import ServiceLifecycle
import Synchronization

/// Group commit: deliveries from concurrent sessions wait here and are filed together, one
/// transaction per batch, so one fsync covers many messages. Each caller's answer comes only once
/// the transaction holding its delivery has committed.
///
/// The transactions run on a thread of their own, which blocks on SQLite and its fsyncs and
/// answers each caller directly: no task or queue hop between a batch and the next.
///
/// The same thread checkpoints the WAL (copies it back into the database file): after answering a
/// batch, once no delivery waits and the WAL holds `checkpointPages` pages (while deliveries wait,
/// only past 16 times that), and after a second without deliveries. As the only writer it
/// checkpoints everything, so the next commit starts the WAL over and the WAL stays small. A
/// checkpoint beside the commits, in the background, never catches up under steady load: the WAL
/// then grows without end, and each of its fsyncs delays the commits' fsyncs.
///
/// It runs as a service; at shutdown it files what is queued, checkpoints, then stops. The SMTP
/// listener stops before it, so no session is left waiting; a delivery that still comes later is
/// answered as unavailable.
final class FilingQueue: Service, Sendable {
    /// What a caller is given: the outcome for each recipient, or why the delivery failed.
    typealias Outcome = Result<[RecipientResult], StoreError>

    private struct Job: Sendable {
        var delivery: Delivery
        var completion: @Sendable (Outcome) -> Void
    }

    private struct State {
        var jobs: [Job] = []
        var stopping = false
        var stopped = false
    }

    private let database: IntakeDatabase
    private let metrics: IntakeMetrics
    private let maxBatch: Int
    private let checkpointPages: Int
    private let logger: Logger
    private let state = Mutex(State())
    /// Signalled once per queued delivery and once at shutdown.
    private let wake = DispatchSemaphore(value: 0)

    init(database: IntakeDatabase, metrics: IntakeMetrics, maxBatch: Int = 64, checkpointPages: Int = 100, logger: Logger) {
        self.database = database
        self.metrics = metrics
        self.maxBatch = maxBatch
        self.checkpointPages = checkpointPages
        self.logger = logger
    }

    /// Files `delivery` in the next batch and returns once it is committed (or has failed).
    func file(_ delivery: Delivery) async -> Outcome {
        await withCheckedContinuation { continuation in
            file(delivery) { continuation.resume(returning: $0) }
        }
    }

    /// Files `delivery` in the next batch and calls `completion` once it is committed (or has
    /// failed), on the commit thread: it must be quick and must not block.
    func file(_ delivery: Delivery, completion: @escaping @Sendable (Outcome) -> Void) {
        let queued = state.withLock { state in
            guard !state.stopped else { return false }
            state.jobs.append(Job(delivery: delivery, completion: completion))
            return true
        }
        if queued {
            wake.signal()
        } else {
            // Never filed: its kept raw file goes too.
            database.removeKeptFile(of: delivery)
            completion(.failure(StoreError(code: .unavailable, message: "the server is shutting down")))
        }
    }

    func run() async throws {
        // Graceful shutdown, or cancellation when another service of the group fails: either
        // way the queued deliveries are filed and answered before the thread ends.
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
                    Thread.detachNewThread { [self] in
                        Thread.current.name = "intake-commit"
                        commitLoop()
                        finished.resume()
                    }
                }
            } onGracefulShutdown: {
                self.stop()
            }
        } onCancel: {
            self.stop()
        }
    }

    private func stop() {
        state.withLock { $0.stopping = true }
        wake.signal()
    }

    /// Takes batches and commits them until shutdown, then files what is left and stops.
    private func commitLoop() {
        while true {
            let woken = wake.wait(timeout: .now() + .seconds(1)) == .success
            if !woken {
                // A second without deliveries: bring the database file up to date.
                if database.walPages > 0 { checkpoint() }
                continue
            }
            while true {
                let batch: [Job] = state.withLock { state in
                    let taken = Array(state.jobs.prefix(maxBatch))
                    state.jobs.removeFirst(taken.count)
                    if taken.isEmpty && state.stopping { state.stopped = true }
                    return taken
                }
                guard !batch.isEmpty else { break }
                if database.walPages >= 16 * checkpointPages { checkpoint() }
                let started = ContinuousClock.now
                let results = database.fileBlocking(batch.map(\.delivery))
                metrics.commitDuration.recordInterval(since: started)
                for (job, result) in zip(batch, results) {
                    job.completion(result)
                }
            }
            if state.withLock({ $0.stopped }) {
                checkpoint()
                return
            }
            if database.walPages >= checkpointPages && state.withLock({ $0.jobs.isEmpty }) { checkpoint() }
        }
    }

    private func checkpoint() {
        let started = ContinuousClock.now
        do {
            try database.checkpointNow()
            metrics.checkpointDuration.recordInterval(since: started)
        } catch {
            logger.warning("WAL checkpoint failed; the next one retries", metadata: ["error": "\(error)"])
        }
    }
}
