import Glibc

/// Small byte-level helpers shared by the parsers. Everything here works on `[UInt8]` or
/// `ArraySlice<UInt8>` and never allocates a `String` on the hot path.
enum ASCII {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let equals: UInt8 = 0x3D
    static let comma: UInt8 = 0x2C
    static let quote: UInt8 = 0x22
    static let dash: UInt8 = 0x2D

    @inline(__always)
    static func isWSP(_ b: UInt8) -> Bool { b == space || b == tab }

    @inline(__always)
    static func isSpace(_ b: UInt8) -> Bool { b == space || b == tab || b == cr || b == lf }

    @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

    @inline(__always)
    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    @inline(__always)
    static func isAlpha(_ b: UInt8) -> Bool { let l = b | 0x20; return l >= 0x61 && l <= 0x7A }

    @inline(__always)
    static func isAlnum(_ b: UInt8) -> Bool { isDigit(b) || isAlpha(b) }

    /// `bytes` with each `%XX` read as the octet it names (RFC 3986 §2.1); a `%` not followed by
    /// two hex digits stays as it is.
    static func percentDecoded(_ bytes: some Collection<UInt8>) -> [UInt8] {
        let bytes = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count, let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]) {
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    @inline(__always)
    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }
}

extension Collection where Element == UInt8, Index == Int {
    /// Case-insensitive ASCII comparison with a lower-case literal.
    func equalsLowercased(_ lowered: String) -> Bool {
        var i = startIndex
        for b in lowered.utf8 {
            if i == endIndex || ASCII.lower(self[i]) != b { return false }
            i += 1
        }
        return i == endIndex
    }

    /// Case-insensitive ASCII prefix test with a lower-case literal.
    func hasPrefixLowercased(_ lowered: String) -> Bool {
        var i = startIndex
        for b in lowered.utf8 {
            if i == endIndex || ASCII.lower(self[i]) != b { return false }
            i += 1
        }
        return true
    }
}

extension ArraySlice where Element == UInt8 {
    /// The slice without leading and trailing space, tab, CR and LF.
    func trimmed() -> ArraySlice<UInt8> {
        var lo = startIndex, hi = endIndex
        while lo < hi, ASCII.isSpace(self[lo]) { lo += 1 }
        while hi > lo, ASCII.isSpace(self[hi - 1]) { hi -= 1 }
        return self[lo..<hi]
    }
}

enum Bytes {
    /// Whether `needle` occurs in `hay` (memchr on the first byte, memcmp on the rest).
    static func search(_ hay: UnsafeBufferPointer<UInt8>, _ needle: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let h = hay.baseAddress, let n = needle.baseAddress, hay.count >= needle.count else { return needle.isEmpty }
        let first = Int32(needle[0])
        var i = 0
        let last = hay.count - needle.count
        while i <= last {
            guard let hit = memchr(h + i, first, last - i + 1) else { return false }
            let at = UnsafeRawPointer(hit) - UnsafeRawPointer(h)
            if memcmp(h + at, n, needle.count) == 0 { return true }
            i = at + 1
        }
        return false
    }

    /// Index of the first dash at or after `from` (at least 1) whose octet before is a LF: the
    /// start of the next line that begins with a dash, as a boundary line does; `end` when there
    /// is none. One `memchr` over text without dashes (base64), not a search per line.
    static func lineStartingWithDash(_ base: UnsafeBufferPointer<UInt8>, from: Int, end: Int) -> Int {
        guard let p = base.baseAddress else { return end }
        var search = from
        while search < end, let hit = memchr(p + search, Int32(ASCII.dash), end - search) {
            let index = UnsafeRawPointer(hit) - UnsafeRawPointer(p)
            if base[index - 1] == ASCII.lf { return index }
            search = index + 1
        }
        return end
    }

    /// Index of the next LF at or after `from`, or `end` (uses `memchr`).
    @inline(__always)
    static func indexOfLF(_ base: UnsafeBufferPointer<UInt8>, from: Int, end: Int) -> Int {
        guard from < end, let p = base.baseAddress else { return end }
        guard let hit = memchr(p + from, Int32(ASCII.lf), end - from) else { return end }
        return UnsafeRawPointer(hit) - UnsafeRawPointer(p)
    }

