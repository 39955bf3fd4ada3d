/// Content-Transfer-Encoding decoders: lenient base64 and quoted-printable.
///
/// Neither decoder fails: invalid input is skipped or kept literally and reported through the
/// `defective` flag so the caller can record a ``MailDefect``.
/// - SeeAlso: RFC 2045 §6.7 (quoted-printable), §6.8 (base64).
public enum TransferEncoding: Sendable, Hashable {
    case sevenBit, eightBit, binary, quotedPrintable, base64, other(String)

    /// Reads a `Content-Transfer-Encoding` value (case-insensitive; unknown values kept).
    /// - SeeAlso: RFC 2045 §6.1.
    public init(headerValue: String) {
        var v = headerValue.lowercased()
        v.removeAll { $0 == " " || $0 == "\t" || $0 == "\"" }
        switch v {
        case "", "7bit": self = .sevenBit
        case "8bit": self = .eightBit
        case "binary": self = .binary
        case "quoted-printable", "quotedprintable", "qp": self = .quotedPrintable
        case "base64", "base-64", "x-base64": self = .base64
        default: self = .other(v)
        }
    }

    /// Decodes `bytes` with this transfer encoding; unknown encodings pass bytes through.
    func decode(_ bytes: ArraySlice<UInt8>) -> (bytes: [UInt8], defective: Bool) {
        switch self {
        case .base64: return Base64.decode(bytes)
        case .quotedPrintable: return QuotedPrintable.decode(bytes)
        case .sevenBit, .eightBit, .binary, .other: return (Array(bytes), false)
        }
    }
}

/// Lenient base64 with a 256-entry lookup table.
/// - SeeAlso: RFC 2045 §6.8, RFC 4648 §4.
enum Base64 {
    /// 0...63 for the alphabet, 64 for whitespace, 65 for `=`, 255 for anything else.
    static let table: [UInt8] = {
        var t = [UInt8](repeating: 255, count: 256)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        // URL-safe alphabet seen in the wild.
        t[Int(UInt8(ascii: "-"))] = 62
        t[Int(UInt8(ascii: "_"))] = 63
        for c in [ASCII.space, ASCII.tab, ASCII.cr, ASCII.lf] { t[Int(c)] = 64 }
        t[Int(UInt8(ascii: "="))] = 65
        return t
    }()

    static func decode(_ input: ArraySlice<UInt8>) -> (bytes: [UInt8], defective: Bool) {
        var decoder = Decoder()
        let out = [UInt8](unsafeUninitializedCapacity: Decoder.room(for: input.count)) { buf, count in
            count = input.withUnsafeBufferPointer { decoder.decode($0, into: buf.baseAddress!) }
        }
        return (out, decoder.finish())
    }

    /// Decodes `input` in pieces of at most `piece` octets of output, handing each to `body`, so
    /// that a large attachment is never decoded whole; returns the decoded size.
    static func decode(
        _ input: ArraySlice<UInt8>, piece: Int = 48 * 1024, into body: (UnsafeRawBufferPointer) -> Void
    ) -> (size: Int, defective: Bool) {
        var decoder = Decoder()
        var size = 0
        let step = max(4, piece / 3 * 4)
        let output = UnsafeMutablePointer<UInt8>.allocate(capacity: Decoder.room(for: step))
        defer { output.deallocate() }
        input.withUnsafeBufferPointer { src in
            var start = 0
            while start < src.count {
                let stop = min(start + step, src.count)
                let n = decoder.decode(UnsafeBufferPointer(rebasing: src[start..<stop]), into: output)
                body(UnsafeRawBufferPointer(start: output, count: n))
                size += n
                start = stop
            }
        }
        return (size, decoder.finish())
    }

    /// Four tables, one per position in a group of four characters, whose entries OR together
    /// into the group's three octets in memory order (little-endian), and have bit 24 set for a
    /// character outside the alphabet.
    static let groupTable: [UInt32] = {
        var tables = [UInt32](repeating: 0x0100_0000, count: 4 * 256)
        for c in 0..<256 {
            let v = UInt32(table[c])
            guard v < 64 else { continue }
            tables[c] = v << 2
            tables[256 + c] = v >> 4 | (v & 15) << 12
            tables[512 + c] = (v >> 2) << 8 | (v & 3) << 22
            tables[768 + c] = v << 16
        }
        return tables
    }()

    /// The decoder's state between pieces of input: the bits of a group not yet written out.
    struct Decoder {
        var acc: UInt32 = 0
        var bits = 0
        var defective = false

        /// The room `decode(_:into:)` needs for `count` characters: three octets per four, the
        /// octets of a group begun in the previous piece, and the fourth octet the fast path
        /// stores with every three.
        static func room(for count: Int) -> Int { count / 4 * 3 + 4 }

