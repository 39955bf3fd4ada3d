#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CGlibcExtras
import Crypto
import NIOCore
import NIOPosix
import Synchronization

/// The pieces of one message on their way to its file, taken in order by two lanes of the thread
/// pool (the last piece may be taken on the event loop): the write lane writes each piece and
/// adds it to the message's SHA-256; the observe lane, which runs only when the receiver has an
/// observer, shows it to the observer (the filing receiver's decodes and hashes attachments).
/// "Both lanes" below means the lanes that run.
///
/// A lane runs from one piece to the next without going back to the event loop between them, so
/// the session reads on while they run, up to ``maxPiecesInFlight`` pieces ahead, and is woken only
/// when it waits for room or for the end. Before, each piece went to the pool and back before the
/// next could go: a 2 MB message made some thirty such round trips, each two thread wake-ups, and
/// the session read nothing meanwhile.
///
/// The event loop hands pieces over (``hand(_:at:on:last:)``) and takes the result once both lanes have
/// drained (``drained(on:)``, ``takeResult()``); everything the lanes share with it is behind one
/// lock, held only to take or give back work, never while a piece is written or hashed.
final class SpillLanes: Sendable {
    /// The pieces handed over and not yet done by both lanes, at most, before the last (which
    /// ``MessageBodyBuffer/finish()`` hands over whatever the room); the session waits for room
    /// beyond them. Each holds a buffer of 128 KiB.
    static let maxPiecesInFlight = 2
    /// The pieces one run of a lane takes before the pool's other work (other sessions' lanes)
    /// goes first.
    static let piecesPerRun = 2

    /// One of the two lanes.
    enum Lane: Sendable { case write, observe }

    /// What the lanes made of the content, once both have drained.
    struct Result {
        var file: (descriptor: CInt, path: String)?
        var digest: SHA256
        var observer: (any MessageContentObserver)?
        var failure: (any Error)?
    }

    private struct Piece {
        var buffer: ByteBuffer
        var offset: Int
        /// The lanes that have not done this piece yet.
        var lanesLeft: Int
    }

    private struct State {
        /// The pieces not yet done by both lanes, in order; the first is number `first`.
        var pieces: [Piece] = []
        var first = 0
        /// The number of the next piece each lane takes.
        var nextToWrite = 0
        var nextToObserve = 0
        var writing = false
        var observing = false
        var file: (descriptor: CInt, path: String)?
        var digest = SHA256()
        var observer: (any MessageContentObserver)?
        var failure: (any Error)?
        var discarded = false
        /// The last piece has been handed over: no buffer is kept for another.
        var ended = false
        /// Buffers of pieces both lanes are done with, for the session to collect the next in.
        var spares: [ByteBuffer] = []
        var roomWaiter: EventLoopPromise<Void>?
        var drainWaiter: EventLoopPromise<Void>?

        var idle: Bool { !writing && !observing && pieces.isEmpty }
        var hasRoom: Bool { pieces.count < SpillLanes.maxPiecesInFlight }

        func next(_ lane: Lane) -> Int { lane == .write ? nextToWrite : nextToObserve }
        func running(_ lane: Lane) -> Bool { lane == .write ? writing : observing }
        mutating func setRunning(_ lane: Lane, _ running: Bool) {
            if lane == .write { writing = running } else { observing = running }
        }

        /// Marks piece `number` done by one lane; releases the pieces at the front that both
        /// lanes are done with, their buffers kept as spares while more pieces may come and when
        /// they are no larger than `reusableCapacity`.
        mutating func done(_ number: Int, by lane: Lane, reusableCapacity: Int) {
            if lane == .write { nextToWrite = number + 1 } else { nextToObserve = number + 1 }
            pieces[number - first].lanesLeft -= 1
            while let front = pieces.first, front.lanesLeft == 0 {
                let released = pieces.removeFirst()
                first += 1
                if !ended && !discarded && spares.count < SpillLanes.maxPiecesInFlight
                    && released.buffer.capacity <= reusableCapacity
                {
                    spares.append(released.buffer)
                }
            }
        }

        /// The file, to be closed and removed, once the content is lost or dropped and the write
        /// lane no longer uses it.
        mutating func takeFileToRemove() -> (descriptor: CInt, path: String)? {
            guard (failure != nil || discarded) && !writing, let file else { return nil }
            self.file = nil
            return file
        }
    }

    private let state: Mutex<State>
    /// The lanes that run: the observe lane only when there is an observer.
    private let lanes: [Lane]
    private let directory: String
    private let threadPool: NIOThreadPool
    /// The largest buffer kept for reuse: a piece's, and not one that grew far beyond it.
    private let reusableCapacity: Int

