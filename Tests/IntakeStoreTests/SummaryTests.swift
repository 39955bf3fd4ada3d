import Foundation
import MailParser
import Testing

@testable import IntakeStore

/// The summary kept with each message, written by ``JSONText``, is the document Foundation's
/// `JSONEncoder` makes from the same `Encodable` summary: over the whole fixture corpus, and for
/// strings that need escaping.
@Suite struct SummaryTests {
    static let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/mail")

    static let fixtures: [String] = {
        guard let files = FileManager.default.enumerator(atPath: root.path) else { return [] }
        return files.compactMap { $0 as? String }.filter { $0.hasSuffix(".eml") }.sorted()
    }()

    /// A JSON document with its keys sorted and nothing escaped that need not be, to compare.
    static func canonical(_ json: String) throws -> Data {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])
    }

    static func encoded(_ summary: MessageSummary) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(summary), as: UTF8.self)
    }

    @Test func theCorpusIsThere() {
        #expect(Self.fixtures.count > 100)
    }

    @Test(arguments: fixtures)
    func summaryEqualsTheEncodersDocument(_ name: String) throws {
        let raw = try [UInt8](Data(contentsOf: Self.root.appendingPathComponent(name)))
        let summary = MessageSummary(MailMessage.parse(raw))
        #expect(try Self.canonical(summary.json) == Self.canonical(Self.encoded(summary)))
    }

    @Test func stringsThatNeedEscapingComeBackTheSame() throws {
        let awkward = ["", "quote \" and \\ backslash", "tab\tnew\nline\r", "\u{0}\u{1}\u{1F}\u{7F}", "é ✓ 𝄞 / </script>"]
        var out = JSONText()
        out.strings(awkward)
        let decoded = try JSONSerialization.jsonObject(with: Data(out.text.utf8)) as? [String]
        #expect(decoded == awkward)
        #expect(IntakeDatabase.encodeList([]) == "[]")
        #expect(IntakeDatabase.encodeList(["a", "b"]) == #"["a","b"]"#)
    }
}
