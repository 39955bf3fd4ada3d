import Glibc

/// CRM reference tags: `#CS<digits>` (cases) and `#CO<digits>` (opportunities), letters in any
/// case, normalised to upper case without the `#` (`CO34322`).
public enum ReferenceTags {
    /// Every tag in `texts` (subject first, then body), in order, without duplicates.
    public static func find(in texts: [String]) -> [String] {
        var result: [String] = []
        var seen = Set<String>()
        for text in texts {
            // Full-width forms are U+FF01 to U+FF5E: UTF-8 that starts EF BC or EF BD.
            let fullWidth = text.utf8.contains(0xEF) && text.unicodeScalars.contains { (0xFF01...0xFF5E).contains($0.value) }
            var copy = fullWidth ? text.fullWidthFormsAsASCII : text
            copy.withUTF8 { b in
                var i = 0
                while i + 3 < b.count {
                    guard let base = b.baseAddress, let hit = memchr(base + i, Int32(UInt8(ascii: "#")), b.count - i) else { break }
                    i = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
                    guard i + 3 < b.count else { break }
                    if i > 0, followsWordCharacter(b, i) { i += 1; continue }
                    let c1 = ASCII.lower(b[i + 1]), c2 = ASCII.lower(b[i + 2])
                    guard c1 == UInt8(ascii: "c"), c2 == UInt8(ascii: "s") || c2 == UInt8(ascii: "o") else { i += 1; continue }
                    // Nor may a word follow it: "#CS12x" and "#CS12_a" are no tags.
                    var j = i + 3
                    while j < b.count, ASCII.isDigit(b[j]) { j += 1 }
                    let digits = j - (i + 3)
                    if digits > 0, digits <= 18, j == b.count || !(ASCII.isAlnum(b[j]) || b[j] == UInt8(ascii: "_")) {
                        let tag = (c2 == UInt8(ascii: "s") ? "CS" : "CO") + String(decoding: b[(i + 3)..<j], as: UTF8.self)
                        if seen.insert(tag).inserted { result.append(tag) }
                    }
                    i = max(j, i + 1)
                }
            }
        }
        return result
    }

    /// Whether the character before `i` is a letter, digit or `_` ("abc#CS1", "café#CO7" are not
    /// tags). Scripts written without spaces between words (Han, kana, half-width katakana,
    /// Hangul, Thai, Lao, Khmer, Myanmar) do not count.
    static func followsWordCharacter(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        let p = b[i - 1]
        if p < 0x80 { return ASCII.isAlnum(p) || p == UInt8(ascii: "_") }
        var start = i - 1
        while start > 0, i - start < 4, b[start] & 0xC0 == 0x80 { start -= 1 }
        let scalar = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self).unicodeScalars.first
        guard let scalar else { return false }
        guard !scalar.isInScriptWithoutSpaces else { return false }
        return scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }
}