        /// Decodes `src` into `buf`, which has ``room(for:)`` `src.count` octets; returns how many
        /// it wrote.
        mutating func decode(_ src: UnsafeBufferPointer<UInt8>, into buf: UnsafeMutablePointer<UInt8>) -> Int {
            var n = 0
            var acc = self.acc
            var bits = self.bits
            table.withUnsafeBufferPointer { t in
                groupTable.withUnsafeBufferPointer { g in
                    let count = src.count
                    var i = 0
                    while i < count {
                        // Fast path: groups of four valid characters, one table load each; the four
                        // octets stored hold the group's three and one that the next group overwrites
                        // (the output has room for it).
                        if bits == 0 {
                            while i + 4 <= count {
                                let w =
                                    g[Int(src[i])] | g[256 + Int(src[i + 1])] | g[512 + Int(src[i + 2])] | g[768 + Int(src[i + 3])]
                                guard w < 0x0100_0000 else { break }
                                UnsafeMutableRawPointer(buf + n).storeBytes(of: w.littleEndian, as: UInt32.self)
                                n += 3
                                i += 4
                            }
                            guard i < count else { break }
                        }
                        let v = t[Int(src[i])]
                        i += 1
                        if v < 64 {
                            acc = acc << 6 | UInt32(v)
                            bits += 6
                            if bits >= 8 {
                                bits -= 8
                                buf[n] = UInt8(truncatingIfNeeded: acc >> UInt32(bits))
                                n += 1
                            }
                        } else if v == 64 {
                            continue
                        } else if v == 65 {
                            // Padding: drop the partial group, restart (concatenated chunks).
                            acc = 0
                            bits = 0
                        } else {
                            defective = true
                        }
                    }
                }
            }
            self.acc = acc
            self.bits = bits
            return n
        }

        /// Whether the input was defective, once it has all been decoded.
        func finish() -> Bool {
            // A lone trailing character carries no byte.
            defective || bits >= 6
        }
    }

    /// Standard base64 encoding (used by tests and benchmarks).
    static func encode(_ input: [UInt8], lineLength: Int = 76) -> [UInt8] {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 3 * 4 + input.count / 40 + 8)
        var col = 0
        var i = 0
        while i < input.count {
            let b0 = UInt32(input[i])
            let b1 = i + 1 < input.count ? UInt32(input[i + 1]) : 0
            let b2 = i + 2 < input.count ? UInt32(input[i + 2]) : 0
            let v = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(i + 1 < input.count ? alphabet[Int(v >> 6 & 63)] : UInt8(ascii: "="))
            out.append(i + 2 < input.count ? alphabet[Int(v & 63)] : UInt8(ascii: "="))
            i += 3
            col += 4
            if lineLength > 0, col >= lineLength, i < input.count {
                out.append(ASCII.cr)
                out.append(ASCII.lf)
                col = 0
            }
        }
        return out
    }
}

/// Lenient quoted-printable: `=XX` (either case), soft line breaks with or without trailing
/// whitespace; a stray `=` is kept literally.
/// - SeeAlso: RFC 2045 §6.7.
enum QuotedPrintable {
    static func decode(_ input: ArraySlice<UInt8>, underscoreIsSpace: Bool = false) -> (bytes: [UInt8], defective: Bool) {
        var out = [UInt8]()
        out.reserveCapacity(input.count)
        var defective = false
        input.withUnsafeBufferPointer { src in
            let n = src.count
            var i = 0
            while i < n {
                let b = src[i]
                if b == UInt8(ascii: "=") {
                    if i + 2 < n, let h = ASCII.hexValue(src[i + 1]), let l = ASCII.hexValue(src[i + 2]) {
                        out.append(h << 4 | l)
                        i += 3
                        continue
                    }
                    // Soft line break: "=" then optional whitespace then CRLF / LF / end.
                    var j = i + 1
                    while j < n, ASCII.isWSP(src[j]) { j += 1 }
                    if j == n { i = n; continue }
                    if src[j] == ASCII.lf { i = j + 1; continue }
                    if src[j] == ASCII.cr { i = (j + 1 < n && src[j + 1] == ASCII.lf) ? j + 2 : j + 1; continue }
                    defective = true
                    out.append(b)
                    i += 1
                } else if b == UInt8(ascii: "_") && underscoreIsSpace {
                    out.append(ASCII.space)
                    i += 1
                } else if ASCII.isWSP(b) {
                    // Trailing whitespace before a line break is transport padding (§6.7 rule 3).
                    var j = i
                    while j < n, ASCII.isWSP(src[j]) { j += 1 }
                    if j < n, src[j] == ASCII.cr || src[j] == ASCII.lf {
                        i = j
                    } else if j == n, !underscoreIsSpace {
                        i = n
                    } else {
                        for k in i..<j { out.append(src[k]) }
                        i = j
                    }
                } else {
                    out.append(b)
                    i += 1
                }
            }
        }
        return (out, defective)
    }
}
