import Testing
@testable import MailParser

func textMessage(subject: String, body: String, from: String = "Forwarder <me@mycorp.example>") -> MailMessage {
    MailMessage.parse(
        eml("From: \(from)\nTo: dropbox@intake.example\nSubject: \(subject)\nContent-Type: text/plain; charset=utf-8\n\n\(body)"))
}

@Suite("Forwarded originals")
struct ForwardTests {
    /// One row per client / language: the forward block as that client writes it.
    static let blocks: [(String, String, String)] = [
        (
            "gmail-en", "Fwd: Offer",
            """
            Please file this.

            ---------- Forwarded message ---------
            From: Bob Smith <bob@smith.example>
            Date: Mon, Mar 4, 2024 at 9:00 AM
            Subject: Offer
            To: Me <me@mycorp.example>
            """
        ),
        (
            "gmail-fr", "Fwd: Offre",
            """
            ---------- Message transféré ---------
            De : Bob Smith <bob@smith.example>
            Date: lun. 4 mars 2024 à 09:00
            Subject: Offer
            To: <me@mycorp.example>
            """
        ),
        (
            "outlook-de", "WG: Angebot",
            """
            Zur Info

            Von: Bob Smith <bob@smith.example>
            Gesendet: Montag, 4. März 2024 09:00
            An: Me <me@mycorp.example>
            Betreff: Offer
            """
        ),
        (
            "outlook-original-es", "RV: Oferta",
            """
            -----Mensaje original-----
            De: Bob Smith [mailto:bob@smith.example]
            Enviado el: lunes, 4 de marzo de 2024 9:00
            Para: me@mycorp.example
            Asunto: Offer
            """
        ),
        (
            "apple-it", "I: Offerta",
            """
            Inizio messaggio inoltrato:

            Da: Bob Smith <bob@smith.example>
            Oggetto: Offer
            Data: 4 marzo 2024 09:00:00 CET
            A: me@mycorp.example
            """
        ),
        (
            "thunderbird-pt", "Enc: Oferta",
            """
            -------- Mensagem encaminhada --------
            Assunto: \tOffer
            Data: \tMon, 4 Mar 2024 09:00:00 +0100
            De: \tBob Smith <bob@smith.example>
            Para: \tme@mycorp.example
            """
        ),
        (
            "outlook-nl", "Doorst: Offerte",
            """
            ________________________________
            Van: Bob Smith <bob@smith.example>
            Verzonden: maandag 4 maart 2024 09:00
            Aan: me@mycorp.example
            Onderwerp: Offer
            """
        ),
        (
            "gmail-pl", "PD: Oferta",
            """
            ---------- Przekazana wiadomość ---------
            Od: Bob Smith <bob@smith.example>
            Date: pon., 4 mar 2024 o 09:00
            Subject: Offer
            To: <me@mycorp.example>
            """
        ),
        (
            "outlook-sv", "VB: Offert",
            """
            Från: Bob Smith <bob@smith.example>
            Skickat: den 4 mars 2024 09:00
            Till: me@mycorp.example
            Ämne: Offer
            """
        ),
        (
            "outlook-da", "Fwd: Tilbud",
            """
            -----Oprindelig meddelelse-----
            Fra: Bob Smith <bob@smith.example>
            Sendt: 4. marts 2024 09:00
            Til: me@mycorp.example
            Emne: Offer
            """
        ),
        (
            "apple-nb", "Fwd: Tilbud",
            """
            Videresendt melding:

            Fra: Bob Smith <bob@smith.example>
            Emne: Offer
            Dato: 4. mars 2024 kl. 09:00:00 CET
            Til: me@mycorp.example
            """
        ),
        (
            "outlook-fi", "VL: Tarjous",
            """
            Lähettäjä: Bob Smith <bob@smith.example>
            Lähetetty: maanantai 4. maaliskuuta 2024 9.00
            Vastaanottaja: me@mycorp.example
            Aihe: Offer
            """
        ),
        (
            "thunderbird-cs", "Fwd: Nabídka",
            """
            -------- Přeposlaná zpráva --------
            Předmět: \tOffer
            Datum: \tMon, 4 Mar 2024 09:00:00 +0100
            Od: \tBob Smith <bob@smith.example>
            Komu: \tme@mycorp.example
            """
        ),
        (
            "yandex-ru", "Fwd: Предложение",
            """
            -------- Пересланное сообщение --------
            От: Bob Smith <bob@smith.example>
            Кому: me@mycorp.example
            Тема: Offer
            Дата: 04.03.2024, 09:00
            """
        ),
        (
            "outlook-tr", "İLT: Teklif",
            """
            -----Özgün İleti-----
            Kimden: Bob Smith <bob@smith.example>
            Gönderildi: 4 Mart 2024 Pazartesi 09:00
            Kime: me@mycorp.example
            Konu: Offer
            """
        ),
        (
            "outlook-ja", "FW: 見積もり",
            """
            差出人: Bob Smith <bob@smith.example>
            送信日時: 2024年3月4日 9:00
            宛先: me@mycorp.example
            件名: Offer
            """
        ),
        (
            "qq-zh", "转发: 报价",
            """
            ------------------ 原始邮件 ------------------
            发件人: "Bob Smith" <bob@smith.example>;
            发送时间: 2024年3月4日(星期一) 上午9:00
            收件人: "me" <me@mycorp.example>;
            主题: Offer
            """
        ),
        (
            "yahoo", "Fw: Offer",
            """
            ----- Forwarded Message -----
            From: Bob Smith <bob@smith.example>
            To: me@mycorp.example <me@mycorp.example>
            Sent: Monday, March 4, 2024, 09:00:00 AM GMT+1
            Subject: Offer
            """
        ),
        (
            "proton", "Fwd: Offer",
            """
            ------- Forwarded Message -------
            From: Bob Smith <bob@smith.example>
            Date: On Monday, March 4th, 2024 at 09:00
            Subject: Offer
            To: me@mycorp.example
            """
        ),
        (
            "zoho", "Fwd: Offer",
            """
            ============ Forwarded message ============
            From: Bob Smith <bob@smith.example>
            To: <me@mycorp.example>
            Date: Mon, 04 Mar 2024 09:00:00 +0100
            Subject: Offer
            ============ Forwarded message ============
            """
        ),
        (
            "outlook-ko", "전달: Offer",
            """
            -----원본 메시지-----
            보낸 사람: Bob Smith <bob@smith.example>
            보낸 날짜: 2024년 3월 4일 월요일 오후 3:41
            받는 사람: me@mycorp.example
            제목: Offer
            """
        ),
        (
            "gmail-ko", "Fwd: Offer",
            """
            ---------- 전달된 메일 ---------
            보낸사람: Bob Smith <bob@smith.example>
            Date: 2024년 3월 4일 (월) 오후 3:41
            Subject: Offer
            To: <me@mycorp.example>
            """
        ),
        (
            "outlook-el", "ΠΡΘ: Offer",
            """
            -----Αρχικό μήνυμα-----
            Από: Bob Smith <bob@smith.example>
            Στάλθηκε: Δευτέρα, 4 Μαρτίου 2024 3:41 μμ
            Προς: me@mycorp.example
            Θέμα: Offer
            """
        ),
        (
            "outlook-he", "הועבר: Offer",
            """
            -----הודעה מקורית-----
            מאת: Bob Smith <bob@smith.example>
            נשלח: יום שני 04 מרץ 2024 15:41
            אל: me@mycorp.example
            נושא: Offer
            """
        ),
        (
            "outlook-ar", "إعادة توجيه: Offer",
            """
            -----الرسالة الأصلية-----
            من: Bob Smith <bob@smith.example>
            تاريخ الإرسال: الاثنين، 4 مارس، 2024 03:41 م
            إلى: me@mycorp.example
            الموضوع: Offer
            """
        ),
        (
            "outlook-zh-tw", "轉寄: Offer",
            """
            -----原始郵件-----
            寄件者: Bob Smith <bob@smith.example>
            寄件日期: 2024年3月4日 下午 03:41
            收件者: me@mycorp.example
            主旨: Offer
            """
        ),
        (
            // A Hebrew prefix over a block in English, with no separator line.
            "outlook-en-prefix-he", "הועבר: Offer",
            """
            From: Bob Smith <bob@smith.example>
            Sent: Monday, March 4, 2024 3:41 PM
            To: me@mycorp.example
            Subject: Offer
            """
        ),
        (
            "outlook-mobile", "Fw: Offer",
            """
            Get Outlook for iOS
            ________________________________
            From: Bob Smith <bob@smith.example>
            Sent: Monday, March 4, 2024 9:00:00 AM
            To: me@mycorp.example <me@mycorp.example>
            Subject: Offer
            """
        ),
    ]

