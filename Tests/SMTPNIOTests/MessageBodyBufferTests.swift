import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import SMTPNIO

/// The body buffer's file in the temporary folder: never left behind when the content is lost.
@Suite struct MessageBodyBufferTests {
    /// The file names of the folder.
    static func files(in folder: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
    }

    /// A message already in its file when the thread pool stops (at shutdown): the next piece is
    /// never written, the content is lost, and the file is closed and removed, not left open.
    @Test func aPieceTheStoppedThreadPoolNeverWritesLeavesNoFile() async throws {
        let folder = NSTemporaryDirectory() + "intake-bodybuffer-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
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
}
