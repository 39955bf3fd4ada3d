import Glibc

/// Character-set decoding to `String`: fast paths for UTF-8, ASCII, Latin-1 and Windows-1252,
/// glibc iconv for everything else, with a table of the aliases and misspellings real mail uses.
///
/// Decoding never fails: bytes the charset cannot map become U+FFFD and an unknown charset
/// falls back to UTF-8, then Windows-1252.
/// - SeeAlso: RFC 2046 §4.1.2 (charset parameter), RFC 2978 (IANA charset registry).
public enum Charset {
    /// The outcome of decoding: the text and whether anything was lossy or unknown.
    public struct Decoded: Sendable, Hashable {
        public var text: String
        /// The charset label was not recognised by the alias table or by iconv.
        public var unknownCharset: Bool
        /// Some bytes were invalid in the charset and were replaced.
        public var invalidBytes: Bool
    }

    /// Common labels and misspellings mapped to the name glibc iconv knows.
    /// Keys are lower-cased with spaces, quotes and underscores turned into `-`.
    static let aliases: [String: String] = [
        "utf-8": "UTF-8", "utf8": "UTF-8", "utf-8-bom": "UTF-8", "unicode-1-1-utf-8": "UTF-8", "x-utf-8": "UTF-8",
        "us-ascii": "ASCII", "ascii": "ASCII", "ansi-x3.4-1968": "ASCII", "iso646-us": "ASCII", "us": "ASCII",
        "iso-8859-1": "LATIN1", "iso8859-1": "LATIN1", "latin1": "LATIN1", "latin-1": "LATIN1", "l1": "LATIN1",
        "iso-8859-1-i": "LATIN1", "8859-1": "LATIN1", "iso-latin-1": "LATIN1", "cp819": "LATIN1",
        "windows-1252": "CP1252", "cp1252": "CP1252", "cp-1252": "CP1252", "win-1252": "CP1252",
        "windows1252": "CP1252", "x-cp1252": "CP1252", "ansi": "CP1252", "windows-1252-1": "CP1252",
        "iso-8859-8-i": "ISO-8859-8", "iso-8859-8-e": "ISO-8859-8", "iso-8859-6-i": "ISO-8859-6", "iso-8859-6-e": "ISO-8859-6",
        "windows-874": "CP874", "tis-620": "TIS-620", "x-windows-874": "CP874",
        "shift-jis": "CP932", "shift_jis": "CP932", "sjis": "CP932", "x-sjis": "CP932", "ms-kanji": "CP932",
        "csshiftjis": "CP932", "windows-31j": "CP932", "cp932": "CP932", "x-ms-cp932": "CP932", "shiftjis": "CP932",
        "euc-jp": "EUC-JP-MS", "x-euc-jp": "EUC-JP-MS", "eucjp": "EUC-JP-MS", "cseucpkdfmtjapanese": "EUC-JP-MS",
        "iso-2022-jp": "ISO-2022-JP", "csiso2022jp": "ISO-2022-JP", "iso-2022-jp-2": "ISO-2022-JP-2",
        "gb2312": "GB18030", "gb-2312": "GB18030", "csgb2312": "GB18030", "x-gbk": "GB18030", "gbk": "GB18030",
        "cp936": "GB18030", "euc-cn": "GB18030", "x-euc-cn": "GB18030", "chinese": "GB18030", "gb18030": "GB18030",
        "iso-ir-58": "GB18030", "gb-18030": "GB18030",
        "big5": "CP950", "big-5": "CP950", "x-x-big5": "CP950", "cn-big5": "CP950",
        "csbig5": "CP950", "big5-hkscs": "BIG5-HKSCS", "cp950": "CP950",
        "euc-kr": "CP949", "ks-c-5601-1987": "CP949", "ks-c-5601-1989": "CP949", "ksc5601": "CP949",
        "ksc-5601": "CP949", "korean": "CP949", "cp949": "CP949", "windows-949": "CP949", "uhc": "CP949",
        "koi8-r": "KOI8-R", "koi8r": "KOI8-R", "koi8-u": "KOI8-U", "koi8u": "KOI8-U", "koi8-ru": "KOI8-RU",
        "utf-16": "UTF-16", "utf16": "UTF-16", "utf-16le": "UTF-16LE", "utf-16be": "UTF-16BE",
        "unicode": "UTF-16", "ucs-2": "UTF-16", "utf-32": "UTF-32", "utf-7": "UTF-7", "unicode-1-1-utf-7": "UTF-7",
        "macintosh": "MACINTOSH", "mac": "MACINTOSH", "x-mac-roman": "MACINTOSH", "macroman": "MACINTOSH",
        "x-mac-cyrillic": "MAC-CYRILLIC", "ibm866": "CP866", "cp866": "CP866", "cp850": "CP850", "cp437": "CP437",
        "viscii": "VISCII",
    ]

