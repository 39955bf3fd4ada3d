import Foundation
import Testing
@testable import MailParser

@Suite("Hostile input")
struct HostileInputTests {
    @Test func twentyFiveMebibytes() {
        // A message that is mostly a base64 attachment, 25 MiB in all.
        let line = Array("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n".utf8)
        var bytes = eml(
            """
            From: a@b.org
            Subject: big
            Content-Type: multipart/mixed; boundary=big

            --big
            Content-Type: text/plain

            See attachment.
            --big
            Content-Type: application/octet-stream; name=big.bin
            Content-Transfer-Encoding: base64


            """)
        let target = 25 << 20
        bytes.reserveCapacity(target + 100)
        let count = (target - bytes.count - 12) / line.count
        for _ in 0..<count { bytes += line }
        bytes += Array("--big--\r\n".utf8)
        let m = MailMessage.parse(bytes)
        #expect(m.bodyText == "See attachment.")
        #expect(m.attachments.first?.size == count * 57)
        #expect(m.defects.isEmpty)
    }

    @Test func nestedAThousandDeep() {
        var s = "From: a@b.org\r\nSubject: deep\r\n"
        for i in 0..<1000 { s += "Content-Type: multipart/mixed; boundary=\"b\(i)\"\r\n\r\n--b\(i)\r\n" }
        s += "Content-Type: text/plain\r\n\r\ninnermost\r\n"
        for i in stride(from: 999, through: 0, by: -1) { s += "--b\(i)--\r\n" }
        let m = MailMessage.parse(Array(s.utf8))
        #expect(m.defects.contains { $0.kind == .nestingTooDeep })
        var depth = 0
        var p = m.root
        while let c = p.parts.first { p = c; depth += 1 }
        #expect(depth <= MailParserLimits.default.maxMIMEDepth)
    }

    @Test func enclosedMessagesAThousandDeep() {
        var s = ""
        for _ in 0..<1000 { s += "From: a@b.org\r\nContent-Type: message/rfc822\r\n\r\n" }
        s += "From: z@b.org\r\n\r\nbottom\r\n"
        let m = MailMessage.parse(Array(s.utf8))
        #expect(m.defects.contains { $0.kind == .nestingTooDeep })
    }

    /// Deep nesting stays within a small thread stack (a server's worker threads may be small).
    @Test func deepNestingOnASmallStack() async {
        var s = ""
        for i in 0..<500 {
            s += "From: a@b.org\r\nContent-Type: multipart/mixed; boundary=\"b\(i)\"\r\n\r\n--b\(i)\r\n"
            s += "Content-Type: message/rfc822\r\n\r\n"
        }
        s += "From: z@b.org\r\n\r\nbottom\r\n"
        let bytes = Array(s.utf8)
        let done: Bool = await withCheckedContinuation { continuation in
            let thread = Thread {
                let m = MailMessage.parse(bytes)
                continuation.resume(returning: m.defects.contains { $0.kind == .nestingTooDeep })
                _ = m.forwarded.count
            }
            thread.stackSize = 1 << 19  // 512 KiB
            thread.start()
        }
        #expect(done)
    }

    @Test func boundaryNeverCloses() {
        let m = MailMessage.parse(
            eml(
                """
                From: a@b.org
                Content-Type: multipart/mixed; boundary=open

                --open
                Content-Type: text/plain

                body text that never ends
                """))
        #expect(m.bodyText.hasPrefix("body text that never ends"))
        #expect(m.defects.contains { $0.kind == .unclosedMultipart })
        let never = MailMessage.parse(eml("From: a@b.org\nContent-Type: multipart/mixed; boundary=zzz\n\njust text\n"))
        #expect(never.defects.contains { $0.kind == .noBoundaryFound })
        let none = MailMessage.parse(eml("From: a@b.org\nContent-Type: multipart/mixed\n\njust text\n"))
        #expect(none.bodyText == "just text\n")
        #expect(none.defects.contains { $0.kind == .missingBoundary })
    }

