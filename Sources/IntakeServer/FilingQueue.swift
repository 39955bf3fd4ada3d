import CoreMetrics
import Dispatch
import Foundation
import IntakeStore
import Logging
import ServiceLifecycle
import Synchronization

/// Group commit: deliveries from concurrent sessions wait here and are filed together, one
/// transaction per batch, so one fsync covers many messages. Each caller's answer comes only once
/// the transaction holding its delivery is committed and durable.
///
/// The transactions run on a thread of their own, which blocks on SQLite. Its commits do not
/// wait for the disk (``IntakeDatabase/fileDeferringSync(_:)``): a second thread syncs the WAL
/// and then answers the callers of every batch committed before the sync began, while the first
/// files the next batch. One sync covers all the batches committed while the one before ran.
///
/// A failed fsync, of the WAL or in a checkpoint, ends the daemon at once (exit status 75),
/// answering nobody: the kernel may have dropped the pages it could not write, and reports
/// that only once, so a later fsync that succeeds proves nothing, and a checkpoint could copy
/// pages the WAL on disk lacks into the database file. At the next start SQLite recovers from the
/// WAL; the senders, never answered 250, retry.
///
/// A third thread copies the WAL back into the database file (checkpoints) on a connection of
/// its own, beside the commits, so that no commit waits for the copying: the commit thread asks
/// for it once the WAL holds `checkpointPages` pages not yet copied. Such a checkpoint rarely
/// finds the WAL copied whole, as commits keep coming; so, once the WAL is 16 times that long,
/// the commit thread copies the little that is left itself at the next moment no delivery waits
/// (past 64 times, at once), and the WAL starts over at the next commit. It also checkpoints
/// after a second without deliveries, which brings the database file up to date.
///
/// It runs as a service; at shutdown it files and syncs what is queued, ends the sync and
/// checkpoint threads, checkpoints, then stops. The SMTP listener stops before it, so no session is left
/// waiting; a delivery that still comes later is answered as unavailable.
final class FilingQueue: Service, Sendable {
    /// What a caller is given: the outcome for each recipient, or why the delivery failed.
    typealias Outcome = Result<[RecipientResult], StoreError>

    private struct Job: Sendable {
        var delivery: Delivery
        var completion: @Sendable (Outcome) -> Void
    }

    /// A committed batch waiting for the WAL sync, with each delivery's result.
    private struct CommittedBatch: Sendable {
        var jobs: [Job]
        var results: [Outcome]
    }

    private struct State {
        var jobs: [Job] = []
        var unsynced: [CommittedBatch] = []
        /// The sync and checkpoint threads are to end (the sync thread once it has synced what
        /// is committed).
        var helpersStopping = false
        var stopping = false
        var stopped = false
        /// The checkpoint thread copies, or has been asked to.
        var checkpointing = false
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
    /// Signalled once per committed batch, and once at shutdown.
    private let syncWake = DispatchSemaphore(value: 0)
    /// Signalled once the sync thread has ended.
    private let syncThreadEnded = DispatchSemaphore(value: 0)

    init(database: IntakeDatabase, metrics: IntakeMetrics, maxBatch: Int = 64, checkpointPages: Int = 100, logger: Logger) {
        self.database = database
        self.metrics = metrics
        self.maxBatch = maxBatch
        self.checkpointPages = checkpointPages
        self.logger = logger
    }

    /// Files `delivery` in the next batch and returns once it is committed and durable (or has
    /// failed).
    func file(_ delivery: Delivery) async -> Outcome {
        await withCheckedContinuation { continuation in
            file(delivery) { continuation.resume(returning: $0) }
        }
    }

