import NIOCore
import SMTPCore

/// One unit of client input: a command line, or a piece of message data.
public enum SMTPFrame: Hashable, Sendable {
    /// A command line (or why it could not be framed).
    case command(CommandLineReader.Line)
    /// One or more whole lines of message content, dot-unstuffed, with their CRLFs.
    case messageContent(ByteBuffer)
    /// The end of the message data.
    case endOfMessage(MessageDataSummary)
}

/// Splits the client's bytes into frames, in command mode or data mode.
///
/// The session switches to data mode after it answers DATA with 354; the decoder switches back to
/// command mode by itself at the end of the data. It never reads ahead of the mode: bytes after
/// DATA stay buffered until the session has decided.
public struct SMTPFrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = SMTPFrame

    /// What the bytes are read as.
    public enum Mode: Hashable, Sendable {
        case command
        case data
    }

    /// The current mode.
    public var mode: Mode
    private var commandReader: CommandLineReader
    private var dataReader: MessageDataReader

    /// Creates a decoder with the given limits, starting in `mode`.
    public init(limits: SMTPLimits, mode: Mode = .command) {
        self.mode = mode
        self.commandReader = CommandLineReader(maxLength: limits.maxCommandLineLength)
        self.dataReader = MessageDataReader(maxLineLength: limits.maxDataLineLength, maxMessageSize: limits.maxMessageSize)
    }

    /// Lines of message data read and dropped without a frame (after a violation, or over the
    /// line limit), since the decoder was made: progress the session counts as it counts frames.
    public var droppedLines: Int { dataReader.droppedLines }

    /// The next frame, consuming its bytes; `nil` when more bytes are needed.
    public mutating func next(from buffer: inout ByteBuffer) -> SMTPFrame? {
        switch mode {
        case .command:
            return commandReader.next(from: &buffer).map(SMTPFrame.command)
        case .data:
            switch dataReader.next(from: &buffer) {
            case .content(let content)?:
                return .messageContent(content)
            case .end(let summary)?:
                mode = .command
                return .endOfMessage(summary)
            case nil:
                return nil
            }
        }
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = next(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(NIOAny(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}
