/// SHA-256, written out so the library needs no crypto dependency.
/// - SeeAlso: FIPS 180-4 §6.2.
public struct SHA256: Sendable {
    private var h: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0

    static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    public init() {}

    /// The SHA-256 of `bytes` as 64 lower-case hex digits.
    public static func hex<C: Collection<UInt8>>(_ bytes: C) -> String {
        var s = SHA256()
        s.update(bytes)
        return hexDigits(s.finalize())
    }

    /// Octets as lower-case hex digits, two per octet.
    public static func hexDigits(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    public mutating func update<C: Collection<UInt8>>(_ bytes: C) {
        let data = Array(bytes)
        length &+= UInt64(data.count)
        data.withUnsafeBufferPointer { p in
            var i = 0
            if !buffer.isEmpty {
                while i < p.count, buffer.count < 64 { buffer.append(p[i]); i += 1 }
                if buffer.count == 64 {
                    let block = buffer
                    block.withUnsafeBufferPointer { compressBlocks(UnsafeRawBufferPointer($0)) }
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            let whole = (p.count - i) / 64
            if whole > 0 {
                compressBlocks(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(p)[i..<(i + whole * 64)]))
                i += whole * 64
            }
            while i < p.count { buffer.append(p[i]); i += 1 }
        }
    }

    public mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        var tail = buffer
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        for s in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(s))) }
        tail.withUnsafeBufferPointer { compressBlocks(UnsafeRawBufferPointer($0)) }
        buffer.removeAll()
        var out: [UInt8] = []
        for v in [h.0, h.1, h.2, h.3, h.4, h.5, h.6, h.7] {
            out += [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
        }
        return out
    }

    @inline(__always)
    private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x &>> n) | (x &<< (32 &- n)) }

    /// Runs the compression function over whole 64-byte blocks.
    private mutating func compressBlocks(_ blocks: UnsafeRawBufferPointer) {
        var state = h
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            Self.k.withUnsafeBufferPointer { k in
                var offset = 0
                while offset + 64 <= blocks.count {
                    for t in 0..<16 {
                        let b = offset &+ t &* 4
                        w[t] =
                            UInt32(blocks[b]) &<< 24 | UInt32(blocks[b &+ 1]) &<< 16 | UInt32(blocks[b &+ 2]) &<< 8
                            | UInt32(blocks[b &+ 3])
                    }
                    for t in 16..<64 {
                        let x = w[t &- 15], y = w[t &- 2]
                        let s0 = Self.rotr(x, 7) ^ Self.rotr(x, 18) ^ (x &>> 3)
                        let s1 = Self.rotr(y, 17) ^ Self.rotr(y, 19) ^ (y &>> 10)
                        w[t] = w[t &- 16] &+ s0 &+ w[t &- 7] &+ s1
                    }
                    var (a, b, c, d, e, f, g, hh) = state
                    for t in 0..<64 {
                        let s1 = Self.rotr(e, 6) ^ Self.rotr(e, 11) ^ Self.rotr(e, 25)
                        let ch = (e & f) ^ (~e & g)
                        let t1 = hh &+ s1 &+ ch &+ k[t] &+ w[t]
                        let s0 = Self.rotr(a, 2) ^ Self.rotr(a, 13) ^ Self.rotr(a, 22)
                        let maj = (a & b) ^ (a & c) ^ (b & c)
                        let t2 = s0 &+ maj
                        hh = g
                        g = f
                        f = e
                        e = d &+ t1
                        d = c
                        c = b
                        b = a
                        a = t1 &+ t2
                    }
                    state = (
                        state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d, state.4 &+ e, state.5 &+ f, state.6 &+ g,
                        state.7 &+ hh
                    )
                    offset &+= 64
                }
            }
        }
        h = state
    }
}

/// An incremental SHA-256 for attachment contents: a parse that keeps digests instead of bytes
/// (``MailMessage/parse(_:limits:digestingAttachmentsWith:)``) feeds it each decoded piece.
/// This library's ``SHA256`` is one; a server can bring a faster one.
public protocol ContentDigest {
    init()
    /// Adds octets.
    mutating func update(_ bytes: UnsafeRawBufferPointer)
    /// The digest of everything added, as 64 lower-case hex digits.
    mutating func finalizeHex() -> String
}

extension SHA256: ContentDigest {
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        update(Array(bytes))
    }

    public mutating func finalizeHex() -> String {
        Self.hexDigits(finalize())
    }
}
