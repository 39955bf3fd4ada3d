#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto
import NIOCore
import NIOPosix
import SMTPCore

/// Collects a message's content as it arrives: in memory up to a threshold, then in a file in the
/// server's temporary folder, so that a large message never sits in memory whole.
///
/// It belongs to one session's event loop. Once the content goes to a file, it goes in pieces of
/// ``fileChunk`` octets, handed to the lanes of ``SpillLanes`` on the thread pool: one writes
/// each piece and hashes it (SHA-256), the other, when the receiver has an observer, shows it to
/// the observer. The session
/// reads on while they run, up to ``SpillLanes/maxPiecesInFlight`` pieces ahead, and waits for
/// room beyond that, so memory stays bounded. The last piece is handed over at the end of data;
/// when the lanes have caught up by then, it is written on the event loop, so the reply waits for
/// no thread-pool hop.
///
/// The file is handed to the kernel's write-back (`sync_file_range`) every
/// ``SpillLanes/writeBackStep`` octets, so that at the end of data the file's name-by-content is
/// known and the fsync that follows finds most of it on its way to the disk. It is not synced
/// before the end: a sync while the content arrives held up the write of the next piece, and so
/// the reading of the session, for as long as the disk took. The receiver that makes the file
/// durable syncs it through the descriptor the content was written through, handed over with the
/// content, so a write-back error meanwhile fails that sync (the kernel reports such an error
/// once to each descriptor open when it happened, at its next sync).
///
/// The buffers of the pieces are reused from piece to piece: a new buffer for each piece of 64 KiB
/// came from a mapping of its own (the daemon's allocator maps buffers from 128 KiB, ``fileChunk``
/// plus a frame's overshoot rounded up), so every piece cost a `mmap`, twenty-odd page faults and
/// a `munmap` with its TLB flush on every core.
final class MessageBodyBuffer {
    /// The octets collected between two hand-overs once the content goes to a file.
    static let fileChunk = 64 * 1024

    private var memory: ByteBuffer
    /// Buffers made for pieces going to the file, by this type or by a copy when a shared one
    /// was cleared: at most one per piece in flight and the one being collected, as its test
    /// checks.
    private(set) var pieceBuffersMade = 0
    private let allocator: ByteBufferAllocator
    private let threshold: Int
    /// The memory part's size that sends it to the file: the threshold, then a file chunk.
    private var spillSize: Int
    private var discarded = false
    private let directory: String
    private let threadPool: NIOThreadPool
    private let eventLoop: any EventLoop
    /// The receiver's observer of what goes to the file, until the lanes take it.
    private var observer: (any MessageContentObserver)?
    /// The lanes, once the content goes to a file.
    private var lanes: SpillLanes?
    private(set) var size = 0
    /// The lanes failed (a write, or the pool stopped), as seen at a hand-over: the rest of the
    /// content is dropped as it arrives. A flag of the event loop's, so that a frame's append
    /// takes no lock.
    private var contentLost = false

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
        guard !contentLost else { return }
        memory.writeBuffer(&bytes)
    }

    /// Appends text.
    func append(_ text: String) {
        size += memory.writeString(text)
    }

    /// Whether the memory part has reached its spill size and should go to the file.
    var shouldSpill: Bool { !discarded && !contentLost && memory.readableBytes >= spillSize }

    /// Hands the memory part to the lanes once it has reached its spill size. Returns a future
    /// when they have no room for it yet: the session waits for it, then calls again. `nil`: the
    /// session reads on.
    func spillIfNeeded() -> EventLoopFuture<Void>? {
        guard shouldSpill else { return nil }
        let lanes =
            self.lanes
            ?? SpillLanes(directory: directory, threadPool: threadPool, observer: observer, reusableCapacity: 2 * pieceCapacity)
        self.lanes = lanes
        observer = nil
        if lanes.failed {
            // Part of the content never reached the file: the end of data reports why.
            contentLost = true
            return nil
        }
        // Moved out while it is handed over: a lane may run on this thread (a stopped pool runs
        // its work here), and a promise it completes must not find the buffer borrowed.
        var piece = memory
        memory = ByteBuffer()
        let room = lanes.hand(&piece, at: size - piece.readableBytes, on: eventLoop)
        // The piece itself when there was no room; else a spare buffer, or an empty one. Swapped,
        // so that no second copy is left to make its clearing below allocate a new one.
        swap(&memory, &piece)
        if let room { return room }
        // The next piece goes in the buffer of a piece the lanes are done with (given back in its
        // place), or a new one. It never grows: the hand-over comes once it holds a piece, which at
        // most one more frame overshoots.
        spillSize = min(threshold, Self.fileChunk)
        if memory.capacity > 0 {
            // Shared still (a lane's copy not yet dropped), clearing it makes a new one.
            let storage = memory.withVeryUnsafeBytes { $0.baseAddress }
            memory.clear()
            if memory.withVeryUnsafeBytes({ $0.baseAddress }) != storage { pieceBuffersMade += 1 }
        } else {
            memory = allocator.buffer(capacity: pieceCapacity)
            pieceBuffersMade += 1
        }
        return nil
    }

    /// The capacity of a piece's buffer: a piece, and the frame of content that may overshoot it.
    private var pieceCapacity: Int { min(threshold, Self.fileChunk) + MessageDataReader.maxRunLength + 1024 }

    /// The whole content, once the data has ended.
    func finish() -> EventLoopFuture<MessageContent> {
        guard let lanes else {
            return eventLoop.makeSucceededFuture(.memory(memory))
        }
        let size = self.size
        // Nothing more comes: the buffer goes now, not when the session drops the message; and
        // moved out first, so that a promise a lane completes here does not find it borrowed.
        var last = memory
        memory = ByteBuffer()
        if !lanes.failed && last.readableBytes > 0 {
            // The last piece: at most one, written to the page cache and not synced (the fsync
            // at the end of data follows). A lane that has caught up takes it here, on the event
            // loop, where a hop to the thread pool and back would delay the reply by two thread
            // wake-ups on a busy machine.
            _ = lanes.hand(&last, at: size - last.readableBytes, on: eventLoop, last: true)
        }
        return lanes.drained(on: eventLoop).flatMapThrowing { () -> MessageContent in
            var result = lanes.takeResult()
            if let failure = result.failure {
                if let (descriptor, path) = result.file { MessageFiles.remove(path, descriptor: descriptor) }
                throw failure
            }
            // Dropped while the lanes ran: part of the content never reached the file.
            guard let (descriptor, path) = result.file else { throw BodyBufferError.contentLost }
            // The descriptor stays open for the receiver's sync
            // (``MessageContent/file(path:descriptor:size:sha256:observed:)``).
            return .file(
                path: path, descriptor: descriptor, size: size, sha256: Array(result.digest.finalize()),
                observed: result.observer?.finish())
        }
    }

    /// A future that succeeds once every piece handed over so far is written and observed.
    func handedPiecesDone() -> EventLoopFuture<Void> {
        lanes?.drained(on: eventLoop) ?? eventLoop.makeSucceededVoidFuture()
    }

    /// Drops the content and deletes the file, if any (once the write lane no longer uses it).
    func discard() {
        discarded = true
        memory.clear()
        lanes?.discard()
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