    /// Canonical iconv name for a charset label, or `nil` when the label is empty.
    static func canonicalName(_ label: String) -> String? {
        var key = ""
        key.reserveCapacity(label.utf8.count)
        for scalar in label.unicodeScalars {
            switch scalar {
            case "\"", "'", " ", "\t": continue
            case "_": key.append("-")
            default: key.unicodeScalars.append(scalar)
            }
        }
        key = key.lowercased()
        if key.isEmpty { return nil }
        if let alias = aliases[key] { return alias }
        // iso8859-15, iso_8859-15, iso-8859-15:1999 and windows-125x spellings.
        if let n = numberAfter(prefixes: ["iso-8859-", "iso8859-", "iso-8859", "iso8859"], in: key), (1...16).contains(n) {
            return "ISO-8859-\(n)"
        }
        if let n = numberAfter(prefixes: ["windows-", "windows", "win-", "cp-", "cp", "x-cp", "ms-", "win"], in: key),
            (1250...1258).contains(n)
        {
            return "CP\(n)"
        }
        return key.uppercased()
    }

    private static func numberAfter(prefixes: [String], in key: String) -> Int? {
        for p in prefixes where key.hasPrefix(p) {
            let digits = key.dropFirst(p.count).prefix { $0.isASCII && $0.isNumber }
            if let n = Int(digits) { return n }
        }
        return nil
    }

    /// Decodes `bytes` labelled with `label` (an empty label means "unlabelled": UTF-8, else CP1252).
    public static func decode<C: Collection<UInt8>>(_ bytes: C, label: String?) -> Decoded {
        let slice = ArraySlice(bytes)
        guard let label, let name = canonicalName(label) else { return decodeUnlabelled(slice) }
        switch name {
        case "UTF-8":
            if let s = String(validating: slice, as: UTF8.self) {
                return Decoded(text: stripBOM(s), unknownCharset: false, invalidBytes: false)
            }
            return Decoded(text: String(decoding: slice, as: UTF8.self), unknownCharset: false, invalidBytes: true)
        case "ASCII", "LATIN1", "CP1252":
            // 8-bit bytes under an ASCII label are common: read UTF-8 if valid, else CP1252
            // (WHATWG reads ISO-8859-1 as Windows-1252 too).
            if name != "ASCII" || !isASCII(slice) {
                if name == "ASCII", let s = String(validating: slice, as: UTF8.self) {
                    return Decoded(text: s, unknownCharset: false, invalidBytes: false)
                }
                return Decoded(text: decodeWindows1252(slice), unknownCharset: false, invalidBytes: false)
            }
            return Decoded(text: String(decoding: slice, as: UTF8.self), unknownCharset: false, invalidBytes: false)
        default:
            if isASCII(slice), !name.hasPrefix("UTF-16"), !name.hasPrefix("UTF-32"), name != "UTF-7",
                !name.hasPrefix("ISO-2022")
            {
                return Decoded(text: String(decoding: slice, as: UTF8.self), unknownCharset: false, invalidBytes: false)
            }
            if name == "ISO-2022-JP", let decoded = ISO2022JP.decode(slice) { return decoded }
            if let result = iconvDecode(slice, from: name == "ISO-2022-JP" ? "ISO-2022-JP-3" : name) {
                // Big5 as Taiwan writes it is code page 950 (with the euro sign); Hong Kong's
                // characters are in HKSCS, which lacks the euro: the other is tried when the
                // first cannot read the text.
                if name == "CP950", result.invalidBytes, let hongKong = iconvDecode(slice, from: "BIG5-HKSCS"), !hongKong.invalidBytes {
                    return hongKong
                }
                return result
            }
            var fallback = decodeUnlabelled(slice)
            fallback.unknownCharset = true
            return fallback
        }
    }