    /// Lower-cased ASCII string of a byte slice (non-ASCII bytes kept as UTF-8 or Latin-1).
    static func lowerString(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.map(ASCII.lower), as: UTF8.self)
    }

    /// A `String` from bytes that are UTF-8 when valid, else Windows-1252.
    /// - SeeAlso: RFC 6532 §3.2 (UTF-8 header fields); real clients send raw Latin-1 / CP1252.
    /// ISO-2022-JP text written raw (no RFC 2047 words), as older Japanese mailers do, is read as
    /// such: its escape sequences would otherwise open comments in an address field.
    static func headerString(_ bytes: ArraySlice<UInt8>) -> (String, Bool) {
        var ascii = true
        var escape = false
        for b in bytes {
            if b >= 0x80 {
                ascii = false
                break
            }
            if b == 0x1B { escape = true }
        }
        if ascii {
            if escape, ISO2022JP.announcesTwoOctetSet(bytes), let decoded = ISO2022JP.decode(bytes) { return (decoded.text, false) }
            return (String(decoding: bytes, as: UTF8.self), false)
        }
        if let s = String(validating: bytes, as: UTF8.self) { return (s, false) }
        return (mixedUTF8AndWindows1252(bytes), true)
    }

    /// Whether `bytes` are UTF-8 but for a stray octet: at least two well-formed multi-octet
    /// sequences and at most one 8-bit octet outside them. (Short text in GB2312, EUC-JP or KOI8
    /// often holds one sequence that happens to be well-formed UTF-8 beside two strays; two
    /// such sequences and no more than one stray are rare.)
    static func isUTF8WithStrayOctets(_ bytes: ArraySlice<UInt8>) -> Bool {
        var sequences = 0
        var strays = 0
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let length = utf8SequenceLength(bytes, at: i)
            if length > 1 {
                sequences += 1
            } else if bytes[i] >= 0x80 {
                strays += 1
            }
            i += length
        }
        return sequences >= 2 && strays <= 1
    }

    /// The length of the well-formed UTF-8 sequence at `i`; 1 for an octet that starts none.
    private static func utf8SequenceLength(_ bytes: ArraySlice<UInt8>, at i: Int) -> Int {
        let length =
            switch bytes[i] {
            case 0xC2...0xDF: 2
            case 0xE0...0xEF: 3
            case 0xF0...0xF4: 4
            default: 1
            }
        guard length > 1, i + length <= bytes.endIndex, String(validating: bytes[i..<(i + length)], as: UTF8.self) != nil else { return 1 }
        return length
    }

    /// Each well-formed UTF-8 sequence as UTF-8, each other octet as Windows-1252: one stray octet
    /// in a field (`\xff@x.example`) leaves the UTF-8 names beside it as they are, and a field
    /// all in Latin-1 reads as before.
    static func mixedUTF8AndWindows1252(_ bytes: ArraySlice<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let lead = bytes[i]
            let length = utf8SequenceLength(bytes, at: i)
            if length > 1, let scalar = String(validating: bytes[i..<(i + length)], as: UTF8.self)?.unicodeScalars.first {
                scalars.append(scalar)
                i += length
                continue
            }
            let value: UInt32 = (lead >= 0x80 && lead <= 0x9F) ? Charset.cp1252High[Int(lead - 0x80)] : UInt32(lead)
            scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
            i += 1
        }
        return String(scalars)
    }
}

extension StringProtocol {
    /// Substring test on UTF-8 bytes with `memmem` (no Foundation, no grapheme breaking).
    func containsBytes(_ needle: String) -> Bool {
        var n = needle
        return n.withUTF8 { nb in
            if nb.isEmpty { return true }
            let r = self.utf8.withContiguousStorageIfAvailable { hb -> Bool in
                guard hb.count >= nb.count else { return false }
                return Bytes.search(hb, nb)
            }
            if let r { return r }
            let copy = Array(self.utf8)
            return copy.withUnsafeBufferPointer { hb in
                Bytes.search(hb, nb)
            }
        }
    }

    /// Whether any ASCII digit or other Unicode number is present (fast for ASCII).
    var containsDigit: Bool {
        for b in utf8 where b >= 0x30 && b <= 0x39 { return true }
        return unicodeScalars.contains { $0.value >= 0x80 && $0.properties.numericType != nil }
    }
}
