import Foundation
import Testing
@testable import MailParser

/// Every `Tests/Fixtures/mail/<category>/<name>.eml` checked against `<name>.expected.json`
/// (a subset assertion in the shape of `intakectl inspect --json`).
@Suite("Fixture corpus")
struct FixtureTests {
    static let root: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/mail")

    static let fixtures: [String] = {
        guard let e = FileManager.default.enumerator(atPath: root.path) else { return [] }
        var names: [String] = []
        while let p = e.nextObject() as? String {
            if p.hasSuffix(".eml") { names.append(String(p.dropLast(4))) }
        }
        return names.sorted()
    }()

    static func norm(_ s: String) -> String {
        MailAddress(address: s).map(\.normalized) ?? s.lowercased()
    }

    @Test(arguments: fixtures)
    func fixture(_ name: String) throws {
        let eml = try Data(contentsOf: Self.root.appendingPathComponent(name + ".eml"))
        let expectedURL = Self.root.appendingPathComponent(name + ".expected.json")
        guard let data = try? Data(contentsOf: expectedURL) else {
            Issue.record("\(name): no expected file")
            return
        }
        let expected = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let m = MailMessage.parse(eml)
        check(name, expected, m)
    }

    /// A parse for storage, which hashes files as it decodes them, is the full parse without its
    /// content, to the defect.
    @Test func parsingForStorageIsTheFullParseWithoutContent() throws {
        for name in Self.fixtures {
            let eml = try Data(contentsOf: Self.root.appendingPathComponent(name + ".eml"))
            let lean = MailMessage.parse(eml, digestingAttachmentsWith: SHA256.self)
            #expect(lean == MailMessage.parse(eml).droppingContent(), "\(name)")
        }
    }

