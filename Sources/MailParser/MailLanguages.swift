/// The words mail clients write around forwarded and quoted mail, per language: one row per
/// language, so adding a language is adding data, not code.
///
/// Separators are compared after stripping dashes, underscores, `=`, `*`, colons and spaces and
/// lower-casing (so `---------- Forwarded message ---------`, `-----Original Message-----` and
/// `Begin forwarded message:` reduce to their phrase). Labels are compared lower-cased.
struct MailLanguage: Sendable {
    var code: String
    /// Phrases that always introduce a forwarded message.
    var forwardSeparators: [String]
    /// Phrases that introduce an earlier message, either forwarded or replied to (Outlook).
    var originalSeparators: [String]
    var from: [String]
    var to: [String]
    var cc: [String]
    var date: [String]
    var subject: [String]
    /// Phrases that end a forwarded message ("End of forwarded message").
    var endSeparators: [String] = []
    /// Words that start a reply attribution line ("On", "Le", "Am"…); may be empty.
    var replyIntros: [String]
    /// Words in a reply attribution line ("wrote", "a écrit"…).
    var replyVerbs: [String]
    /// Subject prefixes of forwards ("Fwd", "WG"…), lower-cased, without the colon.
    var forwardPrefixes: [String]
    /// Subject prefixes of replies, lower-cased, without the colon.
    var replyPrefixes: [String]
    /// First words of mobile and webmail signatures ("sent from my").
    var signatureStarts: [String]
}

