import Filing
import Foundation
import MailParser
import Testing

@Suite struct DropboxAddressTests {
    static let token = "abcdefghijk23456"

    @Test(arguments: [
        (token, DropboxKind.note), ("\(token)+case", .case), ("\(token)+opportunity", .opportunity), ("\(token)+opp", .opportunity),
        ("\(token)+task", .task), ("\(token)+today", .taskToday), ("\(token)+tomorrow", .taskTomorrow),
        ("ABCDEFGHIJK23456+CASE", .case),
    ])
    func parses(_ localPart: String, _ kind: DropboxKind) {
        let address = DropboxAddress(localPart: localPart)
        #expect(address?.kind == kind)
        #expect(address?.token == Self.token)
    }

    @Test(arguments: ["", "short", "\(token)+unknown", "\(token)x", "abcdefghijk2345!", "abcdefghijk23451", "\(token)+"])
    func refuses(_ localPart: String) {
        #expect(DropboxAddress(localPart: localPart) == nil)
    }

    @Test func tokensAreEightyBitsOfBase32() {
        let tokens = Set((0..<1000).map { _ in DropboxToken.generate() })
        #expect(tokens.count == 1000)
        #expect(tokens.allSatisfy(DropboxToken.isWellFormed))
        #expect(DropboxAddress(token: Self.token, kind: .taskToday).localPart == "\(Self.token)+today")
    }
}

@Suite struct ExclusionPatternTests {
    @Test(arguments: [
        ("a@b.example", "a@b.example", true), ("a@b.example", "A@B.EXAMPLE", true), ("a@b.example", "x@b.example", false),
        ("@b.example", "anyone@b.example", true), ("@b.example", "x@mail.b.example", true), ("@b.example", "x@notb.example", false),
        ("noreply@*", "noreply@anything.example", true), ("noreply@*", "no-reply@anything.example", false),
        // A subaddress (RFC 5233) is the same mailbox: `+detail` in the address does not escape a pattern.
        ("noreply@*", "noreply+bounce@vendor.example", true), ("noreply@*", "NoReply+Bounce-123@Vendor.Example", true),
        ("noreply@*", "noreply+@vendor.example", true), ("noreply@*", "noreplyx+bounce@vendor.example", false),
        ("noreply@*", "+noreply@vendor.example", false), ("a@b.example", "a+news@b.example", true),
        ("a@b.example", "a+news@c.example", false), ("a@b.example", "ab+news@b.example", false),
        // A pattern with a detail names that subaddress only.
        ("noreply+bounce@*", "noreply+bounce@vendor.example", true), ("noreply+bounce@*", "noreply@vendor.example", false),
        ("noreply+bounce@*", "noreply+other@vendor.example", false), ("a+news@b.example", "a+news@b.example", true),
        ("a+news@b.example", "a@b.example", false),
    ])
    func matches(_ pattern: String, _ address: String, _ expected: Bool) throws {
        let parsed = try #require(ExclusionPattern(pattern))
        #expect(parsed.matches(address) == expected)
        #expect(parsed.description == pattern)
    }

    /// A domain typed with its IDNA labels is kept, and matched, in the Unicode form the parser
    /// reads addresses in.
    @Test func idnaLabelsAreDecoded() throws {
        let pattern = try #require(ExclusionPattern("@XN--SPM-RLA.example"))
        #expect(pattern.description == "@späm.example")
        #expect(pattern.matches("spam@späm.example"))
        #expect(try #require(ExclusionPattern("news@xn--bro-hoa.example")).matches("news@büro.example"))
    }

    @Test(arguments: ["", "nobody", "@", "@*", "a@", "*@*", "a*@b.example", "@localhost"])
    func refuses(_ pattern: String) {
        #expect(ExclusionPattern(pattern) == nil)
    }
}

