import CoreMetrics
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
/// A second thread copies the WAL back into the database file (checkpoints) on a connection of
/// its own, beside the commits, so that no commit waits for the copying: the commit thread asks
/// for it once the WAL holds `checkpointPages` pages not yet copied. Such a checkpoint rarely
/// finds the WAL copied whole, as commits keep coming; so, once the WAL is 16 times that long,
/// the commit thread copies the little that is left itself at the next moment no delivery waits
/// (past 64 times, at once), and the WAL starts over at the next commit. It also checkpoints
/// after a second without deliveries, which brings the database file up to date.
///
/// It runs as a service; at shutdown it files what is queued, ends the checkpoint thread,
/// checkpoints, then stops. The SMTP listener stops before it, so no session is left waiting; a
/// delivery that still comes later is answered as unavailable.
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
        /// The checkpoint thread copies, or has been asked to.
        var checkpointing = false
        var checkpointThreadStopping = false
    }

    private let database: IntakeDatabase
    private let metrics: IntakeMetrics
    private let maxBatch: Int
    private let checkpointPages: Int
    private let logger: Logger
    private let state = Mutex(State())
    /// Signalled once per queued delivery and once at shutdown.
    private let wake = DispatchSemaphore(value: 0)
    /// Signalled when the commit thread asks for a checkpoint, and once at shutdown.
    private let checkpointWake = DispatchSemaphore(value: 0)
    /// Signalled once the checkpoint thread has ended.
    private let checkpointThreadEnded = DispatchSemaphore(value: 0)

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
                        Thread.current.name = "intake-checkpoint"
                        checkpointLoop()
                        checkpointThreadEnded.signal()
                    }
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

    /// Takes batches and commits them until shutdown, then files what is left, ends the checkpoint
    /// thread, checkpoints and stops.
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
                if database.walFrames >= 64 * checkpointPages && database.walPages > 0 { checkpoint() }
                let started = ContinuousClock.now
                let results = database.fileBlocking(batch.map(\.delivery))
                metrics.commitDuration.recordInterval(since: started)
                for (job, result) in zip(batch, results) {
                    job.completion(result)
                }
                if database.walPages >= checkpointPages { requestCheckpoint() }
            }
            // No delivery waits: copy what is left of a long WAL, so that the next commit starts it
            // over, unless the checkpoint thread copies (its pass ends with commits after it).
            if database.walFrames >= 16 * checkpointPages && database.walPages > 0
                && state.withLock({ $0.jobs.isEmpty && !$0.checkpointing })
            {
                checkpoint()
            }
            if state.withLock({ $0.stopped }) {
                state.withLock { $0.checkpointThreadStopping = true }
                checkpointWake.signal()
                checkpointThreadEnded.wait()
                checkpoint()
                return
            }
        }
    }

    /// A checkpoint on the commit thread, between two batches.
    private func checkpoint() {
        checkpoint(timedBy: metrics.checkpointDuration, database.checkpointNow)
    }

    /// Runs `body`, a checkpoint, and times it; a failure is logged, and the next one retries.
    private func checkpoint(timedBy timer: CoreMetrics.Timer, _ body: () throws(StoreError) -> Void) {
        let started = ContinuousClock.now
        do {
            try body()
            timer.recordInterval(since: started)
        } catch {
            logger.warning("WAL checkpoint failed; the next one retries", metadata: ["error": "\(error)"])
        }
    }

    /// Wakes the checkpoint thread, unless it copies already.
    private func requestCheckpoint() {
        let idle = state.withLock { state in
            defer { state.checkpointing = true }
            return !state.checkpointing
        }
        if idle { checkpointWake.signal() }
    }

    /// Copies the WAL beside the commits when asked, until shutdown.
    private func checkpointLoop() {
        while true {
            checkpointWake.wait()
            if state.withLock({ $0.checkpointThreadStopping }) { return }
            checkpoint(timedBy: metrics.besideCheckpointDuration, database.checkpointBesideWriter)
            state.withLock { $0.checkpointing = false }
        }
    }
}
