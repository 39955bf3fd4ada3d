/// ISO-2022-JP (RFC 1468) as mail clients write it, Outlook and Windows among them (code pages
/// 50220-50222): JIS X 0208 with the NEC special characters of row 13 (`①`, `㈱`) and the
/// NEC-selected IBM extensions of rows 89 to 92 (`髙`, `﨑`), and JIS X 0201 katakana after
/// `ESC ( I` or between SO and SI. glibc's ISO-2022-JP and ISO-2022-JP-3 reject those rows, and
/// everyday Japanese business names use them.
///
/// Each two-octet character becomes its Shift_JIS form (one arithmetic step per RFC 1468's
/// layout), and the whole text is decoded at once as code page 932, which holds both extensions
/// and reads ASCII as ASCII. A stray octet in two-octet mode is one U+FFFD, and the next pair is
/// still read as a pair. (Six cells read as code page 932 reads them: `～` for JIS's wave dash.)
enum ISO2022JP {
    private enum Mode {
        case ascii, jisX0208, katakana
    }

    /// The text of `bytes`; `nil` when they are not 7-bit or switch to a set that only
    /// ISO-2022-JP-1, -2 or -3 have (JIS X 0212, JIS X 0213, GB 2312, KS C 5601, ISO-8859 upper
    /// halves), for iconv to read.
    static func decode(_ bytes: ArraySlice<UInt8>) -> Charset.Decoded? {
        // The whole text as Shift_JIS (code page 932 reads ASCII as ASCII), decoded at once.
        var shiftJIS: [UInt8] = []
        shiftJIS.reserveCapacity(bytes.count)
        var mode = Mode.ascii
        var shiftedOut = false
        var i = bytes.startIndex
        let end = bytes.endIndex
        while i < end {
            let octet = bytes[i]
            if octet >= 0x80 { return nil }
            if octet == 0x1B {
                let first = i + 1 < end ? bytes[i + 1] : 0
                let second = i + 2 < end ? bytes[i + 2] : 0
                switch (first, second) {
                case (0x28, 0x42), (0x28, 0x4A): mode = .ascii  // ESC ( B, ESC ( J (JIS-Roman)
                case (0x28, 0x49): mode = .katakana  // ESC ( I
                case (0x24, 0x42), (0x24, 0x40): mode = .jisX0208  // ESC $ B, ESC $ @
                case (0x26, 0x40): break  // ESC & @: JIS X 0208-1990 announced; ESC $ B follows
                default: return nil
                }
                i += 3
                continue
            }
            switch octet {
            case 0x0E:
                shiftedOut = true
                i += 1
                continue
            case 0x0F:
                shiftedOut = false
                i += 1
                continue
            case 0x0D, 0x0A:
                // Lines end in ASCII (RFC 1468 §3); a sender that forgot ESC ( B is forgiven here.
                shiftJIS.append(octet)
                mode = .ascii
                shiftedOut = false
                i += 1
                continue
            default: break
            }
            if shiftedOut || mode == .katakana, (0x21...0x5F).contains(octet) {
                shiftJIS.append(octet + 0x80)
                i += 1
            } else if mode == .jisX0208 {
                if (0x21...0x7E).contains(octet), i + 1 < end, (0x21...0x7E).contains(bytes[i + 1]) {
                    let (lead, trail) = Self.shiftJIS(octet, bytes[i + 1])
                    shiftJIS.append(lead)
                    shiftJIS.append(trail)
                    i += 2
                } else {
                    // A stray octet: one that code page 932 cannot read, which becomes U+FFFD.
                    shiftJIS.append(0xFF)
                    i += 1
                }
            } else {
                shiftJIS.append(octet)
                i += 1
            }
        }
        return Charset.iconvDecode(shiftJIS[...], from: "CP932")
    }

    /// Whether `bytes` switch to a two-octet set (`ESC $`): ISO-2022-JP text in a header that
    /// was never encoded as RFC 2047 words, as older Japanese mailers send it.
    static func announcesTwoOctetSet(_ bytes: ArraySlice<UInt8>) -> Bool {
        var i = bytes.startIndex
        while i + 1 < bytes.endIndex {
            if bytes[i] == 0x1B, bytes[i + 1] == 0x24 { return true }
            i += 1
        }
        return false
    }

    /// The Shift_JIS octets of the JIS X 0208 character `row`/`cell` (each 0x21 to 0x7E).
    static func shiftJIS(_ row: UInt8, _ cell: UInt8) -> (UInt8, UInt8) {
        let lead = (row + 1) / 2 + (row <= 0x5E ? 0x70 : 0xB0)
        let trail: UInt8
        if row & 1 == 1 {
            trail = cell + (cell <= 0x5F ? 0x1F : 0x20)
        } else {
            trail = cell + 0x7E
        }
        return (lead, trail)
    }

}
