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
import SMTPCore
import Synchronization

/// Collects a message's content as it arrives: in memory up to a threshold, then in a file in the
/// server's temporary folder, so that a large message never sits in memory whole.
///
/// It belongs to one session's event loop. File writes run on the thread pool, one at a time and in
/// order; the session reads on while one runs, and waits when the next piece is full before the
/// running write has ended. That keeps memory bounded: once a message goes to its file, the rest
/// follows in pieces of ``fileChunk`` octets, so a session receiving a large message holds little
/// more than two of them. The last piece, at most one, is written on the event loop at the end
/// of data: the reply then waits for no thread-pool hop.
///
/// A message that goes to a file is hashed (SHA-256) piece by piece while it is written, handed to
/// the kernel's write-back (`sync_file_range`) every ``writeBackStep`` octets, so that at the end
/// of data the file's name-by-content is known and the fsync that follows finds most of it on its
/// way to the disk. It is not synced before the end: a sync while the content arrives held up the
/// write of the next piece, and so the reading of the session, for as long as the disk took. The
/// receiver that makes the file durable syncs it through the descriptor the content was written
/// through, handed over with the content, so a write-back error meanwhile fails that sync (the
/// kernel reports such an error once to each descriptor open when it happened, at its next sync).
///
/// The two buffers of a message going to its file (the piece being written, the piece being
/// collected) are reused from piece to piece: a new buffer for each piece of 64 KiB came from
/// a mapping of its own (the daemon's allocator maps buffers from 128 KiB, ``fileChunk`` plus a
/// frame's overshoot rounded up), so every piece cost a `mmap`, twenty-odd page faults and a
/// `munmap` with its TLB flush on every core.
final class MessageBodyBuffer {
    /// The octets collected between two writes once the content goes to a file.
    static let fileChunk = 64 * 1024
    /// The octets between two starts of the file's write-back: each start submits its range to
    /// the disk at once, so fewer and larger ranges cost fewer requests (and, on a virtual
    /// machine, fewer exits to the host).
    static let writeBackStep = 256 * 1024

    private var memory: ByteBuffer
    /// The piece being written and digested (the thread pool's two tasks hold it too), while they run.
    private var writing: ByteBuffer?
    /// The buffer of the piece written last, once its write has ended: the next piece's. No
    /// closure holds it, so that it is reused in place (a buffer that is shared is copied when
    /// cleared).
    private var spare: ByteBuffer?
    /// Buffers made for pieces going to the file, by this type or by a copy when a shared one
    /// was cleared: two for a whole message, as its test checks.
    private(set) var pieceBuffersMade = 0
    private let allocator: ByteBufferAllocator
    private let threshold: Int
    /// The memory part's size that sends it to the file: the threshold, then a file chunk.
    private var spillSize: Int
    /// A write to the file is running on the thread pool; the file is not closed under it.
    private var spillInFlight: Bool { writing != nil }
    /// The running write's end (it never fails: a failure is kept in ``failure``).
    private var pendingSpill: EventLoopFuture<Void>?
    private var discarded = false
    private let directory: String
    private let threadPool: NIOThreadPool
    private let eventLoop: any EventLoop
    private var file: (descriptor: CInt, path: String)?
    /// The SHA-256 of what has gone to the file.
    private var digest = SHA256()
    /// The receiver's observer of what goes to the file.
    private var observer: (any MessageContentObserver)?
    private(set) var size = 0
    /// Why the file failed, once a write to it has; the content is then lost.
    private(set) var failure: (any Error)?
    var failed: Bool { failure != nil }

    init(
        threshold: Int, directory: String, threadPool: NIOThreadPool, eventLoop: any EventLoop, allocator: ByteBufferAllocator,
        observer: (any MessageContentObserver)? = nil
    ) {
        self.observer = observer
        self.threshold = threshold
        self.spillSize = threshold
        self.directory = directory
        self.threadPool = threadPool
        self.eventLoop = eventLoop
        self.allocator = allocator
        self.memory = allocator.buffer(capacity: min(threshold, 16 * 1024))
    }

    /// Appends content.
    func append(_ bytes: inout ByteBuffer) {
        size += bytes.readableBytes
        guard !failed else { return }
        memory.writeBuffer(&bytes)
    }

    /// Appends text.
    func append(_ text: String) {
        size += memory.writeString(text)
    }

    /// Whether the memory part has reached its spill size and should go to the file.
    var shouldSpill: Bool { !failed && memory.readableBytes >= spillSize }