    /// UTF-8 when valid, else Windows-1252: how unlabelled 8-bit text is read.
    static func decodeUnlabelled(_ slice: ArraySlice<UInt8>) -> Decoded {
        if let s = String(validating: slice, as: UTF8.self) { return Decoded(text: s, unknownCharset: false, invalidBytes: false) }
        return Decoded(text: decodeWindows1252(slice), unknownCharset: false, invalidBytes: false)
    }

    static func isASCII(_ slice: ArraySlice<UInt8>) -> Bool {
        slice.withUnsafeBufferPointer { buf in
            var orAll: UInt8 = 0
            for b in buf { orAll |= b }
            return orAll < 0x80
        }
    }

    private static func stripBOM(_ s: String) -> String {
        s.hasPrefix("\u{FEFF}") ? String(s.dropFirst()) : s
    }

    /// Windows-1252 code points for 0x80...0x9F (undefined bytes map to the C1 control).
    static let cp1252High: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ]

    /// Decodes Windows-1252 (a superset of ISO-8859-1's printable range) in Swift.
    static func decodeWindows1252(_ bytes: ArraySlice<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        for b in bytes {
            let v: UInt32 = (b >= 0x80 && b <= 0x9F) ? cp1252High[Int(b - 0x80)] : UInt32(b)
            scalars.append(Unicode.Scalar(v) ?? "\u{FFFD}")
        }
        return String(scalars)
    }

    /// Converts with glibc iconv; `nil` when iconv does not know the charset.
    static func iconvDecode(_ input: ArraySlice<UInt8>, from name: String) -> Decoded? {
        let cd = iconv_open("UTF-8", name)
        if Int(bitPattern: cd) == -1 { return nil }
        defer { iconv_close(cd) }
        var invalid = false
        var out = [UInt8]()
        out.reserveCapacity(input.count * 2 + 16)
        var chunk = [UInt8](repeating: 0, count: 16_384)
        var source = Array(input)
        source.withUnsafeMutableBufferPointer { src in
            guard let srcBase = src.baseAddress else { return }
            var inPtr: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(srcBase).assumingMemoryBound(to: CChar.self)
            var inLeft = src.count
            chunk.withUnsafeMutableBufferPointer { dst in
                let dstBase = UnsafeMutableRawPointer(dst.baseAddress!).assumingMemoryBound(to: CChar.self)
                var flushed = false
                while true {
                    var outPtr: UnsafeMutablePointer<CChar>? = dstBase
                    var outLeft = dst.count
                    let rc: Int
                    if inLeft > 0 {
                        rc = iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft)
                    } else {
                        rc = iconv(cd, nil, nil, &outPtr, &outLeft)  // flush shift state
                        flushed = true
                    }
                    let produced = dst.count - outLeft
                    out.append(contentsOf: UnsafeRawBufferPointer(start: dstBase, count: produced).bindMemory(to: UInt8.self))
                    if rc == -1 {
                        let err = errno
                        if err == E2BIG { continue }
                        // EILSEQ or EINVAL: replace one byte and go on.
                        invalid = true
                        out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                        if inLeft > 0 {
                            inPtr = inPtr.map { $0 + 1 }
                            inLeft -= 1
                        }
                        if inLeft == 0 && flushed { break }
                        continue
                    }
                    if inLeft == 0 && flushed { break }
                }
            }
        }
        var text = String(decoding: out, as: UTF8.self)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        return Decoded(text: text, unknownCharset: false, invalidBytes: invalid)
    }
}