    @Test func oneMegabyteHeader() {
        var to = "To: "
        var i = 0
        while to.utf8.count < 1 << 20 { to += "Person \(i) <p\(i)@example.com>,\r\n "; i += 1 }
        let subject = "Subject: " + String(repeating: "word ", count: 200_000)
        let m = MailMessage.parse(Array("From: a@b.org\r\n\(to)x@y.org\r\n\(subject)\r\n\r\nbody".utf8))
        #expect(m.to.count == i + 1)
        #expect(m.subject?.utf8.count == 999_999)
        #expect(m.bodyText == "body")
    }

    @Test func nulBytesAndInvalidUTF8() {
        var bytes = Array("From: a\0b <a@b.org>\r\nSubject: caf\u{E9}\r\n".utf8)
        bytes += [0x53, 0x75, 0x62, 0x3A, 0x20, 0xFF, 0xFE, 0xC3, 0x28, 0x0D, 0x0A]  // "Sub: " + invalid UTF-8
        bytes += Array("Content-Type: text/plain; charset=utf-8\r\n\r\n".utf8)
        bytes += [0x00, 0xFF, 0xC3, 0x28, 0x41, 0x00, 0x0D, 0x0A]
        let m = MailMessage.parse(bytes)
        #expect(m.defects.contains { $0.kind == .nulBytes })
        #expect(m.defects.contains { $0.kind == .invalidCharsetBytes })
        #expect(m.from?.address == "a@b.org")
        #expect(m.bodyText.contains("A"))
    }

    @Test func garbageNeverCrashes() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let n = Int.random(in: 0..<2000, using: &rng)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = MailMessage.parse(bytes)
        }
        _ = MailMessage.parse([UInt8]())
        _ = MailMessage.parse(Array("\r\n\r\n".utf8))
        _ = MailMessage.parse(Array("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n--a\r\n--a--".utf8))
    }

    /// Inputs that once made parsing quadratic, at a size where that would take minutes: they parse.
    /// (Tests assert no timings; `bench/mailparser/run.sh` measures how parsing time scales.)
    @Test(arguments: ["boundaries", "ats", "quotes", "forwards", "encodedwords", "mixed-labels"])
    func pathologicalBodies(pattern: String) {
        func input(_ n: Int) -> [UInt8] {
            var s = "From: a@b.org\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\r\n"
            let unit: String
            switch pattern {
            case "boundaries": unit = "--b-not-quite\r\n--\r\n--c\r\n"
            case "ats": unit = "@@a@b@c.d@ x@y.z a@ @b "
            case "quotes": unit = "> > > On x wrote:\r\n"
            case "forwards": unit = "From: x\r\n-----Original Message-----\r\n"
            // A domain of 127 labels whose last runs into another script: cut, label by label.
            case "mixed-labels": unit = "x@" + String(repeating: "a.", count: 126) + "aま "
            default: unit = "=?utf-8?q?a?= =?x?b?QQ?= =?"
            }
            s += String(repeating: unit, count: n)
            return Array(s.utf8)
        }
        #expect(MailMessage.parse(input(12_000)).from?.address == "a@b.org")
    }

    /// The same for pathological header fields and body tokens.
    @Test(arguments: ["subject-words", "to-angles", "to-comments", "to-quotes", "date", "at-token", "html-tags"])
    func pathologicalFields(pattern: String) {
        func input(_ n: Int) -> [UInt8] {
            switch pattern {
            case "subject-words": return Array(("Subject: " + String(repeating: "=?utf-8?q?a", count: n) + "\r\n\r\nx").utf8)
            case "to-angles": return Array(("To: " + String(repeating: "<a@b <", count: n) + "\r\n\r\nx").utf8)
            case "to-comments": return Array(("To: " + String(repeating: "(a@b ", count: n) + "\r\n\r\nx").utf8)
            case "to-quotes": return Array(("To: a@b, \"" + String(repeating: "\\\" x@y, ", count: n) + "\r\n\r\nx").utf8)
            case "date": return Array(("Date: " + String(repeating: "1 Jan 2024 (", count: n) + "\r\n\r\nx").utf8)
            case "at-token": return Array(("From: a@b.org\r\n\r\nhttp://x/" + String(repeating: "a@b.cc@", count: n)).utf8)
            default:
                return Array(("Content-Type: text/html\r\n\r\n" + String(repeating: "<script><!--<blockquote>&#x", count: n)).utf8)
            }
        }
        let message = MailMessage.parse(input(16_000))
        #expect(message.defects.count <= MailParserLimits.default.maxDefects)
    }
}