    @Test(arguments: blocks.map { $0.0 })
    func forwardBlock(name: String) {
        let (_, subject, block) = Self.blocks.first { $0.0 == name }!
        let m = textMessage(subject: subject, body: block + "\n\nOriginal body text.\n")
        #expect(m.forwarded.count == 1, "\(name)")
        guard let f = m.forwarded.first else { return }
        #expect(f.from?.address == "bob@smith.example", "\(name)")
        #expect(f.fromName == "Bob Smith", "\(name)")
        #expect(f.subject == "Offer", "\(name)")
        #expect(f.to.map(\.address) == ["me@mycorp.example"], "\(name)")
        #expect(f.date != nil, "\(name)")
        #expect(f.bodyText.contains("Original body text."), "\(name)")
        #expect(!m.newText.contains("Original body text."), "\(name)")
        #expect(m.people.contains { $0.address.address == "bob@smith.example" && $0.source == .forwardedFrom }, "\(name)")
    }

    @Test func outlookNameWithoutAddress() {
        let m = textMessage(
            subject: "FW: Budget",
            body: """
                FYI

                From: Doe, Jane
                Sent: Monday, March 4, 2024 9:00 AM
                To: Smith, Bob <bob@smith.example>; Roe, Rick
                Cc: carol@corp.example
                Subject: Budget

                Numbers attached.
                """)
        #expect(m.forwarded.count == 1)
        #expect(m.forwarded.first?.fromName == "Doe, Jane")
        #expect(m.forwarded.first?.from == nil)
        #expect(m.forwarded.first?.addressMissing == true)
        #expect(m.forwarded.first?.to.map(\.address) == ["bob@smith.example"])
        #expect(m.forwarded.first?.cc.map(\.address) == ["carol@corp.example"])
        #expect(m.newText == "FYI")
    }

