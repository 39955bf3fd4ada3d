import NIOCore
import SMTPCore
import Testing

@Suite struct CommandLineReaderTests {
    private func lines(_ input: String, max: Int = 64) -> [CommandLineReader.Line] {
        var reader = CommandLineReader(maxLength: max)
        var buffer = ByteBuffer(string: input)
        var result: [CommandLineReader.Line] = []
        while let line = reader.next(from: &buffer) { result.append(line) }
        return result
    }

    @Test func splitsOnCRLFOnly() {
        #expect(lines("NOOP\r\nQUIT\r\n") == [.line(ByteBuffer(string: "NOOP")), .line(ByteBuffer(string: "QUIT"))])
        #expect(lines("NOOP\nQUIT\r\n") == [.bareLineEnding])
        #expect(lines("NOOP\rQUIT\r\n") == [.bareLineEnding])
        #expect(lines("NOOP\r\r\n") == [.bareLineEnding])
        #expect(lines("NOOP") == [])
        #expect(lines("NOOP\r") == [])
    }

    @Test func overlongLinesAreDiscardedAndReported() {
        let long = String(repeating: "x", count: 200)
        #expect(lines(long + "\r\nNOOP\r\n") == [.tooLong, .line(ByteBuffer(string: "NOOP"))])
        // The limit counts the CRLF: 62 octets + CRLF = 64 is fine, 63 + CRLF is not.
        #expect(lines(String(repeating: "y", count: 62) + "\r\n") == [.line(ByteBuffer(string: String(repeating: "y", count: 62)))])
        #expect(lines(String(repeating: "y", count: 63) + "\r\n") == [.tooLong])
    }

    @Test func overlongLineArrivingInPiecesKeepsMemoryBounded() {
        var reader = CommandLineReader(maxLength: 64)
        var buffer = ByteBuffer()
        for _ in 0..<1000 {
            buffer.writeString(String(repeating: "z", count: 1000))
            #expect(reader.next(from: &buffer) == nil)
            #expect(buffer.readableBytes <= 64)
        }
        buffer.writeString("\r")
        #expect(reader.next(from: &buffer) == nil)
        buffer.writeString("\nNOOP\r\n")
        #expect(reader.next(from: &buffer) == .tooLong)
        #expect(reader.next(from: &buffer) == .line(ByteBuffer(string: "NOOP")))
    }
}

@Suite struct MessageDataReaderTests {
    private func read(_ input: String, maxLine: Int = 1000, maxSize: Int = 1 << 20) -> (
        content: String, end: MessageDataSummary?, rest: String
    ) {
        var reader = MessageDataReader(maxLineLength: maxLine, maxMessageSize: maxSize)
        var buffer = ByteBuffer(string: input)
        var content = ""
        while let frame = reader.next(from: &buffer) {
            switch frame {
            case .content(let lines): content += String(buffer: lines)
            case .end(let summary): return (content, summary, String(buffer: buffer))
            }
        }
        return (content, nil, String(buffer: buffer))
    }

    @Test func unstuffsDotsAndEndsAtCRLFDotCRLF() {
        let result = read("Subject: x\r\n\r\n..hidden\r\n.\r\nQUIT\r\n")
        #expect(result.content == "Subject: x\r\n\r\n.hidden\r\n")
        #expect(result.end == MessageDataSummary(size: 23, receivedHeaderCount: 0))
        #expect(result.rest == "QUIT\r\n")
    }

    @Test func emptyMessage() {
        #expect(read(".\r\n").end == MessageDataSummary())
    }

    @Test(arguments: ["\n.\n", "\r.\r", "\n.\r\n", "\r.\n", "\r.\r\n", "\r\n.\n", "\r\n.\r", "\r\n.\r\r\n", "\r\n.\0\r\n", "\r\n\0.\r\n"])
    func smugglingEndingsNeverEndTheData(_ ending: String) {
        let input = "Subject: a\r\n\r\nfirst" + ending + "MAIL FROM:<evil@x.test>\r\n"
        let result = read(input)
        #expect(result.end == nil)
        let completed = read(input + ".\r\n")
        #expect(completed.end != nil)
        #expect(completed.rest == "")
    }

    @Test func bareLineEndingsAreReported() {
        #expect(read("a\nb\r\n.\r\n").end?.violation == .bareLineEnding)
        #expect(read("a\rb\r\n.\r\n").end?.violation == .bareLineEnding)
        #expect(read("ab\r\n.\r\n").end?.violation == nil)
    }

