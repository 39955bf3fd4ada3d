import NIOCore
import NIOTestUtils
import SMTPCore
import SMTPNIO
import Testing

@Suite struct FrameDecoderTests {
    private static let limits = SMTPLimits()

    /// Feeds `input` to a decoder in data mode, split into the given chunks, and returns its frames,
    /// with content one line per frame (how lines group into frames depends on the chunks).
    private func frames(_ input: [UInt8], splitAt offsets: [Int], mode: SMTPFrameDecoder.Mode = .data) -> [SMTPFrame] {
        var decoder = SMTPFrameDecoder(limits: Self.limits, mode: mode)
        var buffer = ByteBuffer()
        var result: [SMTPFrame] = []
        var start = 0
        for end in offsets + [input.count] where end >= start {
            buffer.writeBytes(input[start..<end])
            start = end
            while let frame = decoder.next(from: &buffer) { result.append(frame) }
        }
        return result.flatMap(Self.oneLinePerFrame)
    }

    /// A content frame split at its CRLFs.
    static func oneLinePerFrame(_ frame: SMTPFrame) -> [SMTPFrame] {
        guard case .messageContent(var content) = frame else { return [frame] }
        var lines: [SMTPFrame] = []
        while let end = content.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(.messageContent(content.readSlice(length: end - content.readerIndex + 1)!))
        }
        if content.readableBytes > 0 { lines.append(.messageContent(content)) }
        return lines
    }

    /// A long body comes out in few frames, whatever the chunks, with the content unchanged.
    @Test func plainBodyLinesComeOutTogether() {
        let body = String(repeating: String(repeating: "QUJD", count: 19) + "\r\n", count: 150)
        let input = Array(("Subject: a\r\n\r\n" + body + "..dot\r\n" + body + ".\r\n").utf8)
        var decoder = SMTPFrameDecoder(limits: Self.limits, mode: .data)
        var buffer = ByteBuffer(bytes: input)
        var content = ""
        var frameCount = 0
        while let frame = decoder.next(from: &buffer) {
            frameCount += 1
            if case .messageContent(let lines) = frame { content += String(buffer: lines) }
        }
        #expect(content == "Subject: a\r\n\r\n" + body + ".dot\r\n" + body)
        // Two header lines, a run, the stuffed line, a run, the end.
        #expect(frameCount == 6)
        let split = frames(input, splitAt: [1000, 7_011, 13_333])
        #expect(split == frames(input, splitAt: []))
        #expect(split.count == 2 + 150 + 1 + 150 + 1)
    }

    /// A run holds whole lines and never more than `maxRunLength` octets.
    @Test func runsAreBounded() {
        let line = String(repeating: "QUJD", count: 19) + "\r\n"
        var buffer = ByteBuffer(string: "Subject: a\r\n\r\n" + String(repeating: line, count: 2_000) + ".\r\n")
        var decoder = SMTPFrameDecoder(limits: Self.limits, mode: .data)
        var sizes: [Int] = []
        while let frame = decoder.next(from: &buffer) {
            if case .messageContent(let lines) = frame { sizes.append(lines.readableBytes) }
        }
        #expect(sizes.dropFirst(2).allSatisfy { $0 <= MessageDataReader.maxRunLength && $0 % line.utf8.count == 0 })
        #expect(sizes.reduce(0, +) == 14 + 2_000 * line.utf8.count)
        #expect(
            sizes.count == 2 + (2_000 * line.utf8.count + MessageDataReader.maxRunLength - 1)
                / (MessageDataReader.maxRunLength / line.utf8.count * line.utf8.count))
    }

    /// The decoder as a session drives it: data mode after a DATA command line.
    struct SessionDrivenDecoder: ByteToMessageDecoder {
        typealias InboundOut = SMTPFrame
        var inner = SMTPFrameDecoder(limits: FrameDecoderTests.limits)

        mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
            guard let frame = inner.next(from: &buffer) else { return .needMoreData }
            if frame == .command(.line(ByteBuffer(string: "DATA"))) { inner.mode = .data }
            context.fireChannelRead(NIOAny(frame))
            return .continue
        }

        mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
            try decode(context: context, buffer: &buffer)
        }
    }

    /// NIO's verifier feeds the input whole, byte by byte and many inputs at once: the frames agree.
    @Test func verifierAgreesOnEveryChunking() throws {
        let session = "EHLO a\r\nDATA\r\nSubject: hi\r\n\r\n..dot\r\nbody\r\n.\r\nNOOP\nX\r\nQUIT\r\n"
        let expected: [SMTPFrame] = [
            .command(.line(ByteBuffer(string: "EHLO a"))),
            .command(.line(ByteBuffer(string: "DATA"))),
            .messageContent(ByteBuffer(string: "Subject: hi\r\n")),
            .messageContent(ByteBuffer(string: "\r\n")),
            .messageContent(ByteBuffer(string: ".dot\r\n")),
            .messageContent(ByteBuffer(string: "body\r\n")),
            .endOfMessage(MessageDataSummary(size: 27)),
            .command(.bareLineEnding),
            .command(.line(ByteBuffer(string: "QUIT"))),
        ]
        let smuggling = "EHLO a\r\nDATA\r\nx\n.\nMAIL FROM:<e@x.test>\r\n.\r\n"
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (ByteBuffer(string: session), expected),
                (
                    ByteBuffer(string: smuggling),
                    [
                        .command(.line(ByteBuffer(string: "EHLO a"))),
                        .command(.line(ByteBuffer(string: "DATA"))),
                        .endOfMessage(MessageDataSummary(size: 26, violation: .bareLineEnding)),
                    ]
                ),
            ],
            decoderFactory: { SessionDrivenDecoder() }
        )
    }

    /// A line ending that is not CRLF.CRLF, shown escaped in test names.
    struct Ending: CustomTestStringConvertible, Sendable {
        let bytes: String
        var testDescription: String {
            bytes.unicodeScalars.map { $0 == "\r" ? "\\r" : $0 == "\n" ? "\\n" : $0 == "\0" ? "\\0" : String($0) }.joined()
        }
    }

    static let smugglingEndings: [Ending] = [
        "\n.\n", "\n.\r\n", "\r.\n", "\r.\r", "\r.\r\n", "\r\n.\n", "\r\n.\r", "\r\n.\r\r\n", "\r\n.\0\r\n", "\r\n\0.\r\n",
        "\r\n.\0\n", "\r\n .\r\n", "\r\n. \r\n",
    ].map(Ending.init)

    /// Every non-CRLF ending, split at every byte offset (and byte by byte): the data ends once, at
    /// the real CRLF.CRLF, and the smuggled commands never come out as commands.
    @Test(arguments: smugglingEndings)
    func smugglingNeverYieldsASecondMessage(_ endingCase: Ending) {
        let ending = endingCase.bytes
        let smuggled = "MAIL FROM:<evil@x.test>\r\nRCPT TO:<victim@dropbox.localhost>\r\nDATA\r\nforged\r\n"
        let input = Array(("Subject: a\r\n\r\nfirst" + ending + smuggled + ".\r\nNOOP\r\n").utf8)
        var reference: [SMTPFrame]?
        for offset in 0...input.count {
            let result = frames(input, splitAt: [offset])
            check(result, ending: ending)
            if let reference { #expect(result == reference, "split at \(offset)") } else { reference = result }
        }
        let byteByByte = frames(input, splitAt: Array(1..<input.count))
        #expect(byteByByte == reference)
    }

    private func check(_ result: [SMTPFrame], ending: String) {
        let ends = result.enumerated().filter { if case .endOfMessage = $0.element { return true } else { return false } }
        #expect(ends.count == 1)
        #expect(ends.first?.offset == result.count - 2)
        #expect(result.last == .command(.line(ByteBuffer(string: "NOOP"))))
        let commands = result.filter { if case .command = $0 { return true } else { return false } }
        #expect(commands.count == 1)
        if case .endOfMessage(let summary) = ends.first?.element {
            let hasBareEnding = ending.replacingCRLF().contains { $0 == "\r" || $0 == "\n" }
            #expect(summary.violation == (hasBareEnding ? .bareLineEnding : nil))
        }
    }

    @Test func stopsAtTheModeBoundary() {
        var decoder = SMTPFrameDecoder(limits: Self.limits)
        var buffer = ByteBuffer(string: "DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n")
        #expect(decoder.next(from: &buffer) == .command(.line(ByteBuffer(string: "DATA"))))
        // Until the session switches to data mode the message is read as command lines; the
        // session never asks for the next frame before deciding on DATA.
        decoder.mode = .data
        #expect(decoder.next(from: &buffer) == .messageContent(ByteBuffer(string: "Subject: x\r\n")))
    }
}

extension String {
    fileprivate func replacingCRLF() -> String {
        var result = ""
        var iterator = unicodeScalars.makeIterator()
        var pending: Unicode.Scalar?
        while let scalar = pending ?? iterator.next() {
            pending = nil
            if scalar == "\r" {
                if let next = iterator.next() {
                    if next == "\n" { continue }
                    pending = next
                }
            }
            result.unicodeScalars.append(scalar)
        }
        return result
    }
}