    /// Files `delivery` in the next batch and calls `completion` once it is committed and durable
    /// (or has failed), on the sync thread (the commit thread for a batch that failed whole, the
    /// calling thread once the queue has stopped): it must be quick and must not block.
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
            completion(.failure(Self.shuttingDown))
        }
    }

    /// The answer to a delivery that comes once the queue has stopped.
    static let shuttingDown = StoreError(code: .unavailable, message: "the server is shutting down")

    /// Whether `error` is ``shuttingDown``, not a failure of the storage.
    static func isShuttingDown(_ error: StoreError) -> Bool {
        error.code == shuttingDown.code && error.message == shuttingDown.message
    }

    func run() async throws {
        // Graceful shutdown, or cancellation when another service of the group fails: either
        // way the queued deliveries are filed and answered before the thread ends.
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
                    Thread.detachNewThread { [self] in
                        // Linux keeps a thread's name only if it fits in 15 octets.
                        Thread.current.name = "intake-ckpt"
                        checkpointLoop()
                        checkpointThreadEnded.signal()
                    }
                    Thread.detachNewThread { [self] in
                        Thread.current.name = "intake-sync"
                        syncLoop()
                        syncThreadEnded.signal()
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

    /// Takes batches and commits them until shutdown, then files what is left, ends the sync and
    /// checkpoint threads, checkpoints and stops.
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
                commit(batch)
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
                state.withLock { $0.helpersStopping = true }
                syncWake.signal()
                checkpointWake.signal()
                syncThreadEnded.wait()
                checkpointThreadEnded.wait()
                checkpoint()
                return
            }
        }
    }

    /// Commits `batch` and hands it to the sync thread; a batch that failed as a whole is
    /// answered at once.
    private func commit(_ batch: [Job]) {
        let started = ContinuousClock.now
        let results = database.fileDeferringSync(batch.map(\.delivery))
        metrics.commitDuration.recordInterval(since: started)
        // At NORMAL SQLite still syncs the WAL's header when the WAL starts over.
        for case .failure(let error) in results where error.isSyncFailure { stopOnSyncFailure(error) }
        if results.allSatisfy({ if case .failure = $0 { true } else { false } }) {
            // Nothing filed (rolled back, or every delivery failed alone in its savepoint):
            // nothing to make durable.
            for (job, result) in zip(batch, results) { job.completion(result) }
            return
        }
        state.withLock { $0.unsynced.append(CommittedBatch(jobs: batch, results: results)) }
        syncWake.signal()
    }

    /// Syncs the WAL once batches are committed and answers their callers, until shutdown; then
    /// syncs what is left and ends.
    private func syncLoop() {
        while true {
            syncWake.wait()
            let (committed, stopping) = state.withLock { state in
                defer { state.unsynced.removeAll() }
                return (state.unsynced, state.helpersStopping)
            }
            if !committed.isEmpty { syncAndAnswer(committed) }
            if stopping { return }
        }
    }

    /// One WAL sync for `committed`, then the answers.
    private func syncAndAnswer(_ committed: [CommittedBatch]) {
        let started = ContinuousClock.now
        do {
            try database.syncWAL()
            metrics.walSyncDuration.recordInterval(since: started)
            for batch in committed {
                for (job, result) in zip(batch.jobs, batch.results) { job.completion(result) }
            }
        } catch {
            stopOnSyncFailure(error)
        }
    }

    /// Ends the daemon after a failed fsync, which leaves what the disk holds uncertain (see the
    /// type's documentation). No 250 goes out for anything the failure may have touched, and nothing
    /// more is written: no commit, no checkpoint, and no clean close, whose checkpoint could copy
    /// pages the WAL on disk lacks.
    func stopOnSyncFailure(_ error: StoreError) -> Never {
        logger.critical(
            "an fsync of the database's WAL or file failed; intaked stops so that SQLite recovers from the WAL at the next start, and the senders of the messages in flight retry",
            metadata: ["error": "\(error)"])
        // _exit: at once, from whichever thread fails first, running no exit handler while
        // SQLite works on other threads; the log line above is already written.
        _exit(75)  // EX_TEMPFAIL
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
            if error.isSyncFailure { stopOnSyncFailure(error) }
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
            if state.withLock({ $0.helpersStopping }) { return }
            checkpoint(timedBy: metrics.besideCheckpointDuration, database.checkpointBesideWriter)
            state.withLock { $0.checkpointing = false }
        }
    }
}