    /// Thunderbird puts Reply-To between From and To; Outlook adds Importance and Attachments
    /// rows. The block goes on past them.
    @Test func rowsThatNameNoOneDoNotEndTheHeaderBlock() {
        let thunderbird = textMessage(
            subject: "Fwd: Crates",
            body: """
                See below.

                -------- Forwarded Message --------
                Subject: 	Crates
                Date: 	Mon, 4 Mar 2024 09:00:00 +0100
                From: 	Jane Fenwick <jane@fenwick.example>
                Reply-To: 	sales@fenwick.example
                To: 	Bob Carter <bob@harbourview.example>
                CC: 	Tom Reyes <tom@fenwick.example>

                Forty crates on Friday.
                """)
        #expect(thunderbird.forwarded.first?.from?.address == "jane@fenwick.example")
        #expect(thunderbird.forwarded.first?.to.map(\.address) == ["bob@harbourview.example"])
        #expect(thunderbird.forwarded.first?.cc.map(\.address) == ["tom@fenwick.example"])
        #expect(thunderbird.forwarded.first?.bodyText == "Forty crates on Friday.")
        let outlook = textMessage(
            subject: "WG: Angebot",
            body: """
                Zur Info.

                Von: Anna Berg <anna@berg.example>
                Gesendet: Montag, 4. März 2024 09:00
                Wichtigkeit: Hoch
                An: Bob Carter <bob@harbourview.example>
                Cc: Lena Vogt <lena@berg.example>
                Betreff: Angebot
                Anlagen: angebot.pdf

                Anbei das Angebot.
                """)
        #expect(outlook.forwarded.first?.from?.address == "anna@berg.example")
        #expect(outlook.forwarded.first?.cc.map(\.address) == ["lena@berg.example"])
        #expect(outlook.forwarded.first?.subject == "Angebot")
        #expect(outlook.forwarded.first?.bodyText == "Anbei das Angebot.")
    }

