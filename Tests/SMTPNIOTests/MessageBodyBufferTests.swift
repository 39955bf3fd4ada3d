import Crypto
import Foundation
import NIOCore
import NIOPosix
import SMTPCore
import Testing

@testable import SMTPNIO

/// The body buffer's file in the temporary folder: the content whole and in order, and never
/// left behind when the content is lost.
@Suite struct MessageBodyBufferTests {
    /// The file names of the folder.
    static func files(in folder: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
    }

    /// A new temporary folder, and an event loop and a thread pool of one thread each.
    static func start() throws -> (folder: String, group: MultiThreadedEventLoopGroup, pool: NIOThreadPool) {
        let folder = NSTemporaryDirectory() + "intake-bodybuffer-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return (folder, MultiThreadedEventLoopGroup(numberOfThreads: 1), pool)
    }

    /// A message already in its file when the thread pool stops (at shutdown): the next piece is
    /// never written, the content is lost, and the file is closed and removed, not left open.
    @Test func aPieceTheStoppedThreadPoolNeverWritesLeavesNoFile() async throws {
        let (folder, group, pool) = try Self.start()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let loop = group.next()

        let (filesAfterFirstPiece, failure) = try await loop.flatSubmit { () -> EventLoopFuture<([String], String)> in
            let buffer = MessageBodyBuffer(
                threshold: 1024, directory: folder, threadPool: pool, eventLoop: loop, allocator: ByteBufferAllocator())
            var piece = ByteBuffer(repeating: UInt8(ascii: "A"), count: 2048)
            buffer.append(&piece)
            #expect(buffer.spillIfNeeded() == nil)  // the first piece goes to a new file
            return buffer.handedPiecesDone().assumeIsolated().flatMap {
                let written = Self.files(in: folder)
                let stopped = loop.makePromise(of: Void.self)
                pool.shutdownGracefully(queue: .global()) { _ in stopped.succeed() }
                return stopped.futureResult.assumeIsolated().flatMap {
                    piece = ByteBuffer(repeating: UInt8(ascii: "B"), count: 2048)
                    buffer.append(&piece)
                    #expect(buffer.spillIfNeeded() == nil)  // the second piece, never written
                    return buffer.finish().assumeIsolated().map { _ in (written, "none") }.recover { error in (written, "\(error)") }
                        .nonisolated()
                }.nonisolated()
            }.nonisolated()
        }.get()
        try await group.shutdownGracefully()
        #expect(filesAfterFirstPiece.count == 1)
        #expect(failure.contains("ThreadPoolInactive"), "\(failure)")
        #expect(Self.files(in: folder).isEmpty)
    }

    /// An observer that hashes what it is shown, in order.
    struct HashingObserver: MessageContentObserver {
        var hash = SHA256()
        mutating func observe(_ piece: UnsafeRawBufferPointer) { hash.update(bufferPointer: piece) }
        mutating func finish() -> any Sendable { Array(hash.finalize()) }
    }

    /// Appends `content` to `buffer` in frames of every size up to a run's, handing pieces over as
    /// the session does (waiting for room when the lanes have none); succeeds once all is appended.
    static func feed(_ content: [UInt8], into buffer: MessageBodyBuffer, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let frameSizes = [1, 77, 4096, 16 * 1024, 9000, 65_535, 2]
        let done = loop.makePromise(of: Void.self)
        func feed(from offset: Int, frame: Int) {
            var offset = offset
            var frame = frame
            while offset < content.count {
                let length = min(frameSizes[frame % frameSizes.count], MessageDataReader.maxRunLength, content.count - offset)
                var piece = ByteBuffer(bytes: content[offset..<(offset + length)])
                buffer.append(&piece)
                offset += length
                frame += 1
                if let room = buffer.spillIfNeeded() {
                    // The session waits for room among the pieces in flight, then hands the next.
                    let (next, nextFrame) = (offset, frame)
                    room.assumeIsolated().whenSuccess {
                        _ = buffer.spillIfNeeded()
                        feed(from: next, frame: nextFrame)
                    }
                    return
                }
            }
            done.succeed()
        }
        feed(from: 0, frame: 0)
        return done.futureResult
    }