@Suite struct FreemailTests {
    @Test(arguments: [
        ("gmail.com", true), ("hotmail.co.uk", true), ("hotmail.fr", true), ("yahoo.co.jp", true), ("gmx.ch", true), ("web.de", true),
        ("mail.ru", true), ("yandex.ru", true), ("qq.com", true), ("163.com", true), ("proton.me", true), ("icloud.com", true),
        ("acme.example", false), ("web.acme.com", false), ("outlook.acme.com", false), ("fenwick-logistics.example", false),
        // A provider's subdomains are the provider's.
        ("mail.yahoo.co.uk", true), ("vip.qq.com", true), ("vip.163.com", true), ("vip.sina.com", true), ("eu.mail.gmx.net", true),
        ("sina.com.cn", true), ("vip.sina.com.cn", true), ("btopenworld.com", true), ("btinternet.com", true),
        ("privaterelay.appleid.com", true), ("MAIL.Yahoo.CO.UK", true),
        // Relays that hide a person's address, and regional providers.
        ("duck.com", true), ("passmail.net", true), ("mozmail.com", true), ("simplelogin.com", true), ("aleeas.com", true),
        ("i.softbank.jp", true), ("bigpond.net.au", true), ("telus.net", true), ("xs4all.nl", true), ("21cn.com", true),
        // Names that only look like one stay a company's.
        ("yahoo-logistics.example", false), ("notgmail.com", false), ("gmail.com.evil.example", false), ("qq.com.acme.example", false),
        ("mail.acme.co.uk", false), ("appleid.com", false), ("sina-steel.com.cn", false), ("yahoo.acme.example", false),
        // A family (web.*, outlook.*) is judged on the registrable domain, not on a subdomain's parent.
        ("smtp.web.ibm.com", false), ("mail.outlook.sap.com", false), ("smtp.yahoo.fr", true),
    ])
    func classifies(_ domain: String, _ freemail: Bool) {
        #expect(FreemailDomains.contains(domain) == freemail)
    }

    @Test func listIsLargeAndExtendable() {
        #expect(FreemailDomains.count >= 100)
        #expect(FreemailDomains.contains("mailbox.example", extra: ["mailbox.example"]))
        #expect(FreemailDomains.contains("eu.mailbox.example", extra: ["mailbox.example"]))
        // A public suffix in the extra list makes no company free-mail.
        #expect(!FreemailDomains.contains("acme.co.uk", extra: ["co.uk"]))
        #expect(!FreemailDomains.contains("acme.com", extra: ["com"]))
    }
}

@Suite struct ContactNameTests {
    /// Invisible format characters and quotation marks around a name are not part of it.
    @Test(arguments: [
        ("\u{200F}דוד כהן\u{200F}", "דוד כהן"), ("\u{202B}רות לוי\u{202C}", "רות לוי"), ("“陈静”", "陈静"),
        ("«Иван Петров»", "Иван Петров"), ("「山田 太郎」", "山田 太郎"), ("Jane\u{200B} Doe", "Jane Doe"), ("\u{FEFF}Bo", "Bo"),
        ("O’Brien", "O’Brien"), ("“ ”", ""), ("“”", ""), ("“", "“"), ("\"Jane\" and \"John\"", "\"Jane\" and \"John\""),
        ("علی\u{200C}زاده", "علی\u{200C}زاده"),
    ])
    func plainNames(_ name: String, _ plain: String) {
        #expect(ContactCandidate.plainName(name) == plain)
    }

    /// A relayed sender's address is the relay's: its contact is named after the relay.
    @Test(arguments: [
        ("'Jane Doe' via Sales Team", "sales-team@googlegroups.com", "Sales Team"),
        ("'Jane Doe' via Sales Team", "sales@googlegroups.com", "Sales Team"),
        ("Jane Doe via Dev-List", "dev-list@lists.example.org", "Dev-List"),
        ("\"Jane Doe\" via LinkedIn", "messages-noreply@linkedin.com", "LinkedIn"),
        ("«Jane Doe via dev-list»", "dev-list@lists.example.org", "dev-list"),
        ("Pizzeria via Roma", "info@pizzeria.example", "Pizzeria via Roma"),
        ("Jane Doe via ", "jane@doe.example", "Jane Doe via"),
        ("Maria Via", "maria@via.example", "Maria Via"),
        ("Olivia Viana", "olivia@viana.example", "Olivia Viana"),
    ])
    func aRelayedSenderIsNamedAfterTheRelay(_ name: String, _ address: String, _ contactName: String) {
        let candidate = ContactCandidate(address: address, name: name, source: "from", companyDomain: nil)
        #expect(candidate.contactName == contactName)
    }

    @Test func anInvisibleNameIsNoName() {
        let candidate = ContactCandidate(address: "ruth@levi.example", name: "\u{200F}\u{200F}", source: "to", companyDomain: nil)
        #expect(candidate.displayName == nil)
        #expect(candidate.contactName == "Ruth")
    }
}