    /// Plain-text clients wrap a long From row before the address.
    @Test func aFromRowWrappedBeforeItsAddress() {
        let m = textMessage(
            subject: "FW: Tender",
            body: """
                FYI

                -----Original Message-----
                From: Jane Fenwick-Montgomery (Fenwick Logistics Procurement Department)
                <jane.fenwick-montgomery@fenwick.example>
                Sent: Monday, March 4, 2024 9:00 AM
                To: Bob Carter <bob@harbourview.example>
                Subject: Tender

                The tender closes on Friday.
                """)
        #expect(m.forwarded.first?.from?.address == "jane.fenwick-montgomery@fenwick.example")
        #expect(m.forwarded.first?.fromName == "Jane Fenwick-Montgomery (Fenwick Logistics Procurement Department)")
        #expect(m.forwarded.first?.addressMissing == false)
        #expect(m.forwarded.first?.to.map(\.address) == ["bob@harbourview.example"])
        // A line of text after a From without an address is not its address.
        let textAfter = textMessage(
            subject: "Fwd: Notes",
            body: """
                -------- Forwarded Message --------
                Subject: Notes
                Date: Mon, 4 Mar 2024 09:00:00 +0100
                From: Doe, Jane
                Please write to tom.reyes@fenwick.example about the crates.
                """)
        #expect(textAfter.forwarded.first?.from == nil)
        #expect(textAfter.forwarded.first?.fromName == "Doe, Jane")
    }

    @Test func forwardOfForward() {
        let m = textMessage(
            subject: "Fwd: Fwd: Offer",
            body: """
                See below.

                ---------- Forwarded message ---------
                From: Carol <carol@corp.example>
                Date: Tue, Mar 5, 2024 at 8:00 AM
                Subject: Fwd: Offer
                To: <me@mycorp.example>

                Carol's note.

                ---------- Forwarded message ---------
                From: *Bob Smith* <bob@smith.example>
                Date: Mon, Mar 4, 2024 at 9:00 AM
                Subject: Offer
                To: Carol <carol@corp.example>

                Bob's offer.
                """)
        #expect(m.forwarded.map(\.from?.address) == ["carol@corp.example", "bob@smith.example"])
        #expect(m.forwarded.map(\.fromName) == ["Carol", "Bob Smith"])
        #expect(m.forwarded[0].bodyText == "Carol's note.")
        #expect(m.forwarded[1].bodyText == "Bob's offer.")
        #expect(m.newText == "See below.")
    }

    @Test func replyBlockIsNotAForward() {
        let m = textMessage(
            subject: "RE: Budget",
            body: """
                Agreed.

                -----Original Message-----
                From: Bob Smith <bob@smith.example>
                Sent: Monday, March 4, 2024 9:00 AM
                To: me@mycorp.example
                Subject: Budget

                Can you agree?
                """)
        #expect(m.forwarded.isEmpty)
        #expect(m.newText == "Agreed.")
        #expect(m.reply.quotedText.contains("Can you agree?"))
        #expect(m.people.contains { $0.address.address == "bob@smith.example" })
    }

    @Test(arguments: ["Fwd: x", "FW: x", "WG: x", "TR: x", "RV: x", "[ext] Fwd: x", "Enc: x"])
    func forwardPrefixes(subject: String) {
        #expect(SubjectPrefixes.isForward(subject))
    }