    init(directory: String, threadPool: NIOThreadPool, observer: (any MessageContentObserver)?, reusableCapacity: Int) {
        var state = State()
        state.observer = observer
        self.state = Mutex(state)
        self.lanes = observer == nil ? [.write] : [.write, .observe]
        self.directory = directory
        self.threadPool = threadPool
        self.reusableCapacity = reusableCapacity
    }

    /// Whether a write has failed or the pool has stopped: the content is lost.
    var failed: Bool { state.withLock { $0.failure != nil } }

    /// Hands `piece`, which goes at `offset` in the file, to the lanes, and gives back in its
    /// place the buffer of a piece both lanes are done with, or an empty buffer. Unless
    /// ``maxPiecesInFlight`` pieces are in flight: then leaves `piece` as it is and returns a
    /// future that succeeds once there is room, and the caller hands the piece again.
    ///
    /// `last`: the last piece, handed over whatever the room; a lane that is not running takes it
    /// on the calling thread instead of the pool's (when the lanes have caught up: no hop to the
    /// pool and back before the reply), and no buffer is kept for another piece.
    func hand(_ piece: inout ByteBuffer, at offset: Int, on eventLoop: any EventLoop, last: Bool = false) -> EventLoopFuture<Void>? {
        let (room, start) = state.withLock { s -> (EventLoopFuture<Void>?, [Lane]) in
            guard s.hasRoom || last else {
                let waiter = s.roomWaiter ?? eventLoop.makePromise(of: Void.self)
                s.roomWaiter = waiter
                return (waiter.futureResult, [])
            }
            // Swapped, not copied: the lanes' copy is then the only one, and a spare given back
            // is no one else's, so the caller clears it in place.
            var handed = s.spares.popLast() ?? ByteBuffer()
            swap(&handed, &piece)
            s.pieces.append(Piece(buffer: handed, offset: offset, lanesLeft: lanes.count))
            if last {
                s.ended = true
                s.spares = []
            }
            var start: [Lane] = []
            for lane in lanes where !s.running(lane) {
                s.setRunning(lane, true)
                start.append(lane)
            }
            return (nil, start)
        }
        for lane in start {
            if last {
                run(lane, .active, limit: .max)
            } else {
                threadPool.submit { self.run(lane, $0, limit: Self.piecesPerRun) }
            }
        }
        return room
    }

    /// A future that succeeds once both lanes have done every piece handed to them.
    func drained(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        state.withLock { s in
            if s.idle { return eventLoop.makeSucceededVoidFuture() }
            let waiter = s.drainWaiter ?? eventLoop.makePromise(of: Void.self)
            s.drainWaiter = waiter
            return waiter.futureResult
        }
    }

    /// What the lanes made, taken out: the file is then the caller's. Call once they have drained.
    func takeResult() -> Result {
        state.withLock { s in
            let result = Result(file: s.file, digest: s.digest, observer: s.observer, failure: s.failure)
            s.file = nil
            s.observer = nil
            s.ended = true
            s.spares = []
            return result
        }
    }

    /// Drops the content: the lanes skip what is left, and the file goes once the write lane no
    /// longer uses it.
    func discard() {
        let file = state.withLock { s in
            s.discarded = true
            s.spares = []
            return s.takeFileToRemove()
        }
        if let file { MessageFiles.remove(file.path, descriptor: file.descriptor) }
    }

    /// A run of `lane`: takes up to `limit` pieces in order, then goes to the back of the pool's
    /// queue if more are waiting, or stops.
    private func run(_ lane: Lane, _ itemState: NIOThreadPool.WorkItemState, limit: Int) {
        if itemState == .cancelled {
            // The pool has stopped (the daemon is shutting down): nothing more is written, and
            // the rest of the pieces are skipped.
            state.withLock { s in
                if s.failure == nil { s.failure = NIOThreadPoolError.ThreadPoolInactive() }
            }
        }
        var taken = 0
        while itemState == .cancelled || taken < limit {
            guard take(lane) else { return }
            taken += 1
        }
        // The pool's other work goes first; this lane goes on after it if a piece waits.
        stopOrGoOn(lane)
    }

    /// The lane stops if no piece waits for it; otherwise it runs on, on the pool.
    private func stopOrGoOn(_ lane: Lane) {
        let (goOn, fileToRemove, drained) = state.withLock { s -> (Bool, (descriptor: CInt, path: String)?, EventLoopPromise<Void>?) in
            if s.next(lane) < s.first + s.pieces.count { return (true, nil, nil) }
            s.setRunning(lane, false)
            let file = s.takeFileToRemove()
            var drained: EventLoopPromise<Void>?
            if s.idle {
                drained = s.drainWaiter
                s.drainWaiter = nil
            }
            return (false, file, drained)
        }
        if goOn {
            threadPool.submit { self.run(lane, $0, limit: Self.piecesPerRun) }
            return
        }
        if let fileToRemove { MessageFiles.remove(fileToRemove.path, descriptor: fileToRemove.descriptor) }
        drained?.succeed()
    }