@Suite struct CompanyNameTests {
    @Test(arguments: [
        ("acme-corp.co.uk", "Acme Corp"), ("acme.com", "Acme"), ("mail.acme.com", "Acme"), ("acme.com.au", "Acme"),
        ("fenwick.ltd.uk", "Fenwick"), ("fenwick.plc.uk", "Fenwick"), ("toyota.or.jp", "Toyota"), ("stadt.gv.at", "Stadt"),
        ("mairie.gouv.fr", "Mairie"), ("ministerio.gob.es", "Ministerio"), ("trust.nhs.uk", "Trust"), ("school.sch.uk", "School"),
        ("council.govt.nz", "Council"), ("ntt.ne.jp", "Ntt"), ("www.city.go.kr", "City"), ("shop.info.pl", "Shop"),
        // Outside a country code these are names: `or.example` is the company Or.
        ("acme.ltd", "Acme"), ("ltd.example", "Ltd"), ("or.example", "Or"), ("nhs.com", "Nhs"),
        // Second levels of one registry: Korea's research institutes, the UK's police forces,
        // Japan's prefectures.
        ("kist.re.kr", "Kist"), ("met.police.uk", "Met"), ("tokyo-gas.tokyo.jp", "Tokyo Gas"), ("re.example", "Re"),
        // A platform's tenant is its own.
        ("acme-corp.onmicrosoft.com", "Acme Corp"), ("globex.mail.onmicrosoft.com", "Globex"),
    ])
    func fromDomain(_ domain: String, _ name: String) {
        #expect(FilingRules.companyName(domain: domain) == name)
    }

    /// A company is its registrable domain's: regional and mail subdomains are the same company;
    /// Microsoft 365 tenants are each their own.
    @Test(arguments: [
        ("uk.globex.example", "globex.example"), ("mail.globex.example", "globex.example"), ("globex.example", "globex.example"),
        ("mail.acme.co.uk", "acme.co.uk"), ("acme.co.uk", "acme.co.uk"), ("cs.uni.ac.at", "uni.ac.at"),
        ("acme.onmicrosoft.com", "acme.onmicrosoft.com"), ("eu.acme.mail.onmicrosoft.com", "acme.mail.onmicrosoft.com"),
        ("sales.fenwick.ltd.uk", "fenwick.ltd.uk"), ("acme.de", "acme.de"),
        // Under a country code whose second level is unknown here, the domain stays whole: these
        // are suffixes (police.uk, re.kr, ad.jp, bc.ca) as often as names.
        ("met.police.uk", "met.police.uk"), ("kist.re.kr", "kist.re.kr"), ("iij.ad.jp", "iij.ad.jp"), ("gov.bc.ca", "gov.bc.ca"),
        ("mail.acme.de", "mail.acme.de"), ("health.nsw.gov.au", "nsw.gov.au"), ("[192.0.2.1]", "[192.0.2.1]"),
    ])
    func companyDomains(_ domain: String, _ company: String) {
        let settings = OrganisationSettings()
        #expect(FilingRules.companyDomain(of: domain, settings: settings, freemailExtra: []) == company)
    }
}

@Suite struct TitleDateAndKeyTests {
    @Test(arguments: [
        ("Re: Fwd: Broken chair", "Broken chair"), ("AW: WG: Angebot", "Angebot"), ("TR: Devis", "Devis"), ("RE:RE: x", "x"),
        ("Fw: [ticket] issue", "[ticket] issue"), ("Meeting: Monday", "Meeting: Monday"), ("", "(no subject)"), ("   ", "(no subject)"),
    ])
    func titles(_ subject: String, _ title: String) {
        #expect(FilingRules.title(subject) == title)
    }

