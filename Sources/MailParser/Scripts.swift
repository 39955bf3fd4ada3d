/// What the parser and the filing rules need to know of scripts and invisible characters, in one
/// place: scripts written without spaces between words, full-width forms, format characters.
extension Unicode.Scalar {
    /// Whether the scalar is of a script written without spaces between words (Han, kana,
    /// half-width katakana, Hangul, Thai, Lao, Khmer, Myanmar): a word may touch it.
    var isInScriptWithoutSpaces: Bool {
        switch value {
        case 0x0E00...0x0EFF, 0x1000...0x109F, 0x1100...0x11FF, 0x1780...0x17FF, 0x3040...0x30FF, 0x3130...0x318F,
            0x31F0...0x31FF, 0x3400...0x9FFF, 0xAC00...0xD7AF, 0xF900...0xFAFF, 0xFF61...0xFF9F, 0x20000...0x3134F:
            true
        default: false
        }
    }
}

extension String {
    /// The text with full-width ASCII forms (U+FF01 to U+FF5E) as ASCII, as an East Asian
    /// keyboard types them (`＃ＣＳ１００１`, `ＲＥ：`, `ｅｘａｍｐｌｅ.jp`).
    public var fullWidthFormsAsASCII: String {
        var scalars = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            if (0xFF01...0xFF5E).contains(scalar.value), let ascii = Unicode.Scalar(scalar.value - 0xFEE0) {
                scalars.append(ascii)
            } else {
                scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    /// The text without invisible format characters (Unicode's `Cf`: the bidirectional marks
    /// and embeddings Hebrew and Arabic mailers put around names and lines, zero-width spaces,
    /// the byte-order mark), but the joiners that Persian and Indic words are spelt with and the
    /// format signs that are drawn.
    public var withoutInvisibleMarks: String {
        guard utf8.contains(where: { $0 >= 0x80 }) else { return self }
        var scalars = String.UnicodeScalarView()
        for scalar in unicodeScalars where scalar.properties.generalCategory != .format || Self.drawnFormats.contains(scalar.value) {
            scalars.append(scalar)
        }
        return String(scalars)
    }

    private static let drawnFormats: Set<UInt32> = [
        0x0600, 0x0601, 0x0602, 0x0603, 0x0604, 0x0605, 0x06DD, 0x070F, 0x08E2, 0x110BD, 0x110CD, 0x200C, 0x200D,
    ]
}