    /// Starts writing the memory part to the file once it has reached its spill size. Returns the
    /// running write's end when that write has not ended yet: the session waits for it, then calls
    /// again. `nil`: the session reads on.
    func spillIfNeeded() -> EventLoopFuture<Void>? {
        guard shouldSpill else { return nil }
        if spillInFlight, let pendingSpill { return pendingSpill }
        pendingSpill = spill().recover { _ in }
        return nil
    }

    /// The capacity of a piece's buffer: a piece, and the frame of content that may overshoot it.
    private var pieceCapacity: Int { min(threshold, Self.fileChunk) + MessageDataReader.maxRunLength + 1024 }

    /// Writes the memory part to the file (created on first use).
    private func spill() -> EventLoopFuture<Void> {
        let chunk = memory
        // The piece before's buffer, or a new one. It never grows: the spill starts once it holds
        // a piece, which at most one more frame of content overshoots.
        spillSize = min(threshold, Self.fileChunk)
        if var reused = spare {
            spare = nil
            // Shared still (the thread pool's copy not yet dropped), clearing it makes a new one.
            let storage = reused.withVeryUnsafeBytes { $0.baseAddress }
            reused.clear()
            if reused.withVeryUnsafeBytes({ $0.baseAddress }) != storage { pieceBuffersMade += 1 }
            memory = reused
        } else {
            memory = allocator.buffer(capacity: pieceCapacity)
            pieceBuffersMade += 1
        }
        writing = chunk
        let existing = file
        let directory = self.directory
        // Everything appended so far is in the file or in this chunk.
        let offset = size - chunk.readableBytes
        let digest = self.digest
        let observer = self.observer
        // Written and digested side by side, on two threads of the pool: the digests (the message's
        // SHA-256, the observer's decoding and hashing of attachments) take about as long as the
        // write, and the next piece waits for whichever ends last. Each takes the piece out of its
        // hand-off, so that no copy is left once both have returned, before the session hears of
        // it: the session's own copy is then the only one, cleared in place.
        let handedToWrite = HandedPiece(chunk)
        let handedToDigest = HandedPiece(chunk)
        let written = threadPool.runIfActive(eventLoop: eventLoop) { () throws -> (CInt, String) in
            let file = try existing ?? Self.createFile(in: directory)
            try Self.writeOrRemove(handedToWrite.take(), into: file, at: offset)
            return file
        }.map { Result<(CInt, String), any Error>.success($0) }.recover { .failure($0) }
        let digested = threadPool.runIfActive(eventLoop: eventLoop) { () -> (SHA256, (any MessageContentObserver)?) in
            var digest = digest
            var observer = observer
            Self.digest(handedToDigest.take(), into: &digest, observer: &observer)
            return (digest, observer)
        }.map { Result<(SHA256, (any MessageContentObserver)?), any Error>.success($0) }.recover { .failure($0) }
        // Neither fails: the two have ended, whatever became of the other, so no task of this
        // piece uses the file when it is closed here.
        return written.and(digested).assumeIsolated().flatMapThrowing { written, digested in
            // Taken from the state, not captured: a copy in a closure would keep the buffer shared.
            let piece = self.writing
            self.writing = nil
            switch (written, digested) {
            case (.success(let file), .success(let (digest, observer))):
                // Its buffer takes the piece after the one being collected, unless it is the first
                // piece's and has grown far beyond a piece (a large memory threshold).
                if !self.discarded, let piece, piece.capacity <= 2 * self.pieceCapacity { self.spare = piece }
                self.file = file
                self.digest = digest
                self.observer = observer
                // Discarded while the write ran: clean up now that nothing uses the file.
                if self.discarded { self.removeFile() }
            case (.success(let file), .failure(let error)):
                // The digest never ran (the thread pool has stopped): the file goes.
                try self.fail(error, removing: file)
            case (.failure(let error), _):
                // A write that ran and failed has closed and removed the file (`writeOrRemove`);
                // one that never ran (the thread pool has stopped) leaves it to be removed here.
                try self.fail(error, removing: error is NIOThreadPoolError.ThreadPoolInactive ? existing : nil)
            }
        }.nonisolated()
    }

    /// A write to the file failed, or could not run: closes and removes `file`, if given, and
    /// keeps the failure, which the rest of the content and the end of data meet.
    private func fail(_ error: any Error, removing file: (descriptor: CInt, path: String)?) throws -> Never {
        self.file = file
        removeFile()
        failure = error
        throw error
    }

