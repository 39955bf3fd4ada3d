import AdminAPI
import Foundation
import MailParser
import Testing

/// Attachments addressed by the SHA-256 of their content, end to end: mail with files over SMTP,
/// then `attachment.list` and `attachment.get` on the admin socket, for a message kept in the
/// database and one kept as a file in the raw folder.
@Suite struct AttachmentTests {
    /// `count` octets that differ from one `seed` to another.
    static func bytes(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &* 7 &+ ($0 >> 8)) }
    }

    /// A message from Alice to Jane with `files`, each base64 in a part of its own.
    static func message(subject: String, files: [(name: String, type: String, content: [UInt8])]) -> String {
        var lines = [
            "From: Alice Archer <\(AdminTests.alice)>", "To: \(AdminTests.jane)", "Subject: \(subject)",
            "Message-ID: <\(UUID().uuidString)@acme.test>", "Date: Mon, 23 Nov 2026 10:00:00 +0000", "MIME-Version: 1.0",
            "Content-Type: multipart/mixed; boundary=\"b\"", "", "--b", "Content-Type: text/plain", "", "The files.",
        ]
        for file in files {
            lines += [
                "--b", "Content-Type: \(file.type); name=\"\(file.name)\"", "Content-Disposition: attachment; filename=\"\(file.name)\"",
                "Content-Transfer-Encoding: base64", "",
            ]
            lines.append(
                Data(file.content).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
            )
        }
        lines.append("--b--")
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    @Test func attachmentsAreFoundAndReadByTheirDigest() async throws {
        // Over 64 KiB a message arrives in a spool file, is kept in the raw folder, and its
        // files are hashed as it arrives.
        let admin = try await AdminFixture.start()
        let (alice, _) = try AdminTests.acme(admin)
        let note = try #require(alice["addresses"]?["note"]?.stringValue)
        let price = Self.bytes(3_000, seed: 1)
        let drawing = Self.bytes(1_500_000, seed: 2)
        let small = Self.message(subject: "Price list", files: [("prices.pdf", "application/pdf", price)])
        let large = Self.message(
            subject: "Price list and drawing", files: [("prices.pdf", "application/pdf", price), ("drawing.dwg", "image/vnd.dwg", drawing)])
        #expect(large.utf8.count > 64 * 1024)
        for message in [small, large] { #expect(try await admin.send(message, from: AdminTests.alice, to: [note]).code == 250) }

        let priceDigest = SHA256.hex(price)
        let carriers = try admin.items("attachment.list", ["sha256": .string(priceDigest.uppercased())])
        #expect(carriers.map { $0["subject"] } == ["Price list", "Price list and drawing"])
        #expect(carriers.allSatisfy { $0["size"] == 3_000 && $0["filename"] == "prices.pdf" && $0["content_type"] == "application/pdf" })
        #expect(try admin.items("attachment.list", ["sha256": .string(priceDigest), "org": "acme"]).count == 2)

        let got = try admin.result("attachment.get", ["sha256": .string(priceDigest)])
        #expect(got["filename"] == "prices.pdf")
        #expect(Data(base64Encoded: got["content"]?.stringValue ?? "").map(Array.init) == price)
        // An answer is one line of at most 1 MiB: a large file comes in pieces of 512 KiB.
        var pieces: [UInt8] = []
        for offset in [0, 524_288, 1_048_576] {
            let piece = try admin.result("attachment.get", ["sha256": .string(SHA256.hex(drawing)), "offset": .int(Int64(offset))])
            #expect(piece["offset"] == .int(Int64(offset)) && piece["size"] == 1_500_000)
            pieces += Data(base64Encoded: piece["content"]?.stringValue ?? "").map(Array.init) ?? []
        }
        #expect(pieces == drawing)
        #expect(try admin.error("attachment.get", ["sha256": .string(SHA256.hex(drawing)), "offset": 1_500_001])?.code == .invalid)
        #expect(
            try admin.items("attachment.list", ["sha256": .string(SHA256.hex(drawing))]).map { $0["subject"] } == ["Price list and drawing"]
        )

        // The same with intakectl: a table, and the file written.
        let table = try admin.intakectl(["attachment", "list", "--sha256", priceDigest])
        #expect(table.output.hasPrefix("MESSAGE  RECEIVED_AT"), "\(table.output)")
        #expect(table.output.split(separator: "\n").count == 3)
        let path = Daemon.temporaryDirectory("intake-attachment") + "/drawing.dwg"
        let written = try admin.intakectl(["attachment", "get", "--sha256", SHA256.hex(drawing), "--output", path])
        #expect(written.output == "\(path): 1500000 octets\n")
        #expect(FileManager.default.contents(atPath: path).map(Array.init) == drawing)

        let unknown = String(repeating: "0", count: 64)
        #expect(try admin.items("attachment.list", ["sha256": .string(unknown)]).isEmpty)
        #expect(try admin.error("attachment.get", ["sha256": .string(unknown)])?.code == .notFound)
        #expect(try admin.error("attachment.list", ["sha256": "prices.pdf"])?.code == .invalid)
        await admin.daemon.stop()
    }
}