    /// The work of one lane on its next piece, if one waits; false when none does (the lane has
    /// then stopped, or gone on on the pool: ``stopOrGoOn(_:)``).
    private func take(_ lane: Lane) -> Bool {
        enum Work {
            case skip
            case write(ByteBuffer, offset: Int, file: (descriptor: CInt, path: String)?, digest: SHA256)
            case observe(ByteBuffer, (any MessageContentObserver)?)
        }
        var taken = state.withLock { s -> (number: Int, work: Work)? in
            let number = s.next(lane)
            guard number < s.first + s.pieces.count else { return nil }
            let piece = s.pieces[number - s.first]
            if s.failure != nil || s.discarded { return (number, .skip) }
            switch lane {
            case .write:
                return (number, .write(piece.buffer, offset: piece.offset, file: s.file, digest: s.digest))
            case .observe:
                // Moved out, not copied: a copy left behind would make the observer's buffers
                // copy themselves on its first change.
                let observer = s.observer
                s.observer = nil
                return (number, .observe(piece.buffer, observer))
            }
        }
        guard let number = taken?.number else {
            stopOrGoOn(lane)
            return false
        }
        // What the lane gives back to the state once the piece is done. `taken` goes as soon as
        // its case has bound what it holds, and the case's copy of the piece's buffer at its end,
        // so that the observer is changed in place and a released buffer is reused in place.
        var giveBack: @Sendable (inout State) -> Void = { _ in }
        switch taken?.work {
        case nil, .skip?:
            taken = nil
        case .write(var buffer, let offset, var file, var digest)?:
            taken = nil
            var failure: (any Error)?
            do {
                let opened = try file ?? Self.createFile(in: directory)
                file = opened
                do {
                    try Self.writePiece(buffer, to: opened.descriptor, at: offset)
                } catch {
                    MessageFiles.remove(opened.path, descriptor: opened.descriptor)
                    file = nil
                    throw error
                }
                buffer.withUnsafeReadableBytes { digest.update(bufferPointer: $0) }
            } catch {
                failure = error
            }
            buffer = ByteBuffer()
            let (written, hashed, failed) = (file, digest, failure)
            giveBack = { s in
                s.file = written
                s.digest = hashed
                if let failed, s.failure == nil { s.failure = failed }
            }
        case .observe(var buffer, var observer)?:
            taken = nil
            buffer.withUnsafeReadableBytes { observer?.observe($0) }
            buffer = ByteBuffer()
            let observed = observer
            giveBack = { s in s.observer = observed }
        }
        finish(number, by: lane, giveBack: giveBack)
        return true
    }

    /// Gives back what a lane worked with, marks the piece done, and wakes a session waiting for
    /// room.
    private func finish(_ number: Int, by lane: Lane, giveBack: (inout State) -> Void) {
        let room = state.withLock { s -> EventLoopPromise<Void>? in
            giveBack(&s)
            s.done(number, by: lane, reusableCapacity: reusableCapacity)
            guard s.hasRoom else { return nil }
            defer { s.roomWaiter = nil }
            return s.roomWaiter
        }
        room?.succeed()
    }

    private static func createFile(in directory: String) throws -> (descriptor: CInt, path: String) {
        let path = "\(directory)/incoming-\(UInt64.random(in: .min ... .max))"
        // Open for reading too: the receiver reads the message back through it, while the file
        // moves to where it is kept.
        let descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw BodyBufferError.createFailed(errno: errno) }
        return (descriptor, path)
    }

    /// The octets between two starts of the file's write-back: each start submits its range to
    /// the disk at once, so fewer and larger ranges cost fewer requests (and, on a virtual
    /// machine, fewer exits to the host).
    static let writeBackStep = 256 * 1024

    /// Writes `buffer`, which goes at `offset` in the file; each time the file passes a multiple
    /// of ``writeBackStep`` octets, starts the write-back of what it holds since the one before
    /// (what follows the last multiple is left to the fsync at the end of data).
    static func writePiece(_ buffer: ByteBuffer, to descriptor: CInt, at offset: Int) throws {
        try buffer.withUnsafeReadableBytes { bytes in
            var done = 0
            while done < bytes.count {
                let written = write(descriptor, bytes.baseAddress! + done, bytes.count - done)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw BodyBufferError.writeFailed(errno: errno)
                }
                done += written
            }
        }
        // Write-back starts as the file grows, not at the fsync: the end of data then finds it
        // mostly done.
        let end = offset + buffer.readableBytes
        if end / writeBackStep > offset / writeBackStep {
            let start = offset / writeBackStep * writeBackStep
            _ = intake_start_writeback(descriptor, Int64(start), Int64(end / writeBackStep * writeBackStep - start))
        }
    }
}
