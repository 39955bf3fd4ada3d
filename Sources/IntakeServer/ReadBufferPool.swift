import Synchronization

/// A few buffers that large messages are read back into from their spool files, kept between
/// messages.
///
/// A 2 MB buffer that is new each time costs 512 page faults to fill and an unmapping to free,
/// about as long as parsing what is in it. A kept buffer stays resident between messages, so the
/// pool keeps few: at the peak, with every parsing task busy, the others are allocated anew.
final class ReadBufferPool: Sendable {
    private let buffers = Mutex<[[UInt8]]>([])
    /// Buffers kept.
    let count: Int
    /// The largest buffer kept, in octets; a larger one is freed after use.
    let maxSize: Int

    init(count: Int, maxSize: Int) {
        self.count = count
        self.maxSize = maxSize
    }

    /// A buffer to read into (empty when none is kept).
    func take() -> [UInt8] {
        buffers.withLock { $0.popLast() } ?? []
    }

    /// Gives a buffer back once nothing reads it any more.
    func give(_ buffer: consuming [UInt8]) {
        guard buffer.capacity <= maxSize else { return }
        let buffer = buffer
        buffers.withLock { kept in
            if kept.count < count { kept.append(buffer) }
        }
    }
}