enum MailLanguages {
    static let all: [MailLanguage] = [
        MailLanguage(
            code: "en",
            forwardSeparators: [
                "forwarded message", "begin forwarded message", "forwarded message follows", "forwarded e-mail", "forwarded email",
                "forwarded mail",
            ],
            originalSeparators: ["original message", "original e-mail", "original email"],
            from: ["from"], to: ["to"], cc: ["cc", "copy"], date: ["date", "sent", "sent on", "sent at"], subject: ["subject"],
            endSeparators: ["end of forwarded message", "end forwarded message", "end of original message"],
            replyIntros: ["on"], replyVerbs: ["wrote"],
            forwardPrefixes: ["fw", "fwd"], replyPrefixes: ["re"],
            signatureStarts: [
                "sent from my", "sent from mail for windows", "sent from outlook", "get outlook for", "sent from yahoo mail",
                "sent from proton mail", "sent with proton mail", "sent from zoho mail", "sent via", "sent from samsung",
                "sent from my android",
            ]),
        MailLanguage(
            code: "fr",
            forwardSeparators: [
                "message transféré", "message transfere", "début du message réexpédié", "début du message transféré", "message réexpédié",
                "courriel transféré",
            ],
            originalSeparators: ["message d'origine", "message d’origine", "message original", "e-mail d'origine"],
            from: ["de", "expéditeur"], to: ["à", "a", "destinataire"], cc: ["cc", "cci", "copie"], date: ["date", "envoyé", "envoyé le"],
            subject: ["objet", "sujet"],
            endSeparators: ["fin du message transféré", "fin du message réexpédié"],
            replyIntros: ["le"], replyVerbs: ["a écrit"],
            forwardPrefixes: ["tr", "trans", "fwd", "fw"], replyPrefixes: ["re", "réf", "rép"],
            signatureStarts: [
                "obtenir outlook pour", "envoyé de mon", "envoyé depuis mon", "envoyé à partir de", "télécharger outlook pour",
            ]),
        MailLanguage(
            code: "de",
            forwardSeparators: [
                "weitergeleitete nachricht", "anfang der weitergeleiteten nachricht", "anfang der weitergeleiteten e-mail",
                "weitergeleitete e-mail", "weitergeleitete mail",
            ],
            originalSeparators: ["ursprüngliche nachricht", "originalnachricht", "ursprüngliche e-mail", "original-nachricht"],
            from: ["von", "absender"], to: ["an", "empfänger"], cc: ["cc", "kopie"], date: ["datum", "gesendet", "gesendet am"],
            subject: ["betreff"],
            endSeparators: ["ende der weitergeleiteten nachricht"],
            replyIntros: ["am"], replyVerbs: ["schrieb", "hat geschrieben"],
            forwardPrefixes: ["wg", "wtr", "weitergeleitet", "fwd", "fw"], replyPrefixes: ["aw", "antw", "antwort"],
            signatureStarts: [
                "outlook für ios herunterladen", "outlook für android herunterladen", "von meinem", "gesendet von meinem", "gesendet mit",
                "outlook für",
            ]),
        MailLanguage(
            code: "es",
            forwardSeparators: ["mensaje reenviado", "inicio del mensaje reenviado", "comienzo del mensaje reenviado", "correo reenviado"],
            originalSeparators: ["mensaje original", "mensaje de origen"],
            from: ["de", "remitente"], to: ["para", "a"], cc: ["cc", "copia"], date: ["fecha", "enviado", "enviado el"],
            subject: ["asunto"],
            endSeparators: ["fin del mensaje reenviado"],
            replyIntros: ["el"], replyVerbs: ["escribió"],
            forwardPrefixes: ["rv", "reenv", "fwd", "fw"], replyPrefixes: ["re", "resp"],
            signatureStarts: ["obtener outlook para", "enviado desde mi", "enviado desde"]),
        MailLanguage(
            code: "it",
            forwardSeparators: ["messaggio inoltrato", "inizio messaggio inoltrato", "messaggio inoltrato da"],
            originalSeparators: ["messaggio originale"],
            from: ["da", "mittente"], to: ["a", "destinatario"], cc: ["cc", "copia"], date: ["data", "inviato", "inviato il"],
            subject: ["oggetto"],
            replyIntros: ["il"], replyVerbs: ["ha scritto"],
            forwardPrefixes: ["i", "inoltro", "fwd", "fw"], replyPrefixes: ["r", "ris", "re"],
            signatureStarts: ["scarica outlook per", "ottieni outlook per", "inviato da", "inviato dal mio"]),
        MailLanguage(
            code: "pt",
            forwardSeparators: [
                "mensagem encaminhada", "início da mensagem reencaminhada", "mensagem reencaminhada", "início da mensagem encaminhada",
                "e-mail encaminhado",
            ],
            originalSeparators: ["mensagem original"],
            from: ["de", "remetente"], to: ["para"], cc: ["cc", "cópia"], date: ["data", "enviado", "enviada em", "enviado em"],
            subject: ["assunto"],
            replyIntros: ["em", "no dia"], replyVerbs: ["escreveu"],
            forwardPrefixes: ["enc", "encaminhar", "fwd", "fw", "reenc"], replyPrefixes: ["re", "res", "resp"],
            signatureStarts: ["obter o outlook para", "baixe o outlook para", "enviado do meu", "enviado do", "enviado a partir do"]),
        MailLanguage(
            code: "nl",
            forwardSeparators: ["doorgestuurd bericht", "begin doorgestuurd bericht", "doorgestuurde e-mail"],
            originalSeparators: ["oorspronkelijk bericht", "origineel bericht"],
            from: ["van", "afzender"], to: ["aan"], cc: ["cc", "kopie"], date: ["datum", "verzonden", "verstuurd"], subject: ["onderwerp"],
            replyIntros: ["op"], replyVerbs: ["schreef", "het volgende geschreven"],
            forwardPrefixes: ["doorst", "fwd", "fw"], replyPrefixes: ["antw", "re"],
            signatureStarts: [
                "outlook voor ios downloaden", "download outlook voor", "verzonden vanaf mijn", "verstuurd vanaf mijn", "verzonden met",
            ]),
        MailLanguage(
            code: "pl",
            forwardSeparators: [
                "przekazana wiadomość", "wiadomość przekazana dalej", "początek przekazywanej wiadomości", "przekazana dalej wiadomość",
            ],
            originalSeparators: ["oryginalna wiadomość", "wiadomość oryginalna"],
            from: ["od", "nadawca"], to: ["do", "adresat"], cc: ["dw", "kopia", "cc"], date: ["data", "wysłano", "wysłane"],
            subject: ["temat"],
            replyIntros: ["w dniu", "dnia"], replyVerbs: ["napisał", "napisała", "napisał(a)", "pisze"],
            forwardPrefixes: ["pd", "fwd", "fw"], replyPrefixes: ["odp", "re"],
            signatureStarts: ["wysłane z mojego", "wysłane z"]),
        MailLanguage(
            code: "sv",
            forwardSeparators: [
                "vidarebefordrat meddelande", "vidarebefordrat brev", "början på vidarebefordrat brev", "vidarebefordrat mejl",
            ],
            originalSeparators: ["ursprungligt meddelande", "originalmeddelande"],
            from: ["från", "avsändare"], to: ["till", "mottagare"], cc: ["kopia", "cc"], date: ["datum", "skickat", "skickades"],
            subject: ["ämne"],
            replyIntros: ["den"], replyVerbs: ["skrev"],
            forwardPrefixes: ["vb", "vs", "fwd", "fw"], replyPrefixes: ["sv", "re"],
            signatureStarts: ["skickat från min", "skickat från"]),
        MailLanguage(
            code: "da",
            forwardSeparators: ["videresendt meddelelse", "videresendt besked", "start på videresendt besked", "videresendt e-mail"],
            originalSeparators: ["oprindelig meddelelse", "original meddelelse"],
            from: ["fra", "afsender"], to: ["til", "modtager"], cc: ["cc", "kopi"], date: ["dato", "sendt"], subject: ["emne"],
            replyIntros: ["den"], replyVerbs: ["skrev"],
            forwardPrefixes: ["vs", "vb", "fwd", "fw"], replyPrefixes: ["sv", "re"],
            signatureStarts: ["sendt fra min", "sendt fra"]),
        MailLanguage(
            code: "nb",
            forwardSeparators: ["videresendt melding", "start på videresendt melding", "videresendt e-post"],
            originalSeparators: ["opprinnelig melding", "original melding"],
            from: ["fra"], to: ["til"], cc: ["kopi", "cc"], date: ["dato", "sendt"], subject: ["emne"],
            replyIntros: ["den"], replyVerbs: ["skrev"],
            forwardPrefixes: ["vs", "vb", "fwd", "fw"], replyPrefixes: ["sv", "re"],
            signatureStarts: ["sendt fra min", "sendt fra"]),
        MailLanguage(
            code: "fi",
            forwardSeparators: ["välitetty viesti", "välitetty viesti alkaa", "edelleenlähetetty viesti"],
            originalSeparators: ["alkuperäinen viesti"],
            from: ["lähettäjä"], to: ["vastaanottaja"], cc: ["kopio", "cc"], date: ["päivämäärä", "lähetetty", "päiväys"],
            subject: ["aihe"],
            replyIntros: [], replyVerbs: ["kirjoitti"],
            forwardPrefixes: ["vl", "vs", "fwd", "fw"], replyPrefixes: ["vs", "re"],
            signatureStarts: ["lähetetty iphonesta", "lähetetty laitteesta", "lähetetty"]),
        MailLanguage(
            code: "cs",
            forwardSeparators: ["přeposlaná zpráva", "začátek přeposlané zprávy", "přeposlaný e-mail"],
            originalSeparators: ["původní zpráva", "původní e-mail"],
            from: ["od", "odesílatel"], to: ["komu", "adresát"], cc: ["kopie", "cc"], date: ["datum", "odesláno"], subject: ["předmět"],
            replyIntros: ["dne"], replyVerbs: ["napsal", "napsala", "napsal(a)"],
            forwardPrefixes: ["fw", "fwd", "př"], replyPrefixes: ["odp", "re"],
            signatureStarts: ["odesláno z"]),
        MailLanguage(
            code: "ru",
            forwardSeparators: [
                "пересланное сообщение", "начало переадресованного сообщения", "переадресованное сообщение", "пересылаемое сообщение",
            ],
            originalSeparators: ["исходное сообщение", "оригинальное сообщение", "исходное письмо"],
            from: ["от", "отправитель"], to: ["кому", "получатель"], cc: ["копия", "cc"], date: ["дата", "отправлено"], subject: ["тема"],
            endSeparators: ["конец пересылаемого сообщения", "конец пересланного сообщения"],
            replyIntros: [], replyVerbs: ["написал", "написала", "написал(а)", "пишет"],
            forwardPrefixes: ["fwd", "fw", "пересл", "пересылка"], replyPrefixes: ["re", "ответ", "отв"],
            signatureStarts: ["отправлено с", "отправлено из"]),
        MailLanguage(
            code: "tr",
            forwardSeparators: [
                "iletilen ileti", "iletilmiş ileti", "iletilen mesaj", "yönlendirilmiş ileti", "iletilmiş mesaj", "ileti başlangıcı",
            ],
            originalSeparators: ["özgün ileti", "orijinal mesaj", "orijinal ileti", "asıl ileti"],
            from: ["kimden", "gönderen"], to: ["kime", "alıcı"], cc: ["bilgi", "cc"], date: ["tarih", "gönderildi", "gönderilme tarihi"],
            subject: ["konu"],
            replyIntros: [], replyVerbs: ["yazdı", "şunu yazdı"],
            forwardPrefixes: ["ilt", "i̇lt", "fwd", "fw"], replyPrefixes: ["ynt", "yan", "re"],
            signatureStarts: ["iphone'umdan gönderildi", "gönderen:"]),
        MailLanguage(
            code: "ja",
            forwardSeparators: ["転送されたメッセージ", "転送メッセージ", "転送されたメッセージの始まり", "転送メール"],
            originalSeparators: ["元のメッセージ", "オリジナルメッセージ", "元のメール"],
            from: ["差出人", "送信者", "送信元"], to: ["宛先", "送信先", "受信者"], cc: ["cc"], date: ["日付", "送信日時", "送信日"], subject: ["件名"],
            replyIntros: [], replyVerbs: ["書きました", "のメッセージ", "wrote"],
            forwardPrefixes: ["fw", "fwd", "転送"], replyPrefixes: ["re", "返信"],
            signatureStarts: ["iphoneから送信", "送信元"]),
        MailLanguage(
            code: "zh",
            forwardSeparators: ["转发的邮件", "已转发邮件", "转发邮件", "轉寄郵件", "已轉寄郵件", "转发邮件信息", "以下为转发的邮件", "轉寄的郵件"],
            originalSeparators: ["原始邮件", "原始郵件", "原邮件"],
            from: ["发件人", "寄件者", "寄件人", "發件人"], to: ["收件人", "收件者"], cc: ["抄送", "副本", "抄送人"],
            date: ["日期", "发送时间", "時間", "时间", "發送時間", "寄件日期"],
            subject: ["主题", "主旨", "主題"],
            replyIntros: ["在", "於"], replyVerbs: ["写道", "寫道"],
            forwardPrefixes: ["fw", "fwd", "转发", "轉寄", "转", "轉發"], replyPrefixes: ["re", "回复", "答复", "回覆", "答覆"],
            signatureStarts: ["发自我的", "從我的", "发自"]),
        MailLanguage(
            code: "ko",
            forwardSeparators: ["전달된 메일", "전달된 메시지", "전달 메시지"],
            originalSeparators: ["원본 메시지", "원본 메일"],
            from: ["보낸 사람", "보낸사람"], to: ["받는 사람", "받는사람"], cc: ["참조"], date: ["보낸 날짜", "날짜"], subject: ["제목"],
            replyIntros: [], replyVerbs: ["님이 작성"],
            forwardPrefixes: ["fw", "fwd", "전달"], replyPrefixes: ["re", "회신", "답장"],
            signatureStarts: ["내 iphone에서 보냄"]),
        MailLanguage(
            code: "el",
            forwardSeparators: ["προωθημένο μήνυμα", "προωθημένο email"],
            originalSeparators: ["αρχικό μήνυμα"],
            from: ["από"], to: ["προς"], cc: ["κοιν.", "κοιν"], date: ["στάλθηκε", "ημερομηνία"], subject: ["θέμα"],
            replyIntros: ["στις"], replyVerbs: ["έγραψε"],
            forwardPrefixes: ["fw", "fwd", "πρθ", "προώθ"], replyPrefixes: ["re", "απ", "σχετ"],
            signatureStarts: ["στάλθηκε από"]),
        MailLanguage(
            code: "he",
            forwardSeparators: ["הודעה שהועברה", "הודעה מועברת"],
            originalSeparators: ["הודעה מקורית"],
            from: ["מאת"], to: ["אל"], cc: ["עותק"], date: ["נשלח", "תאריך"], subject: ["נושא"],
            replyIntros: [], replyVerbs: ["כתב", "כתבה", "כתב/ה"],
            forwardPrefixes: ["fw", "fwd", "הועבר"], replyPrefixes: ["re", "השב"],
            signatureStarts: ["נשלח מה"]),
        MailLanguage(
            code: "ar",
            forwardSeparators: ["الرسالة المعاد توجيهها", "رسالة معاد توجيهها"],
            originalSeparators: ["الرسالة الأصلية"],
            from: ["من"], to: ["إلى"], cc: ["نسخة"], date: ["تم الإرسال", "التاريخ", "تاريخ الإرسال"], subject: ["الموضوع"],
            replyIntros: [], replyVerbs: ["كتب"],
            forwardPrefixes: ["fw", "fwd", "إعادة توجيه"], replyPrefixes: ["re", "رد"],
            signatureStarts: ["أرسلت من"]),
    ]

