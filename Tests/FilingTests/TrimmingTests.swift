import Foundation
import Testing

@testable import Filing

/// `trimmingWhiteSpace` trims what Foundation's `.whitespacesAndNewlines` trims, for the white
/// space header text can hold.
@Suite struct TrimmingTests {
    @Test(arguments: [
        "", " ", "plain", "  both ends \t", "\r\n<id@host>\r\n", "\u{A0}no-break\u{A0}", "\u{3000}ideographic\u{3000}",
        "\u{85}next line\u{85}", "\u{2028}line\u{2029}", "\u{2003}em\u{2009}thin\u{200A}", "inner  space stays",
        "\u{200B}zero width space\u{200B}", "\u{FEFF}bom\u{FEFF}", "é✓𝄞 \u{1680}",
    ])
    func sameAsFoundation(_ text: String) {
        #expect(text.trimmingWhiteSpace == text.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(text[...].trimmingWhiteSpace == text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
