import Testing
@testable import MailParser

@Suite("Transfer encodings, RFC 2047, RFC 2231, charsets")
struct EncodingTests {
    @Test(arguments: [
        ("SGVsbG8gV29ybGQ=", "Hello World"),
        ("SGVsbG8g\r\nV29ybGQ=", "Hello World"),
        ("SGVsbG8gV29ybGQ", "Hello World"),  // missing padding
        ("SGVs bG8g*V29y!bGQ=", "Hello World"),  // junk skipped
        ("SGk=SGk=", "HiHi"),  // concatenated chunks
        ("", ""),
    ])
    func base64(input: String, expected: String) {
        let (bytes, _) = Base64.decode(ArraySlice(input.utf8))
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
    }

    /// Decoded in pieces of any size, base64 gives the same octets and the same defect as whole.
    @Test func base64InPieces() {
        let content = (0..<5_000).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) }
        let clean = Base64.encode(content)
        let inputs = [clean, Array("SGVs bG8g*V29y!bGQ=".utf8), Array("SGk=SGk=".utf8), Array("SGVsbG8gV29ybGQ".utf8), clean + [65]]
        for input in inputs {
            let whole = Base64.decode(ArraySlice(input))
            for piece in [3, 6, 48, 999, 4096] {
                var pieces: [UInt8] = []
                let streamed = Base64.decode(ArraySlice(input), piece: piece) { pieces += $0 }
                #expect(pieces == whole.bytes, "piece \(piece)")
                #expect(streamed.size == whole.bytes.count)
                #expect(streamed.defective == whole.defective)
            }
        }
    }

    @Test func base64FlagsJunk() {
        #expect(Base64.decode(ArraySlice("SGk!".utf8)).defective)
        #expect(!Base64.decode(ArraySlice("SGk=".utf8)).defective)
    }

    @Test(arguments: [
        ("caf=C3=A9", "café"),
        ("caf=c3=a9", "café"),  // lower-case hex
        ("soft=\r\nbreak", "softbreak"),
        ("soft=  \r\nbreak", "softbreak"),  // whitespace after '='
        ("soft=\nbreak", "softbreak"),
        ("a = b", "a = b"),  // stray '=' kept
        ("trail   \r\nx", "trail\r\nx"),  // transport padding removed
        ("end=", "end"),
    ])
    func quotedPrintable(input: String, expected: String) {
        let (bytes, _) = QuotedPrintable.decode(ArraySlice(input.utf8))
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
    }

    @Test(arguments: [
        ("=?UTF-8?B?SGVsbG8=?= =?UTF-8?Q?_W=C3=B6rld?=", "Hello Wörld"),
        ("=?iso-8859-1?q?Andr=E9?= Pirard", "André Pirard"),
        ("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("=?ISO-8859-1?Q?a?=  \r\n =?ISO-8859-1?Q?b?=", "ab"),
        ("=?UTF-8?Q?a?= b =?UTF-8?Q?c?=", "a b c"),
        // A UTF-8 character split across two words still decodes.
        ("=?UTF-8?B?w6k=?==?UTF-8?B?w6k=?=", "éé"),
        ("=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?=", "é"),
        ("=?utf-8*en?q?hello?=", "hello"),  // RFC 2231 language suffix
        ("=?x-unknown?q?caf=C3=A9?=", "café"),  // unknown charset degrades
        ("=?utf-8?x?bad?=", "=?utf-8?x?bad?="),  // unknown encoding kept literal
        ("=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=", "テスト"),
        // As Outlook writes it: NEC row 13 (①, ㈱) and NEC-selected IBM extensions (髙).
        ("=?ISO-2022-JP?B?GyRCLSE4K0BRPXEtanxiNjY+Jjt2GyhC?=", "①見積書㈱髙橋商事"),
        // Big5 as Taiwan writes it, with the euro sign (code page 950).
        ("=?big5?B?u/mu5iCj4TEwMA==?=", "價格 €100"),
        // A character split across two words whose labels name the same charset.
        ("=?UTF-8?B?5rih6A==?= =?utf8?B?vro=?=", "渡辺"),
        ("=?Shift_JIS?B?g2WDWINn?=", "テスト"),
        ("=?GB2312?B?xOO6ww==?=", "你好"),
        ("=?koi8-r?B?8NLJ18XU?=", "Привет"),
        ("=?windows-1251?B?z/Do4uXy?=", "Привет"),
        ("plain text", "plain text"),
    ])
    func encodedWords(input: String, expected: String) {
        #expect(EncodedWords.decode(input).text == expected)
    }

    @Test func rfc2231Continuations() {
        let cd = ContentDisposition(
            headerValue:
                "attachment; filename*0*=UTF-8''R%C3%A9sum%C3%A9%20; filename*1*=2024; filename*2=\".pdf\"")
        #expect(cd.filename == "Résumé 2024.pdf")
        #expect(cd.isAttachment)
    }

    @Test func rfc2231SingleEncoded() {
        let cd = ContentDisposition(headerValue: "attachment; filename*=iso-8859-1'fr'caf%E9.txt")
        #expect(cd.filename == "café.txt")
    }

    @Test func encodedWordInQuotedFilename() {
        let ct = ContentType(headerValue: "application/pdf; name=\"=?utf-8?B?w6kucGRm?=\"")
        #expect(ct?.parameters["name"] == "é.pdf")
        #expect(ct?.mimeType == "application/pdf")
    }

    @Test func contentTypeParameters() {
        let ct = ContentType(headerValue: "Multipart/Mixed;\r\n boundary=\"=_abc; def\" (comment); charset=UTF-8")
        #expect(ct?.type == "multipart")
        #expect(ct?.boundary == "=_abc; def")
        #expect(ct?.charset == "UTF-8")
        #expect(ContentType(headerValue: "garbage") == nil)
        let unquoted = ContentType(headerValue: "application/octet-stream; name=my file.pdf")
        #expect(unquoted?.parameters["name"] == "my file.pdf")
    }

    @Test(arguments: [
        ("utf8", "UTF-8"), ("UTF_8", "UTF-8"), ("latin1", "LATIN1"), ("ISO8859-15", "ISO-8859-15"),
        ("iso_8859-2", "ISO-8859-2"), ("win-1251", "CP1251"), ("Windows1250", "CP1250"), ("cp-1252", "CP1252"),
        ("x-sjis", "CP932"), ("ks_c_5601-1987", "CP949"), ("gb2312", "GB18030"), ("\"koi8r\"", "KOI8-R"),
        ("us-ascii", "ASCII"), ("big5", "CP950"), ("big5-hkscs", "BIG5-HKSCS"), ("iso-2022-jp", "ISO-2022-JP"),
    ])
    func charsetAliases(label: String, canonical: String) {
        #expect(Charset.canonicalName(label) == canonical)
    }

    @Test(
        arguments: [
            ("ISO-8859-2", [0xB1, 0xE6], "ąć"),
            ("ISO-8859-15", [0xA4], "€"),
            ("windows-1252", [0x80, 0x93, 0x94], "€“”"),
            ("ISO-8859-1", [0xE9], "é"),
            ("KOI8-U", [0xA4], "є"),
            ("EUC-JP", [0xA5, 0xC6, 0xA5, 0xB9, 0xA5, 0xC8], "テスト"),
            ("EUC-KR", [0xC7, 0xD1], "한"),
            ("Big5", [0xA4, 0xA4], "中"),
            ("GB18030", [0xD6, 0xD0], "中"),
            ("UTF-16", [0xFF, 0xFE, 0x41, 0x00], "A"),
            ("windows-1256", [0xC7], "ا"),
            ("windows-1258", [0x61], "a"),
            ("ISO-8859-16", [0xAA], "Ș"),
        ] as [(String, [UInt8], String)])
    func charsets(label: String, bytes: [UInt8], expected: String) {
        let d = Charset.decode(bytes, label: label)
        #expect(d.text == expected)
        #expect(!d.unknownCharset)
    }

    @Test func charsetNeverFails() {
        let unknown = Charset.decode(Array("café".utf8), label: "x-made-up")
        #expect(unknown.text == "café")
        #expect(unknown.unknownCharset)
        let latinFallback = Charset.decode([0x63, 0x61, 0x66, 0xE9], label: "x-made-up")
        #expect(latinFallback.text == "café")
        let invalidSJIS = Charset.decode([0x82, 0xA0, 0xFF, 0x41], label: "shift_jis")
        #expect(invalidSJIS.text.hasSuffix("A"))
        // 8-bit under an ASCII label: UTF-8 if valid, else Windows-1252.
        #expect(Charset.decode([0xC3, 0xA9], label: "us-ascii").text == "é")
        #expect(Charset.decode([0xE9], label: "us-ascii").text == "é")
    }

    /// ISO-2022-JP with a stray octet in two-octet mode: one U+FFFD, and the pairs after it are
    /// still read as pairs; katakana after `ESC ( I`; a switch to JIS X 0212 goes to iconv.
    @Test func iso2022JPRecovers() {
        let stray = Charset.decode(Array("\u{1B}$B8+\u{7F}@Q\u{1B}(B ok".utf8), label: "ISO-2022-JP")
        #expect(stray.text == "見\u{FFFD}積 ok")
        #expect(stray.invalidBytes)
        #expect(Charset.decode(Array("\u{1B}(I6B\u{1B}(B".utf8), label: "iso-2022-jp").text == "ｶﾂ")
        #expect(ISO2022JP.decode(ArraySlice("\u{1B}$(D0!\u{1B}(B".utf8)) == nil)
    }

    /// Any 7-bit input, escapes and shifts among it, decodes without trapping.
    @Test func iso2022JPTakesAnyInput() {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = [0x1B, 0x24, 0x28, 0x42, 0x40, 0x49, 0x26, 0x0E, 0x0F, 0x0D, 0x0A, 0x21, 0x5F, 0x60, 0x7E, 0x7F, 0x20]
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0...40, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            _ = Charset.decode(bytes, label: "ISO-2022-JP")
            _ = Bytes.headerString(ArraySlice(bytes))
        }
    }

    /// Header fields written raw in the body's charset, as older mailers do (RFC 6532 allows only
    /// UTF-8): ISO-2022-JP escapes, and 8-bit octets read in the entity's charset, or a
    /// multipart's first text part's.
    @Test func rawHeadersInTheBodysCharset() {
        func message(_ head: [UInt8], _ rest: String) -> MailMessage {
            MailMessage.parse(Array("From: Alice <alice@acme.example>\r\n".utf8) + head + Array(rest.utf8))
        }
        let jis = message(
            Array(
                "To: \u{1B}$BLZB<\u{1B}(B \u{1B}$BBsLi\u{1B}(B <takuya.kimura@kimura-shoji.co.jp>\r\nSubject: \u{1B}$B8f8+@Q$N7o\u{1B}(B\r\n"
                    .utf8),
            "Content-Type: text/plain; charset=ISO-2022-JP\r\n\r\nbody\r\n")
        #expect(jis.to.map(\.name) == ["木村 拓也"])
        #expect(jis.to.map(\.address) == ["takuya.kimura@kimura-shoji.co.jp"])
        #expect(jis.subject == "御見積の件")
        let gb = message(
            Array("To: ".utf8) + [0xD5, 0xD4, 0xC3, 0xF4] + Array(" <zhao.min@zhaoshi.com.cn>\r\n".utf8),
            "Content-Type: text/plain; charset=gb2312\r\n\r\nbody\r\n")
        #expect(gb.to.map(\.name) == ["赵敏"])
        let sjis = message(
            Array("To: ".utf8) + [0x8F, 0xBC, 0x96, 0x7B, 0x20, 0x8F, 0x81] + Array(" <jun@matsumoto-kk.co.jp>\r\nSubject: ".utf8)
                + [0x8C, 0xE4, 0x8C, 0xA9, 0x90, 0xCF, 0x82, 0xCC, 0x8C, 0x8F] + Array("\r\n".utf8),
            "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=Shift_JIS\r\n\r\nx\r\n--b--\r\n"
        )
        #expect(sjis.to.map(\.name) == ["松本 潤"])
        #expect(sjis.subject == "御見積の件")
        // UTF-8 with a stray Latin-1 octet stays UTF-8 under a GB2312 body; short GB2312 and KOI8-R
        // text that holds a well-formed UTF-8 sequence by chance is still read in its charset; a
        // UTF-16 body says nothing of its header fields.
        let stray = message(
            Array("To: Zo\u{EB} M\u{FC}ller ".utf8) + [0xF4] + Array(" <z@x.example>\r\n".utf8),
            "Content-Type: text/plain; charset=gb2312\r\n\r\nb\r\n")
        #expect(stray.to.map(\.name) == ["Zoë Müller ô"])
        let shortGB = message(
            Array("To: ".utf8) + [0xCD, 0xF5, 0xCE, 0xB0] + Array(" <wang@x.example>\r\nSubject: ".utf8) + [0xBA, 0xCF, 0xCD, 0xAC]
                + Array("\r\n".utf8), "Content-Type: text/plain; charset=gb2312\r\n\r\nb\r\n")
        #expect(shortGB.to.map(\.name) == ["王伟"])
        #expect(shortGB.subject == "合同")
        let koi8 = message(
            Array("Subject: ".utf8) + [0xF3, 0xDE, 0xA3, 0xD4] + Array("\r\n".utf8), "Content-Type: text/plain; charset=koi8-r\r\n\r\nb\r\n"
        )
        #expect(koi8.subject == "Счёт")
        let utf16 = message(
            Array("To: M".utf8) + [0xFC] + Array("ller <m@x.de>\r\n".utf8), "Content-Type: text/plain; charset=utf-16\r\n\r\nb\r\n")
        #expect(utf16.to.map(\.address) == ["m@x.de"])
        #expect(utf16.to.map(\.name) == ["Müller"])
        // A body in UTF-8 or Latin-1 says nothing new: Windows-1252 it stays.
        let latin = message(
            Array("To: Zo".utf8) + [0xEB] + Array(" <zoe@x.example>\r\n".utf8), "Content-Type: text/plain; charset=utf-8\r\n\r\nb\r\n")
        #expect(latin.to.map(\.name) == ["Zoë"])
    }

    /// An HTML part whose Content-Type names no charset is read in its `<meta>` charset.
    @Test func htmlMetaCharset() {
        #expect(HTMLText.metaCharset(Array("<html><head><META charset=\"GB2312\">".utf8)) == "gb2312")
        #expect(
            HTMLText.metaCharset(Array("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=Shift_JIS\">".utf8)) == "shift_jis")
        #expect(HTMLText.metaCharset(Array("<meta name=\"x\"><p>charset=koi8-r</p>".utf8)) == nil)
        #expect(HTMLText.metaCharset(Array((String(repeating: " ", count: 1100) + "<meta charset=gbk>").utf8)) == nil)
        let html =
            Array("<html><head><meta charset=\"gb2312\"></head><body>".utf8) + [0xCB, 0xEF, 0xC0, 0xF6] + Array("</body></html>".utf8)
        let m = MailMessage.parse(Array("From: a@b.example\r\nContent-Type: text/html\r\n\r\n".utf8) + html)
        #expect(m.bodyText.contains("孙丽"))
        // UTF-8 under a stale Latin-1 <meta>, or a <meta> naming UTF-16 (Word's HTML): UTF-8.
        for meta in ["iso-8859-1", "unicode", "utf-16"] {
            let body = "<html><head><meta charset=\"\(meta)\"></head><body>Zoë Müller</body></html>"
            let parsed = MailMessage.parse(Array("From: a@b.example\r\nContent-Type: text/html\r\n\r\n\(body)".utf8))
            #expect(parsed.bodyText.contains("Zoë Müller"), "\(meta)")
        }
    }

    @Test func rawEightBitHeaders() {
        let (utf8, was1252) = Bytes.headerString(ArraySlice(Array("Zoë".utf8)))
        #expect(utf8 == "Zoë" && !was1252)
        let (latin, fallback) = Bytes.headerString(ArraySlice([0x5A, 0x6F, 0xEB]))
        #expect(latin == "Zoë" && fallback)
        // One stray octet leaves the UTF-8 beside it as it is.
        let (mixed, _) = Bytes.headerString(ArraySlice(Array("Jé <j@x.example>, ".utf8) + [0xFF, 0xFE] + Array("@y.example".utf8)))
        #expect(mixed == "Jé <j@x.example>, ÿþ@y.example")
    }

    @Test func sha256() {
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hex(long) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var incremental = SHA256()
        for chunk in stride(from: 0, to: 1000, by: 7) { incremental.update(Array(repeating: UInt8(97), count: min(7, 1000 - chunk))) }
        #expect(
            incremental.finalize()
                == {
                    var s = SHA256(); s.update(Array(repeating: UInt8(97), count: 1000)); return s.finalize()
                }())
    }
}
