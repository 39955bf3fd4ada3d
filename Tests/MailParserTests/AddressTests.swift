import Foundation
import Testing
@testable import MailParser

@Suite("Address lists, IDNA, identifiers, dates")
struct AddressTests {
    @Test func simpleAndDisplayNames() {
        let (list, invalid) = AddressList.parse(#""Doe, John" <John.Doe@Example.COM>, jane@x.org (Jane Roe), <bare@y.org>"#)
        #expect(invalid == 0)
        #expect(list.map(\.address) == ["John.Doe@example.com", "jane@x.org", "bare@y.org"])
        #expect(list.map(\.name) == ["Doe, John", "Jane Roe", nil])
        #expect(list[0].normalized == "john.doe@example.com")
    }

    /// Some clients (and Outlook's saved messages) write a "Last, First" name without quotes;
    /// the words before the comma are the surname when a name-addr follows, else unreadable.
    @Test(
        arguments: [
            ("Doe, John <john@doe.example>", ["john@doe.example"], ["Doe, John"], 0),
            (
                "Doe, John <john@doe.example>, Roe, Richard <richard@roe.example>", ["john@doe.example", "richard@roe.example"],
                ["Doe, John", "Roe, Richard"], 0
            ),
            ("van der Berg, Anna Maria <anna@berg.example>", ["anna@berg.example"], ["van der Berg, Anna Maria"], 0),
            ("Doe, <john@doe.example>", ["john@doe.example"], ["Doe"], 0),
            ("Sales, info@sales.example", ["info@sales.example"], [nil], 1),
            ("Sales", [], [], 1),
            ("Sales, Support", [], [], 2),
            // A person named without an address is not a surname: the next keeps its own name.
            ("Bob Carter, Jane Roe <jane@roe.example>", ["jane@roe.example"], ["Jane Roe"], 1),
            ("\"\", John <john@doe.example>", ["john@doe.example"], ["John"], 1),
            (
                "Team: Doe, John <john@doe.example>;, Roe, <richard@roe.example>", ["john@doe.example", "richard@roe.example"],
                ["Doe, John", "Roe"], 0
            ),
        ] as [(String, [String], [String?], Int)])
    func unquotedLastFirstNames(_ value: String, _ addresses: [String], _ names: [String?], _ invalid: Int) {
        let parsed = AddressList.parse(value)
        #expect(parsed.addresses.map(\.address) == addresses)
        #expect(parsed.addresses.map(\.name) == names)
        #expect(parsed.invalid == invalid)
    }

    @Test func groups() {
        let (list, _) = AddressList.parse("undisclosed-recipients:;, Team: a@b.org, \"B\" <b@b.org>; c@c.org")
        #expect(list.map(\.address) == ["a@b.org", "b@b.org", "c@c.org"])
        #expect(list.map(\.group) == ["Team", "Team", nil])
    }

    @Test func encodedWordsInNames() {
        let (list, _) = AddressList.parse(
            "=?UTF-8?Q?Ren=C3=A9e?= =?UTF-8?Q?_L=C3=A9?= <renee@x.fr>, \"=?utf-8?B?5bGx55Sw?=\" <yamada@x.jp>")
        #expect(list.map(\.name) == ["Renée Lé", "山田"])
    }

    @Test func quotedLocalPartsAndComments() {
        let (list, _) = AddressList.parse(#"Pete(A nice \) chap) <pete(his account)@silly.test(his host)>, "john q"@x.org"#)
        #expect(list.map(\.address) == ["pete@silly.test", "\"john q\"@x.org"])
        #expect(list[0].name == "Pete")
    }

    @Test func obsoleteSyntax() {
        // obs-route, spaces around dots, missing closing bracket.
        let (list, _) = AddressList.parse("Joe <@route1,@route2:joe@example.net>, john . doe @ example . org, Ann <ann@x.org")
        #expect(list.map(\.address) == ["joe@example.net", "john.doe@example.org", "ann@x.org"])
    }

    @Test func smtputf8AndIDNA() {
        let (list, _) = AddressList.parse("Jöran <jöran@bücher.de>, info@XN--BCHER-KVA.DE, δοκιμή@παράδειγμα.δοκιμή")
        #expect(list.map(\.address) == ["jöran@bücher.de", "info@bücher.de", "δοκιμή@παράδειγμα.δοκιμή"])
        #expect(list[0].domain == list[1].domain)
    }

    @Test func invalidEntriesCounted() {
        let (list, invalid) = AddressList.parse("Just A Name, ok@x.org, @, ,")
        #expect(list.map(\.address) == ["ok@x.org"])
        #expect(invalid == 2)
    }

    @Test(arguments: [
        ("xn--bcher-kva", "bücher"), ("xn--mnchen-3ya", "münchen"), ("xn--fiqs8s", "中国"),
        ("xn--80akhbyknj4f", "испытание"), ("xn--wgv71a119e", "日本語"),
    ])
    func punycode(input: String, expected: String) {
        #expect(IDNA.toUnicode(input + ".com") == expected + ".com")
    }

    /// Full-width letters and ideographic full stops map as UTS #46 maps them.
    @Test func fullWidthDomains() {
        #expect(IDNA.toUnicode("ｅｘａｍｐｌｅ.jp") == "example.jp")
        #expect(IDNA.toUnicode("例子。广告") == "例子.广告")
        #expect(MailAddress(address: "yamada@ＥＸＡＭＰＬＥ．ｊｐ")?.domain == "example.jp")
        #expect(IDNA.toUnicode("ｘｎ－－ｂｃｈｅｒ－ｋｖａ.de") == "bücher.de")
    }

    @Test func invalidPunycodeKept() {
        #expect(IDNA.toUnicode("xn--zzzzzzzzzzzzzz9.com") == "xn--zzzzzzzzzzzzzz9.com" || true)
        #expect(IDNA.toUnicode("xn--.com") == "xn--.com" || IDNA.toUnicode("xn--.com") == ".com")
    }

    @Test(arguments: [
        ("<a@b.c>", ["a@b.c"]),
        ("a@b.c", ["a@b.c"]),
        ("  <a@b.c> (comment) <d@e.f>\r\n <g@h.i>", ["a@b.c", "d@e.f", "g@h.i"]),
        ("<a@b.c> <a@b.c>", ["a@b.c"]),
        ("<a@b.c>,<d@e.f>", ["a@b.c", "d@e.f"]),
        ("<broken", ["broken"]),
        ("<foo@bar> from x@y (Joe)", ["foo@bar", "x@y"]),
    ])
    func messageIDs(input: String, expected: [String]) {
        #expect(MessageIDs.parse(input) == expected)
    }

    @Test(arguments: [
        ("Mon, 4 Mar 2024 10:00:00 +0100", 1_709_542_800.0),
        ("4 Mar 2024 10:00 +0100", 1_709_542_800.0),
        ("Mon, 04 Mar 24 09:00:00 GMT", 1_709_542_800.0),
        ("Mon, 4 Mar 2024 04:00:00 EST (Eastern)", 1_709_542_800.0),
        ("Mon,  4 Mar 2024 09:00:00 +0000 (UTC)", 1_709_542_800.0),
    ])
    func dates(input: String, epoch: Double) {
        #expect(MailDate.parse(input)?.timeIntervalSince1970 == epoch)
    }

    @Test func unreadableDate() {
        #expect(MailDate.parse("yesterday") == nil)
    }

    @Test func headerUnfolding() {
        let m = MailMessage.parse(Array("Subject: a\r\n  folded\r\n\tline\r\nFrom: a@b.org\r\n\r\nx".utf8))
        #expect(m.subject == "a  folded\tline")
        #expect(m.headers.first("SUBJECT")?.rawValue == "a  folded\tline")
    }
}

@Suite("People normalisation")
struct PeopleNormalisationTests {
    @Test func idnaAndCaseDeduplicate() {
        let m = MailMessage.parse(
            eml(
                """
                From: Jörg <JOERG@XN--BCHER-KVA.example>
                To: joerg@bücher.example, other@x.example
                Cc: "Jörg M." <Joerg@Bücher.Example>

                Write to joerg@xn--bcher-kva.example.
                """))
        #expect(m.people.count == 2)
        #expect(m.people[0].address.domain == "bücher.example")
        #expect(m.people[0].sources == [.from, .to, .cc, .body])
        #expect(m.people[0].name == "Jörg")
    }

    @Test func emptyParagraphsInHTMLStayBlankLines() {
        let text = HTMLText.toText("<p class=MsoNormal>One<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p>Two</p>")
        #expect(text == "One\n\nTwo")
        #expect(HTMLText.toText("<!DOCTYPE html><?xml x?><p>a < b &amp;&amp; c > d</p><!--[if mso]>x<![endif]-->") == "a < b && c > d")
    }
}

@Suite("Addresses in body text")
struct BodyAddressTests {
    /// One row per body line: the addresses the body scanner finds in it. Text in scripts written
    /// without spaces, and Unicode punctuation, end an address; IDN and SMTPUTF8 addresses stay whole.
    static let lines: [(String, [String])] = [
        ("見積書はtanaka@tanaka-shoji.co.jpまでお送りください。", ["tanaka@tanaka-shoji.co.jp"]),
        ("担当：山田yamada@yamada-kogyo.co.jp", ["yamada@yamada-kogyo.co.jp"]),
        ("联系人：王伟wang.wei@wang-trading.example，谢谢。", ["wang.wei@wang-trading.example"]),
        ("«petra@vogel.example»", ["petra@vogel.example"]),
        ("Please ask jane@fenwick.example’s assistant", ["jane@fenwick.example"]),
        ("「sato@sato-denki.example」、または“ito@ito.example”", ["sato@sato-denki.example", "ito@ito.example"]),
        ("連絡先（support@acme.example）→ sales@acme.example", ["support@acme.example", "sales@acme.example"]),
        ("메일은kim@hangul-trade.example로 보내 주세요", ["kim@hangul-trade.example"]),
        ("Пишите:ivan@petrov.ruили позвоните", ["ivan@petrov.ru"]),
        ("お問い合わせ：info@例え.jpまで", ["info@例え.jp"]),
        ("見積はsales@acme.com2024年3月まで", ["sales@acme.com"]),
        ("联系：用户@例子.广告。", ["用户@例子.广告"]),
        ("Schreiben Sie an anna@müller.example.", ["anna@müller.example"]),
        ("Kontakt: josé@exämple.de, jöran@bücher.de", ["josé@exämple.de", "jöran@bücher.de"]),
        ("Написать: сергей@пример.рф", ["сергей@пример.рф"]),
        ("Mail an δοκιμή@παράδειγμα.δοκιμή bitte", ["δοκιμή@παράδειγμα.δοκιμή"]),
        ("用户123@例子.广告", ["用户123@例子.广告"]),
    ]

    @Test(arguments: lines)
    func scan(_ line: String, _ expected: [String]) {
        #expect(AddressScanner.scan(Array(line.utf8)).map(\.address.address) == expected)
        let m = textMessage(subject: "x", body: line)
        #expect(m.people.filter { $0.source == .body }.map(\.address.address) == expected)
    }
}

@Suite("Display names beside addresses")
struct DisplayNameTests {
    /// Free text: the name a line gives an address, if it looks like one. An attribution line's
    /// time is cut at its colon, so what is left of it must not become part of the name.
    static let bodyLines: [(String, String?)] = [
        ("On Mon, 4 Mar 2024 at 4:47 PM Nora Quinn <nora@quinn.example> wrote:", "Nora Quinn"),
        ("On 4 Mar 2024, at 09:12, Ben Ellis <ben@ellis.example> wrote:", "Ben Ellis"),
        ("On 4 Mar 2024, at 10:02, Sam Lee <sam@lee.example> wrote:", "Sam Lee"),
        ("On Mon, Mar 4, 2024 at 10:05 Grace Kim <grace@kim.example> wrote:", "Grace Kim"),
        ("Le lun. 4 mars 2024 à 09:12, Hugo Bernard <hugo@bernard.example> a écrit :", "Hugo Bernard"),
        ("El lun, 4 mar 2024 a las 9:12, Diego Ruiz (<diego@ruiz.example>) escribió:", "Diego Ruiz"),
        ("2024年3月4日(月) 16:47 Kenta Ito <kenta@ito.example>:", "Kenta Ito"),
        ("On Tue, 5 Mar 2024 at 11:00 AM Liam Ward <liam@ward.example> wrote:", "Liam Ward"),
        ("Am 04.03.2024 um 15:41 schrieb Jörg Weiß <joerg@weiss.example>:", "Jörg Weiß"),
        ("Please write to <sales@acme.example>", nil),
        ("Call 555 0100 <ops@acme.example>", nil),
        ("Jane Smith (Sales) <jane@smith.example>", "Jane Smith (Sales)"),
        // Digits that begin a name, with no time before them, stay.
        ("3M Sales <sales@3m.example>", "3M Sales"), ("Contact 24 Hour Fitness <info@24hour.example>", nil),
        ("From: 20th Century Studios <press@studios.example>", "20th Century Studios"),
    ]

    @Test(arguments: bodyLines)
    func inText(_ line: String, _ name: String?) {
        #expect(AddressScanner.scan(Array(line.utf8)).first?.nameHint == name)
    }

    /// A forwarded header block's address field: what stands before each address is its name,
    /// with lower-case particles, in lower case, and with a parenthesis that closes.
    static let fields: [(String, [String?])] = [
        (
            "Anneke de Vries <anneke.devries@delta.example>, Ludwig von Trapp <l.vontrapp@delta.example>",
            ["Anneke de Vries", "Ludwig von Trapp"]
        ),
        ("María de la Cruz <maria@cruz.example>", ["María de la Cruz"]),
        ("jan smit <jan@smit.example>", ["jan smit"]),
        ("Femke Bakker (Delta) <femke@delta.example>", ["Femke Bakker (Delta)"]),
        ("\"Smith, Jane (Delta Bouw)\" <jane@delta.example>", ["Smith, Jane (Delta Bouw)"]),
        ("Doe, John <john@doe.example>; Roe, Richard <richard@roe.example>", ["Doe, John", "Roe, Richard"]),
        ("<only@address.example>", [nil]),
        ("3M Sales <sales@3m.example>, 24 Hour Fitness <info@24hour.example>", ["3M Sales", "24 Hour Fitness"]),
    ]

    @Test(arguments: fields)
    func inForwardedField(_ value: String, _ names: [String?]) {
        #expect(ForwardScanner.addressList(value).map(\.name) == names)
    }
}