    /// Reply and forward prefixes of the languages mail clients are used in, in any case, with an
    /// ASCII or a full-width colon, repeated.
    @Test(arguments: [
        ("VB: Offert", "Offert"), ("SV: Offert", "Offert"), ("Sv: VB: Offert", "Offert"), ("VL: Tarjous", "Tarjous"),
        ("VS: Tarjous", "Tarjous"), ("İLT: Teklif", "Teklif"), ("İlt: Teklif", "Teklif"), ("ILT: Teklif", "Teklif"),
        ("ilt: Teklif", "Teklif"), ("Ynt: Teklif", "Teklif"), ("YNT: Teklif", "Teklif"), ("Doorst: Offerte", "Offerte"),
        ("Antw: Offerte", "Offerte"), ("转发: 报价", "报价"), ("转发：报价", "报价"), ("回复: 报价", "报价"), ("回复：报价", "报价"),
        ("答复：报价", "报价"), ("答复: 报价", "报价"), ("RV: Oferta", "Oferta"), ("TR: Devis", "Devis"), ("Antw: Angebot", "Angebot"),
        ("WG: Angebot", "Angebot"), ("Odp: Oferta", "Oferta"), ("PD: Oferta", "Oferta"), ("Re: VB: 转发：Offer", "Offer"),
        ("RE：Fwd：Offer", "Offer"), ("re: ynt: İLT: doorst: Offer", "Offer"), ("Doorsturen: Offer", "Doorsturen: Offer"),
        ("Vb Offert", "Vb Offert"),
        // Italian's RIF, Ukrainian, Bulgarian, Hebrew, Arabic (two words), Croatian, Latvian,
        // Lithuanian, Traditional Chinese, full-width ASCII.
        ("RIF: Offerta", "Offerta"), ("Rif: Offerta", "Offerta"), ("Відп: Рахунок", "Рахунок"), ("Перес: Рахунок", "Рахунок"),
        ("ТВ: Итоговое предложение", "Итоговое предложение"), ("השב: הצעת מחיר", "הצעת מחיר"), ("הועבר: הצעת מחיר", "הצעת מחיר"),
        ("رد: عرض سعر", "عرض سعر"), ("إعادة توجيه: عرض سعر", "عرض سعر"), ("توجيه: عرض سعر", "توجيه: عرض سعر"), ("Odg: Ponuda", "Ponuda"),
        ("Prosl: Ponuda", "Ponuda"), ("Atb: Piedāvājums", "Piedāvājums"), ("Ats: Pasiūlymas", "Ats: Pasiūlymas"), ("轉發：報價", "報價"),
        ("答覆：報價", "報價"), ("ＲＥ：見積", "見積"), ("ＦＷ：見積", "見積"),
        ("RE: AW: 回复: 转发: ТВ: Итоговое предложение", "Итоговое предложение"),
    ])
    func prefixesOfMoreLanguages(_ subject: String, _ title: String) {
        #expect(FilingRules.title(subject) == title)
    }

    /// Prefixes every language row of the parser knows, and those of Greek, Hungarian, Korean
    /// and Icelandic Outlook; counted replies; the tags mail gateways put before them; the
    /// brackets of an old-style forward and Pine's `(fwd)`.
    @Test(arguments: [
        ("転送: 返信: 見積", "見積"), ("轉寄: 回覆: 報價", "報價"), ("Пересл: Отв: Счёт", "Счёт"), ("WTR: Angebot", "Angebot"),
        ("Weitergeleitet: Angebot", "Angebot"), ("Antwort: Angebot", "Angebot"), ("ΠΡΘ: ΑΠ: Προσφορά", "Προσφορά"),
        ("ΣΧΕΤ: Προσφορά", "Προσφορά"), ("TOV: VÁ: Ajánlat", "Ajánlat"), ("전달: 회신: 견적", "견적"), ("SV: Tilboð", "Tilboð"),
        ("RE(2): Quote", "Quote"), ("Fwd (2): Quote", "Quote"), ("Re[3]: Quote", "Quote"), ("FW : Quote", "Quote"),
        ("Fwd: [EXTERNAL] RE: Quote", "Quote"), ("FW: *EXTERNAL* RE: Quote", "Quote"), ("FW: EXTERNAL: RE: Quote", "Quote"),
        ("[EXT] FW: Quote", "Quote"), ("[External Email] Re: Quote", "Quote"), ("[Fwd: Quote]", "Quote"),
        ("Fwd: [Fwd: Re: Quote]", "Quote"), ("Quote for chairs (fwd)", "Quote for chairs"), ("[list] Quote", "[list] Quote"),
        ("Extension: 42 needs a new line", "Extension: 42 needs a new line"), ("(fwd)", "(fwd)"),
        // Words that only look like prefixes, or like one with a count, stay.
        ("VS2019: migration notes", "VS2019: migration notes"), ("R2: deployment plan", "R2: deployment plan"),
        ("TR 2024: Jahresbericht", "TR 2024: Jahresbericht"), ("Réf : Devis 2024-118", "Réf : Devis 2024-118"),
        ("Trans: Q3 figures", "Trans: Q3 figures"), ("Ext: 42", "Ext: 42"), ("FS: 2023 accounts", "FS: 2023 accounts"),
    ])
    func prefixesTagsAndBrackets(_ subject: String, _ title: String) {
        #expect(FilingRules.title(subject) == title)
    }

