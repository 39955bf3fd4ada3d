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
            piece = ByteBuffer(repeating: UInt8(ascii: "B"), count: 2048)
            buffer.append(&piece)
            let firstWritten = buffer.spillIfNeeded() ?? loop.makeSucceededVoidFuture()
            return firstWritten.assumeIsolated().flatMap {
                let written = Self.files(in: folder)
                let stopped = loop.makePromise(of: Void.self)
                pool.shutdownGracefully(queue: .global()) { _ in stopped.succeed() }
                return stopped.futureResult.assumeIsolated().flatMap {
                    _ = buffer.spillIfNeeded()  // the second piece, never written
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

    /// A message of many pieces, appended in frames of every size up to a run's, and read on while
    /// pieces are written as the session does: the file holds exactly what was appended, its
    /// digest is the content's, and the pieces reuse two buffers instead of one each.
    @Test func aLargeMessageReachesItsFileWholeThroughTwoReusedBuffers() async throws {
        let (folder, group, pool) = try Self.start()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let loop = group.next()
        // 1.3 MB in which every octet depends on its offset, so that a piece out of order, lost
        // or overwritten shows.
        let content = (0..<1_300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        let frameSizes = [1, 77, 4096, 16 * 1024, 9000, 65_535, 2]

        let (result, buffersMade) = try await loop.flatSubmit { () -> EventLoopFuture<(MessageContent, Int)> in
            let buffer = MessageBodyBuffer(
                threshold: 64 * 1024, directory: folder, threadPool: pool, eventLoop: loop, allocator: ByteBufferAllocator())
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
                    if let running = buffer.spillIfNeeded() {
                        // The session waits for the running write, then starts the next.
                        let (next, nextFrame) = (offset, frame)
                        running.assumeIsolated().whenSuccess {
                            _ = buffer.spillIfNeeded()
                            feed(from: next, frame: nextFrame)
                        }
                        return
                    }
                }
                done.succeed()
            }
            feed(from: 0, frame: 0)
            return done.futureResult.assumeIsolated().flatMap { buffer.finish() }.map { ($0, buffer.pieceBuffersMade) }.nonisolated()
        }.get()
        try await pool.shutdownGracefully()
        try await group.shutdownGracefully()

        guard case .file(let path, let descriptor, let size, let sha256, _) = result else {
            Issue.record("the content stayed in memory")
            return
        }
        defer { close(descriptor) }
        #expect(size == content.count)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(content))
        #expect(sha256 == Array(SHA256.hash(data: content)))
        #expect(buffersMade <= 2, "\(buffersMade) buffers for \(content.count / MessageBodyBuffer.fileChunk) pieces")
    }
}