    @Test(arguments: ["Re: x", "AW: x", "SV: x", "x", "Fwd x", "Re: Fwd: x"])
    func notForwardPrefixes(subject: String) {
        #expect(!SubjectPrefixes.isForward(subject))
    }
}

@Suite("Reply separation, signatures, references, body people")
struct ReplyTests {
    static let attributions: [String] = [
        "On Mon, Mar 4, 2024 at 9:00 AM Bob Smith <bob@smith.example> wrote:",
        "Le lun. 4 mars 2024 à 09:00, Bob Smith <bob@smith.example> a écrit :",
        "Am Mo., 4. März 2024 um 09:00 Uhr schrieb Bob Smith <bob@smith.example>:",
        "El lun, 4 mar 2024 a las 9:00, Bob Smith (<bob@smith.example>) escribió:",
        "Il giorno lun 4 mar 2024 alle ore 09:00 Bob Smith <bob@smith.example> ha scritto:",
        "Em seg., 4 de mar. de 2024 às 09:00, Bob Smith <bob@smith.example> escreveu:",
        "Op ma 4 mrt 2024 om 09:00 schreef Bob Smith <bob@smith.example>:",
        "pon., 4 mar 2024 o 09:00 Bob Smith <bob@smith.example> napisał(a):",
        "Den mån 4 mars 2024 kl 09:00 skrev Bob Smith <bob@smith.example>:",
        "man. 4. mar. 2024 kl. 09.00 skrev Bob Smith <bob@smith.example>:",
        "Bob Smith <bob@smith.example> kirjoitti ma 4.3.2024 klo 9.00:",
        "po 4. 3. 2024 v 9:00 odesílatel Bob Smith <bob@smith.example> napsal:",
        "пн, 4 мар. 2024 г. в 09:00, Bob Smith <bob@smith.example>:",
        "04.03.2024 09:00, Bob Smith пишет:",
        "Bob Smith <bob@smith.example>, 4 Mar 2024 Pzt, 09:00 tarihinde şunu yazdı:",
        "2024年3月4日(月) 9:00 Bob Smith <bob@smith.example>:",
        "2024/03/04 9:00、Bob Smith のメッセージ:",
        "Bob Smith <bob@smith.example> 于2024年3月4日周一 09:00写道：",
    ]

    @Test(arguments: attributions)
    func attribution(line: String) {
        let m = textMessage(subject: "Re: x", body: "My answer.\n\n\(line)\n> their question\n> more\n")
        #expect(m.newText == "My answer.", "\(line)")
        #expect(m.reply.attribution != nil, "\(line)")
        #expect(m.reply.quotedText.contains("their question"))
    }

    @Test func wrappedGmailAttribution() {
        let m = textMessage(
            subject: "Re: x",
            body: """
                Sounds good.

                On Mon, Mar 4, 2024 at 9:00 AM Bob Smith <
                bob@smith.example> wrote:
                > question
                """)
        #expect(m.newText == "Sounds good.")
    }

    @Test func interleavedQuotes() {
        let m = textMessage(subject: "Re: x", body: "> q1\nanswer one\n> q2\nanswer two\n")
        #expect(m.newText == "answer one\nanswer two")
        #expect(m.reply.quotedText == "> q1\n> q2")
    }

    @Test func signatures() {
        let dash = textMessage(subject: "x", body: "Hello\n\n-- \nBob\nACME Inc.\n")
        #expect(dash.newText == "Hello")
        #expect(dash.reply.signature == "-- \nBob\nACME Inc.")
        let mobile = textMessage(subject: "x", body: "Yes.\n\nSent from my iPhone\n")
        #expect(mobile.newText == "Yes.")
        #expect(mobile.reply.signature == "Sent from my iPhone")
        let de = textMessage(subject: "x", body: "Ja.\n\nVon meinem iPhone gesendet\n")
        #expect(de.newText == "Ja.")
    }