    /// 1.3 MB in which every octet depends on its offset, so that a piece out of order, lost or
    /// overwritten shows.
    static let largeContent = (0..<1_300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }

    /// A message of many pieces, appended in frames of every size up to a run's, and read on while
    /// pieces are written as the session does: the file holds exactly what was appended, its
    /// digest is the content's, the observer saw it all in order, and the pieces reuse a few
    /// buffers (one per piece in flight, and the one being collected) instead of one each.
    @Test(arguments: [1, 2])
    func aLargeMessageReachesItsFileWholeThroughAFewReusedBuffers(poolThreads: Int) async throws {
        let (folder, group, onePool) = try Self.start()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await onePool.shutdownGracefully()
        let pool = NIOThreadPool(numberOfThreads: poolThreads)
        pool.start()
        let loop = group.next()
        let content = Self.largeContent

        let (result, buffersMade) = try await loop.flatSubmit { () -> EventLoopFuture<(MessageContent, Int)> in
            let buffer = MessageBodyBuffer(
                threshold: 64 * 1024, directory: folder, threadPool: pool, eventLoop: loop, allocator: ByteBufferAllocator(),
                observer: HashingObserver())
            return Self.feed(content, into: buffer, on: loop).assumeIsolated().flatMap { buffer.finish() }
                .map { ($0, buffer.pieceBuffersMade) }.nonisolated()
        }.get()
        try await pool.shutdownGracefully()
        try await group.shutdownGracefully()

        guard case .file(let path, let descriptor, let size, let sha256, let observed) = result else {
            Issue.record("the content stayed in memory")
            return
        }
        defer { close(descriptor) }
        #expect(size == content.count)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(content))
        #expect(sha256 == Array(SHA256.hash(data: content)))
        #expect(observed as? [UInt8] == Array(SHA256.hash(data: content)))
        #expect(
            buffersMade <= SpillLanes.maxPiecesInFlight + 1,
            "\(buffersMade) buffers for \(content.count / MessageBodyBuffer.fileChunk) pieces")
    }

    /// A message dropped while its pieces are being written (the client left, or the data ended
    /// with a refusal): the lanes skip the rest, and the file goes once no write uses it.
    @Test func aMessageDroppedWhileItsPiecesAreWrittenLeavesNoFile() async throws {
        let (folder, group, pool) = try Self.start()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let loop = group.next()

        try await loop.flatSubmit { () -> EventLoopFuture<Void> in
            let buffer = MessageBodyBuffer(
                threshold: 64 * 1024, directory: folder, threadPool: pool, eventLoop: loop, allocator: ByteBufferAllocator(),
                observer: HashingObserver())
            return Self.feed(Self.largeContent, into: buffer, on: loop).assumeIsolated().flatMap {
                buffer.discard()
                return buffer.handedPiecesDone()
            }.nonisolated()
        }.get()
        try await pool.shutdownGracefully()
        try await group.shutdownGracefully()
        #expect(Self.files(in: folder).isEmpty)
    }

    /// A file that cannot be created (its folder is gone): the message fails at its end with the
    /// reason, and nothing waits forever.
    @Test func aFileThatCannotBeCreatedFailsTheMessage() async throws {
        let (folder, group, pool) = try Self.start()
        try FileManager.default.removeItem(atPath: folder)
        let loop = group.next()

        let failure = try await loop.flatSubmit { () -> EventLoopFuture<String> in
            let buffer = MessageBodyBuffer(
                threshold: 64 * 1024, directory: folder, threadPool: pool, eventLoop: loop, allocator: ByteBufferAllocator(),
                observer: HashingObserver())
            return Self.feed(Self.largeContent, into: buffer, on: loop).assumeIsolated().flatMap { buffer.finish() }
                .map { _ in "none" }.recover { "\($0)" }.nonisolated()
        }.get()
        try await pool.shutdownGracefully()
        try await group.shutdownGracefully()
        #expect(failure.contains("cannot create the message's file"), "\(failure)")
    }
}