    /// The whole content, once the data has ended.
    func finish() -> EventLoopFuture<MessageContent> {
        if let failure {
            // Part of the content never reached the file.
            return eventLoop.makeFailedFuture(failure)
        }
        guard file != nil || spillInFlight else {
            return eventLoop.makeSucceededFuture(.memory(memory))
        }
        let size = self.size
        let running = spillInFlight ? pendingSpill ?? eventLoop.makeSucceededVoidFuture() : eventLoop.makeSucceededVoidFuture()
        return running.assumeIsolated().flatMapThrowing { () -> MessageContent in
            // Part of the content never reached the file.
            if let failure = self.failure { throw failure }
            guard let (descriptor, path) = self.file else { throw BodyBufferError.contentLost }
            self.file = nil
            // The last piece is written here, on the event loop: at most one piece, written to the
            // page cache and not synced (the fsync at the end of data follows), where a hop to the
            // thread pool and back would delay the reply by two thread wake-ups on a busy machine.
            do {
                try Self.writeOrRemove(self.memory, into: (descriptor, path), at: size - self.memory.readableBytes)
                Self.digest(self.memory, into: &self.digest, observer: &self.observer)
            } catch {
                self.failure = error
                throw error
            }
            // Nothing more comes: the buffers go now, not when the session drops the message. The
            // descriptor stays open for the receiver's sync (``MessageContent/file(path:descriptor:size:sha256:observed:)``).
            self.memory = ByteBuffer()
            self.spare = nil
            return .file(
                path: path, descriptor: descriptor, size: size, sha256: Array(self.digest.finalize()),
                observed: self.observer?.finish())
        }.nonisolated()
    }

    /// Drops the content and deletes the file, if any (once a write running on it has ended).
    func discard() {
        discarded = true
        memory.clear()
        spare = nil
        if !spillInFlight { removeFile() }
    }

    private func removeFile() {
        if let (descriptor, path) = file {
            close(descriptor)
            unlink(path)
            file = nil
        }
    }

    private static func createFile(in directory: String) throws -> (CInt, String) {
        let path = "\(directory)/incoming-\(UInt64.random(in: .min ... .max))"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw BodyBufferError.createFailed(errno: errno) }
        return (descriptor, path)
    }

    /// Writes `piece` at `offset` in `file` (``writePiece(_:to:at:)``). On a failed write the file
    /// is closed and removed.
    private static func writeOrRemove(_ piece: ByteBuffer, into file: (descriptor: CInt, path: String), at offset: Int) throws {
        do {
            try writePiece(piece, to: file.descriptor, at: offset)
        } catch {
            close(file.descriptor)
            unlink(file.path)
            throw error
        }
    }

    /// Adds `piece` to the message's digest and to the observer.
    private static func digest(_ piece: ByteBuffer, into digest: inout SHA256, observer: inout (any MessageContentObserver)?) {
        piece.withUnsafeReadableBytes { bytes in
            digest.update(bufferPointer: bytes)
            observer?.observe(bytes)
        }
    }

    /// Writes `buffer`, which goes at `offset` in the file; each time the file passes a multiple
    /// of ``writeBackStep`` octets, starts the write-back of what it holds since the one before
    /// (what follows the last multiple is left to the fsync at the end of data, which runs on a
    /// thread of its own: starting it here, on the event loop, could wait on a busy disk queue
    /// and hold every session of the loop).
    private static func writePiece(_ buffer: ByteBuffer, to descriptor: CInt, at offset: Int) throws {
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

/// A piece handed to one of the thread pool's tasks (the write, the digest), which takes it out
/// (``MessageBodyBuffer``).
private final class HandedPiece: Sendable {
    private let piece: Mutex<ByteBuffer?>

    init(_ piece: ByteBuffer) { self.piece = Mutex(piece) }

    /// The piece; empty when taken a second time.
    func take() -> ByteBuffer {
        piece.withLock { piece in
            defer { piece = nil }
            return piece ?? ByteBuffer()
        }
    }
}

/// Why a message's content could not be kept in its file.
enum BodyBufferError: Error, CustomStringConvertible {
    /// The file could not be created.
    case createFailed(errno: CInt)
    /// A write or sync of the file failed, with this `errno`.
    case writeFailed(errno: CInt)
    /// The file is gone before the end of data: part of the content never reached it.
    case contentLost

    /// Whether the disk (or a quota) is full.
    var isOutOfSpace: Bool {
        switch self {
        case .createFailed(let code), .writeFailed(let code): return code == ENOSPC || code == EDQUOT
        case .contentLost: return false
        }
    }

    var description: String {
        switch self {
        case .createFailed(let code): return "cannot create the message's file: \(String(cString: strerror(code)))"
        case .writeFailed(let code): return "cannot write the message's file: \(String(cString: strerror(code)))"
        case .contentLost: return "part of the message never reached its file"
        }
    }
}