    /// Attribution lines in Hebrew, Arabic, Greek and Korean, bidirectional marks and all; and
    /// ordinary lines that hold a verb inside a longer word, which are none.
    @Test func attributionsInMoreLanguages() {
        for line in [
            "\u{200F}דוד כהן\u{200F} <david@cohen.example> כתב:", "في 4 مارس 2024، أحمد <ahmed@alnoor.example> كتب:",
            "Στις 4 Μαρτίου 2024, ο Γιώργος <g@alpha.example> έγραψε:", "2024년 3월 4일 (월) 오후 3:41, 홍길동 <h@x.example>님이 작성:",
            "On Mon, 4 Mar 2024, Jane <jane@x.example> wrote:",
        ] {
            #expect(ReplySplitter.isAttribution(line), "\(line)")
        }
        for line in [
            "في مكتبنا الجديد العنوان كالتالي:", "بخصوص المكتب رقم 12، التفاصيل:", "בהמשך למכתב ששלחתי, להלן הפרטים:",
            "Στις 5 Μαρτίου ο πελάτης περιέγραψε τα εξής:", "He rewrote 3 pages:", "Das Produkt beschrieb er am 4. März so:",
        ] {
            #expect(!ReplySplitter.isAttribution(line), "\(line)")
        }
    }

    @Test func referenceTags() {
        let m = textMessage(subject: "About #cs1001 and #CO2", body: "See #Co34322, #CS1001 again, #co2, #CSx, #CO12a, (#cs77).")
        #expect(m.referenceTags == ["CS1001", "CO2", "CO34322", "CS77"])
        #expect(ReferenceTags.find(in: ["no tags here #C1 #"]) == [])
        // Full-width forms, and scripts written without spaces: half-width katakana, Thai.
        #expect(
            ReferenceTags.find(in: ["見積書＃CS1001", "＃ＣＳ１００２について", "ｹﾝﾒｲ#CS1003ﾆﾂｲﾃ", "ใบเสนอราคา#CS1004", "abc＃CS1005", "件名#ＣＳ１００６"])
                == ["CS1001", "CS1002", "CS1003", "CS1004", "CS1006"])
    }

    @Test func bodyPeopleFiltering() {
        let m = textMessage(
            subject: "x",
            body: """
                Contact: Jane Roe <jane.roe@partner.example> or sales@partner.example.
                Logo: logo@2x.png, image001.png@01D9ABCD.12345678, cid:part1.abc@def.example
                Link: https://maps.example.com/place/user@host.example/data
                Profile https://example.com/?email=john@example.com
                Message-ID: <CAF1234567890abcdefghijkl=XYZ@mail.gmail.com>
                Broken: someone@localhost, a@b.c, x@1.2.3.4
                mailto:info@shop.example
                """)
        let addresses = Set(m.people.filter { $0.source == .body }.map(\.address.address))
        #expect(addresses == ["jane.roe@partner.example", "sales@partner.example", "info@shop.example"])
        #expect(m.people.first { $0.address.address == "jane.roe@partner.example" }?.name == "Jane Roe")
    }

    @Test func peopleSourcesAndDedup() {
        let m = MailMessage.parse(
            eml(
                """
                From: Alice <Alice@Corp.Example>
                Sender: assistant@corp.example
                Reply-To: replies@corp.example
                To: bob@x.example, "Carol" <carol@x.example>
                Cc: alice@corp.example
                Bcc: hidden@x.example
                Resent-From: resender@y.example
                Resent-To: newrcpt@y.example

                Mail ALICE@corp.example please.
                """))
        #expect(
            m.people.map(\.address.address) == [
                "Alice@corp.example", "assistant@corp.example", "replies@corp.example",
                "bob@x.example", "carol@x.example", "hidden@x.example",
                "resender@y.example", "newrcpt@y.example",
            ])
        #expect(m.people[0].sources == [.from, .cc, .body])
        #expect(m.people[6].source.rawValue == "resent-from")
    }
}