    /// A title is at most 200 characters, cut at a word.
    @Test func longSubjectsAreCut() {
        let subject = String(repeating: "Quote for chairs and tables ", count: 500)
        let title = FilingRules.title("Re: " + subject)
        #expect(title.count <= FilingRules.maxTitleLength)
        #expect(title.hasPrefix("Quote for chairs and tables Quote"))
        #expect(title.hasSuffix("tables…") || title.hasSuffix("chairs…") || title.hasSuffix("and…") || title.hasSuffix("for…"))
        #expect(FilingRules.title(String(repeating: "x", count: 300)).count == FilingRules.maxTitleLength)
    }

    @Test func datesInTheUsersTimeZone() throws {
        // 2026-11-23 11:30 UTC is already the 24th in Kiritimati (UTC+14), still the 23rd in Pago Pago (UTC-11).
        let instant = try #require(ISO8601DateFormatter().date(from: "2026-11-23T11:30:00Z"))
        #expect(FilingRules.localDate(instant, timeZone: "Pacific/Kiritimati", addingDays: 0) == "2026-11-24")
        #expect(FilingRules.localDate(instant, timeZone: "Pacific/Kiritimati", addingDays: 1) == "2026-11-25")
        #expect(FilingRules.localDate(instant, timeZone: "Pacific/Pago_Pago", addingDays: 0) == "2026-11-23")
        #expect(FilingRules.localDate(instant, timeZone: "Pacific/Pago_Pago", addingDays: 1) == "2026-11-24")
        #expect(FilingRules.localDate(instant, timeZone: "Not/AZone", addingDays: 0) == "2026-11-23")
    }

    @Test func deduplicationKeys() {
        #expect(FilingRules.deduplicationKey(messageID: "<Abc@Example.COM>", content: [1, 2]) == "mid:Abc@example.com")
        #expect(FilingRules.deduplicationKey(messageID: " Abc@example.com ", content: [3]) == "mid:Abc@example.com")
        let hashed = FilingRules.deduplicationKey(messageID: nil, content: Array("abc".utf8))
        #expect(hashed == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // A Message-ID that normalises to nothing would give every such message the one key
        // "mid:", and all but the first would pass for duplicates: the content decides instead.
        for empty in ["", "<>", "< >", "\u{A0}", "<\u{200B}>"] {
            #expect(FilingRules.deduplicationKey(messageID: empty, content: Array("abc".utf8)) == hashed)
            #expect(FilingRules.deduplicationKey(messageID: empty) == nil)
        }
    }

    @Test(arguments: [("CS1001", "CS1001"), ("co42", "CO42"), ("XX1", nil), ("CS", nil), ("CSx1", nil)])
    func referenceTags(_ text: String, _ expected: String?) {
        #expect(ReferenceTag(text)?.description == expected)
    }
}

@Suite struct PeopleAndTrustTests {
    static let user = DropboxUser(
        id: 1, organisationID: 1, email: "bob@harbourview.example", name: "Bob", timeZone: "UTC", trustedAddresses: ["Bob.Carter@Gmail.com"]
    )

    static func organisation(settings: OrganisationSettings = OrganisationSettings()) -> OrganisationContext {
        OrganisationContext(
            id: 1, name: "harbourview", internalDomains: ["harbourview.example"], memberAddresses: ["sarah@partner-office.example"],
            exclusions: ["noreply@*", "@spam.example"].compactMap(ExclusionPattern.init), settings: settings,
            dropboxDomains: ["dropbox.localhost"]
        )
    }

    static func message(from: String, to: String, cc: String = "", body: String = "Hi", extraCc: String? = nil) -> MailMessage {
        let cc = [cc, extraCc ?? ""].filter { !$0.isEmpty }.joined(separator: ", ")
        return MailMessage.parse(Array("From: \(from)\r\nTo: \(to)\r\nCc: \(cc)\r\nSubject: Test\r\n\r\n\(body)\r\n".utf8))
    }