    /// Digests taken as a message arrives, in pieces of any size, are the parse's own: the parse
    /// given them is the parse without them, and it takes them wherever it found the same body.
    @Test func digestsTakenAsTheMessageArrivesAreTheParsesOwn() throws {
        var taken = 0
        var used = 0
        for name in Self.fixtures {
            let eml = [UInt8](try Data(contentsOf: Self.root.appendingPathComponent(name + ".eml")))
            let expected = MailMessage.parse(eml, digestingAttachmentsWith: SHA256.self)
            for piece in [1, 3, 77, 4096, 1 << 20] {
                var digester = AttachmentDigester<SHA256>()
                var start = 0
                while start < eml.count {
                    let stop = min(start + piece, eml.count)
                    eml[start..<stop].withUnsafeBytes { digester.consume($0) }
                    start = stop
                }
                var digests = digester.finish()
                #expect(
                    MailMessage.parse(eml, digestingAttachmentsWith: SHA256.self, precomputed: digests) == expected,
                    "\(name) in pieces of \(piece)")
                guard piece == 4096 else { continue }
                taken += digests.count
                // Marked digests show which ones the parse took.
                for range in digests.entries.keys { digests.entries[range]?.digest.sha256 = "taken" }
                let marked = MailMessage.parse(eml, digestingAttachmentsWith: SHA256.self, precomputed: digests)
                used += marked.attachments.filter { $0.sha256 == "taken" }.count
            }
        }
        #expect(taken >= 12)  // every base64 file part of the corpus
        #expect(used == taken)
    }

    /// The `automated/` fixtures: everything there is machine-generated except the two look-alikes.
    @Test(arguments: fixtures.filter { $0.hasPrefix("automated/") })
    func automatedHint(_ name: String) throws {
        let m = MailMessage.parse(try Data(contentsOf: Self.root.appendingPathComponent(name + ".eml")))
        let lookAlikes = ["automated/auto_submitted_no", "automated/outlook_normal_with_suppress"]
        #expect(m.isAutomated == !lookAlikes.contains(name), "\(name)")
    }

    func check(_ name: String, _ e: [String: Any], _ m: MailMessage) {
        if let subject = e["subject"] as? String { #expect(m.subject == subject, "\(name): subject") }
        if let from = e["from"] as? [String: Any] {
            if let a = from["address"] as? String { #expect(m.from.map { Self.norm($0.address) } == Self.norm(a), "\(name): from.address") }
            if from.keys.contains("name") { #expect(m.from?.name == from["name"] as? String, "\(name): from.name") }
        }
        let people = Set(m.people.map(\.address.normalized))
        for a in e["people_include"] as? [String] ?? [] {
            #expect(people.contains(Self.norm(a)), "\(name): people should include \(a); got \(people.sorted())")
        }
        for a in e["people_exclude"] as? [String] ?? [] {
            #expect(!people.contains(Self.norm(a)), "\(name): people should exclude \(a)")
        }
        if let fwd = e["forwarded"] as? [[String: Any]] {
            #expect(m.forwarded.count == fwd.count, "\(name): forwarded count \(m.forwarded.count) != \(fwd.count)")
            for (i, f) in fwd.enumerated() where i < m.forwarded.count {
                let got = m.forwarded[i]
                if let from = f["from"] as? [String: Any] {
                    if from.keys.contains("address") {
                        #expect(
                            got.from.map { Self.norm($0.address) } == (from["address"] as? String).map(Self.norm),
                            "\(name): forwarded[\(i)].from.address \(String(describing: got.from?.address))")
                    }
                    if from.keys.contains("name") {
                        #expect(
                            got.fromName == from["name"] as? String,
                            "\(name): forwarded[\(i)].from.name \(String(describing: got.fromName))")
                    }
                }
                if let to = f["to"] as? [String] {
                    #expect(
                        got.to.map(\.normalized).sorted() == to.map(Self.norm).sorted(),
                        "\(name): forwarded[\(i)].to \(got.to.map(\.address))")
                }
                if let cc = f["cc"] as? [String] {
                    #expect(
                        got.cc.map(\.normalized).sorted() == cc.map(Self.norm).sorted(),
                        "\(name): forwarded[\(i)].cc \(got.cc.map(\.address))")
                }
                if let s = f["subject"] as? String {
                    #expect(got.subject == s, "\(name): forwarded[\(i)].subject \(String(describing: got.subject))")
                }
                if let missing = f["address_missing"] as? Bool {
                    #expect(got.addressMissing == missing, "\(name): forwarded[\(i)].address_missing")
                }
                if let d = f["date"] as? String { #expect(got.date == d, "\(name): forwarded[\(i)].date \(String(describing: got.date))") }
            }
        }
        if let refs = e["refs"] as? [String] { #expect(m.referenceTags == refs, "\(name): refs \(m.referenceTags)") }
        if let atts = e["attachments"] as? [[String: Any]] {
            #expect(
                m.attachments.count == atts.count, "\(name): attachments \(m.attachments.map { "\($0.filename ?? "-") \($0.contentType)" })"
            )
            for (i, a) in atts.enumerated() where i < m.attachments.count {
                let got = m.attachments[i]
                if a.keys.contains("filename") {
                    #expect(
                        got.filename == a["filename"] as? String, "\(name): attachments[\(i)].filename \(String(describing: got.filename))")
                }
                if let ct = a["content_type"] as? String {
                    #expect(got.contentType == ct.lowercased(), "\(name): attachments[\(i)].content_type \(got.contentType)")
                }
                if let size = a["size"] as? Int { #expect(got.size == size, "\(name): attachments[\(i)].size \(got.size)") }
                if let sha = a["sha256"] as? String { #expect(got.sha256 == sha, "\(name): attachments[\(i)].sha256") }
            }
        }
        for s in e["new_text_contains"] as? [String] ?? [] {
            #expect(
                m.newText.contains(s), "\(name): new_text should contain \(s.debugDescription); new_text = \(m.newText.debugDescription)")
        }
        for s in e["new_text_excludes"] as? [String] ?? [] {
            #expect(!m.newText.contains(s), "\(name): new_text should not contain \(s.debugDescription)")
        }
        for s in e["body_contains"] as? [String] ?? [] {
            #expect(m.bodyText.contains(s), "\(name): body should contain \(s.debugDescription)")
        }
        if let d = e["defects_nonempty"] as? Bool {
            #expect(!m.defects.isEmpty == d, "\(name): defects \(m.defects.map(\.description))")
        }
    }
}
