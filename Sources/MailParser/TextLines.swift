/// A body text split into lines over its UTF-8 bytes, for the line-oriented detectors
/// (forwards, replies, signatures). Lines exclude the line break; a trailing CR is dropped.
struct TextLines {
    let bytes: [UInt8]
    let ranges: [Range<Int>]

    init(_ text: String) {
        bytes = Array(text.utf8)
        var r: [Range<Int>] = []
        var start = 0
        bytes.withUnsafeBufferPointer { buf in
            while start <= buf.count {
                let lf = Bytes.indexOfLF(buf, from: start, end: buf.count)
                var e = lf
                if e > start, buf[e - 1] == ASCII.cr { e -= 1 }
                r.append(start..<e)
                if lf >= buf.count { break }
                start = lf + 1
            }
        }
        ranges = r
    }

    var count: Int { ranges.count }

    func slice(_ i: Int) -> ArraySlice<UInt8> { bytes[ranges[i]] }

    func string(_ i: Int) -> String { String(decoding: bytes[ranges[i]], as: UTF8.self) }

    func isBlank(_ i: Int) -> Bool {
        for b in bytes[ranges[i]] where !ASCII.isSpace(b) && b != 0xA0 { return false }
        return true
    }

    /// Text of lines `lo..<hi` joined with `\n`.
    func text(_ lo: Int, _ hi: Int) -> String {
        guard lo < hi, lo < ranges.count else { return "" }
        let h = min(hi, ranges.count)
        var out: [UInt8] = []
        for i in lo..<h {
            if i > lo { out.append(ASCII.lf) }
            out.append(contentsOf: bytes[ranges[i]])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether line `i` starts with `>` (after optional spaces).
    func isQuoted(_ i: Int) -> Bool {
        for b in bytes[ranges[i]] {
            if b == UInt8(ascii: ">") { return true }
            if !ASCII.isWSP(b) { return false }
        }
        return false
    }
}

extension String {
    /// Lower-cased for table lookups; drops the combining dot Swift adds when lower-casing `İ`.
    func foldedForLookup() -> String {
        let l = lowercased()
        return l.unicodeScalars.contains("\u{307}") ? String(String.UnicodeScalarView(l.unicodeScalars.filter { $0 != "\u{307}" })) : l
    }

    /// Trims whitespace and the decoration clients put around separator lines and labels.
    func strippingDecoration(_ extra: Set<Character> = ["-", "_", "=", "*", ":", "：", "~", "#", "—", "–"]) -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace || extra.contains(f) { s.removeFirst() }
        while let l = s.last, l.isWhitespace || extra.contains(l) { s.removeLast() }
        return String(s)
    }
}