    @Test(arguments: [
        ("Bob <bob@harbourview.example>", true), ("BOB@HARBOURVIEW.EXAMPLE", true), ("bob.carter@gmail.com", true),
        ("mallory@harbourview.example", false), ("bob@harbourview.example.evil.example", false),
    ])
    func trust(_ from: String, _ trusted: Bool) {
        let refusal = FilingRules.trustRefusal(for: Self.message(from: from, to: "x@y.example"), user: Self.user)
        #expect((refusal == nil) == trusted)
        if let refusal {
            #expect(refusal.code == 550 && refusal.enhancedCode == "5.7.1")
            #expect(refusal.text.hasSuffix("is not a trusted address of this dropbox; add it with intakectl sender add"))
        }
    }

    /// A stranger's automatic answer is refused saying what it is, with no advice to trust its
    /// sender; list or bulk mail from a stranger (a person may have written it) keeps the advice.
    @Test(arguments: [
        ("Auto-Submitted: auto-replied", true), ("Content-Type: multipart/report; report-type=delivery-status; boundary=x", true),
        ("Precedence: bulk", false), ("Precedence: list", false), ("Auto-Submitted: no", false),
    ])
    func aStrangersAutomaticAnswer(_ header: String, _ automatic: Bool) throws {
        let raw = "From: jane@client.example\r\nTo: bob@harbourview.example\r\n\(header)\r\nSubject: Re: quote\r\n\r\nAway.\r\n"
        let refusal = try #require(FilingRules.trustRefusal(for: MailMessage.parse(Array(raw.utf8)), user: Self.user))
        #expect(refusal.code == 550 && refusal.enhancedCode == "5.7.1")
        #expect(refusal.text.hasPrefix("an automatic answer (auto-reply, bounce or delivery report) from jane@client.example") == automatic)
        #expect(refusal.text.hasSuffix("add it with intakectl sender add") == !automatic)
    }

    /// A customer's reply forwarded as an attachment belongs to the thread its own headers name.
    @Test func anAttachedOriginalNamesItsThread() throws {
        let raw = """
            From: bob@harbourview.example\r
            To: tok@dropbox.localhost\r
            Message-ID: <fwd1@harbourview.example>\r
            In-Reply-To: <earlier@harbourview.example>\r
            Subject: Fwd: Re: Chairs\r
            Content-Type: multipart/mixed; boundary=b1\r
            \r
            --b1\r
            Content-Type: text/plain\r
            \r
            For the case.\r
            --b1\r
            Content-Type: message/rfc822\r
            \r
            From: Jane <jane@client.example>\r
            Message-ID: <reply1@client.example>\r
            In-Reply-To: <case-opener@harbourview.example>\r
            References: <older@harbourview.example> <case-opener@harbourview.example>\r
            Subject: Re: Chairs\r
            \r
            Yes, forty.\r
            --b1--\r

            """
        let intent = try FilingRules.intent(
            for: MailMessage.parse(Array(raw.utf8)), user: Self.user, kind: .note, organisation: Self.organisation(),
            receivedAt: Date()
        ).get()
        #expect(
            intent.threadMessageIDs == [
                "earlier@harbourview.example", "reply1@client.example", "case-opener@harbourview.example", "older@harbourview.example",
            ])
    }

    @Test func dropsEveryoneWhoIsNotAContact() {
        let message = Self.message(
            from: "bob@harbourview.example",
            to: "Jane <jane@client.example>, tok@dropbox.localhost, sarah@partner-office.example",
            cc: "ops@eu.harbourview.example, noreply@shop.example, x@spam.example, bob.carter@gmail.com, Max <max@gmail.com>",
            body: "Also ask tom@client.example, not MAILER-DAEMON@mx.client.example or postmaster+x@client.example.",
            extraCc: "IMCEAEX-_O=EXCHANGELABS_OU=EXCHANGE+20ADMINISTRATIVE+20GROUP_CN=RECIPIENTS_CN=abc123-jane@namprd04.prod.outlook.com"
        )
        let contacts = FilingRules.contacts(in: message, user: Self.user, organisation: Self.organisation())
        #expect(contacts.map(\.address) == ["jane@client.example", "max@gmail.com", "tom@client.example"])
        #expect(contacts.map(\.companyDomain) == ["client.example", nil, "client.example"])
        #expect(contacts.map(\.contactName) == ["Jane", "Max", "Tom"])
        var noCompanies = OrganisationSettings()
        noCompanies.companyFromDomain = false
        #expect(
            FilingRules.contacts(in: message, user: Self.user, organisation: Self.organisation(settings: noCompanies)).allSatisfy {
                $0.companyDomain == nil
            })
    }
}