    enum Field: Sendable { case from, to, cc, date, subject }

    enum SeparatorKind: Sendable { case forward, original, end }

    static let separators: [String: SeparatorKind] = {
        var d: [String: SeparatorKind] = [:]
        for l in all {
            for s in l.originalSeparators { d[s] = .original }
            for s in l.forwardSeparators { d[s] = .forward }
            for s in l.endSeparators { d[s] = .end }
        }
        return d
    }()

    /// Labels are matched per field; a label shared by languages ("de", "a") maps to one field.
    static let labels: [String: Field] = {
        var d: [String: Field] = [:]
        for l in all {
            for s in l.subject { d[s] = .subject }
            for s in l.date where d[s] == nil { d[s] = .date }
            for s in l.cc where d[s] == nil { d[s] = .cc }
            for s in l.to where d[s] == nil { d[s] = .to }
            for s in l.from where d[s] == nil { d[s] = .from }
        }
        d["de"] = .from  // French, Spanish, Portuguese "De:"
        d["a"] = .to  // French "A:", Italian / Spanish "A:"
        d["bcc"] = .cc
        d["cci"] = .cc
        return d
    }()

    /// Labels of header-block rows that name no one and are skipped (Thunderbird's Reply-To,
    /// Outlook's Importance and Attachments), lower-cased as ``labels``.
    static let ignoredLabels: Set<String> = [
        "reply-to", "reply to", "antwort an", "répondre à", "responder a", "responder para", "rispondi a", "antwoord aan",
        "svara till", "svar til", "odpowiedź do", "importance", "wichtigkeit", "priorität", "priorité", "importancia",
        "importanza", "prioriteit", "priority", "attachments", "attachment", "anlagen", "anhänge", "pièces jointes",
        "adjuntos", "datos adjuntos", "allegati", "anexos", "bijlagen",
    ]

    /// The languages whose clients use each label.
    static let labelLanguages: [String: Set<String>] = {
        var d: [String: Set<String>] = [:]
        for l in all {
            for s in l.from + l.to + l.cc + l.date + l.subject { d[s, default: []].insert(l.code) }
        }
        return d
    }()

    static let byCode: [String: MailLanguage] = Dictionary(uniqueKeysWithValues: all.map { ($0.code, $0) })

    static let forwardPrefixes: Set<String> = Set(all.flatMap(\.forwardPrefixes))
    static let replyPrefixes: Set<String> = Set(all.flatMap(\.replyPrefixes))
    static let replyVerbs: [String] = Array(Set(all.flatMap(\.replyVerbs)))
    static let replyIntros: [String] = Array(Set(all.flatMap(\.replyIntros)))
    static let signatureStarts: [String] = Array(Set(all.flatMap(\.signatureStarts)))
}