    @Test func longLinesAndLargeMessages() {
        let long = String(repeating: "a", count: 999) + "\r\n"
        #expect(read(long + ".\r\n").end?.violation == .lineTooLong)
        #expect(read(String(repeating: "a", count: 998) + "\r\n.\r\n").end?.violation == nil)
        let big = String(repeating: String(repeating: "b", count: 98) + "\r\n", count: 20)
        #expect(read(big + ".\r\n", maxSize: 1999).end?.violation == .messageTooLarge)
        #expect(read(big + ".\r\n", maxSize: 2000).end?.violation == nil)
    }

    /// Frames `pieces` arriving one after another; the summary at the end, if reached.
    private func readInPieces(_ pieces: [String], maxLine: Int = 1000, maxSize: Int = 1 << 20) -> MessageDataSummary? {
        var reader = MessageDataReader(maxLineLength: maxLine, maxMessageSize: maxSize)
        var buffer = ByteBuffer()
        for piece in pieces {
            buffer.writeString(piece)
            while let frame = reader.next(from: &buffer) { if case .end(let summary) = frame { return summary } }
        }
        return nil
    }

    /// Lines dropped without a frame (after a violation, or a line over the limit, counted per
    /// limit's worth of octets) are counted: the session takes them as progress.
    @Test func droppedLinesAreCounted() {
        var reader = MessageDataReader(maxLineLength: 10, maxMessageSize: 1 << 20)
        var buffer = ByteBuffer()
        buffer.writeString(String(repeating: "x", count: 35))
        #expect(reader.next(from: &buffer) == nil)
        #expect(reader.droppedLines == 3)
        buffer.writeString("ab\r\nafter\r\n")
        #expect(reader.next(from: &buffer) == nil)  // a violation: the rest is dropped too
        #expect(reader.droppedLines == 5)
        buffer.writeString(".\r\n")
        guard case .end(let summary)? = reader.next(from: &buffer) else { return #expect(Bool(false)) }
        #expect(summary.violation == .lineTooLong)
        #expect(reader.droppedLines == 5)
    }

    /// The dot added for transparency does not count towards the line limit (RFC 5321
    /// §4.5.3.1.6): a line of 1,000 octets with its CRLF is 1,001 on the wire when it starts with
    /// a dot, whole or in pieces.
    @Test func aStuffedDotDoesNotCountTowardsTheLineLimit() {
        // The line without its LF, so that its end arrives in the next piece.
        let stuffed = "." + String(repeating: "z", count: 998) + "\r"
        let result = read("Subject: x\r\n\r\n" + stuffed + "\n.\r\n")
        #expect(result.end != nil && result.end?.violation == nil)
        #expect(result.content.hasSuffix("\r\n" + String(repeating: "z", count: 998) + "\r\n"))
        let whole = readInPieces(["Subject: x\r\n\r\n", stuffed, "\n.\r\n"])
        #expect(whole != nil && whole?.violation == nil)
        #expect(read("Subject: x\r\n\r\n." + stuffed + "\n.\r\n").end?.violation == .lineTooLong)
        #expect(readInPieces(["Subject: x\r\n\r\n", "." + stuffed, "\n.\r\n"])?.violation == .lineTooLong)
    }

    /// A message over the size limit is refused as too large even when one line of it is over
    /// the line limit, whole or in pieces: the dropped octets count towards its size.
    @Test func anOverlongLineStillCountsTowardsTheSize() {
        let line = String(repeating: "a", count: 10_000) + "\r\n"
        #expect(read(line + ".\r\n", maxSize: 5_000).end?.violation == .messageTooLarge)
        #expect(
            readInPieces([String(line.prefix(3_000)), String(line.dropFirst(3_000)), ".\r\n"], maxSize: 5_000)?.violation
                == .messageTooLarge)
        #expect(read(line + ".\r\n", maxSize: 20_000).end?.violation == .lineTooLong)
    }

    @Test func countsReceivedFieldsInTheHeaderOnly() {
        let message = "Received: from a\r\nRECEIVED: from b\r\nSubject: x\r\n\r\nReceived: in the body\r\n.\r\n"
        #expect(read(message).end?.receivedHeaderCount == 2)
    }

    @Test func contentAfterAViolationIsNotKept() {
        let result = read("ok\r\nbad\nline\r\nmore\r\n.\r\n")
        #expect(result.content == "ok\r\n")
        #expect(result.end?.violation == .bareLineEnding)
    }
}
