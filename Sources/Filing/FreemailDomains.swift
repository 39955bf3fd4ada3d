/// Mail providers whose domains belong to no company: a contact at one of them is never linked to a
/// company made from the domain. Extendable per organisation (`freemail_domains_extra`).
public enum FreemailDomains {
    /// Provider families registered under many country domains (`hotmail.*`, `yahoo.*`): the first
    /// label of the domain.
    static let families: Set<String> = [
        "hotmail", "yahoo", "gmx", "yandex", "live", "outlook", "msn", "aol", "web", "libero", "orange",
        "wanadoo", "virgilio", "seznam", "rambler", "ymail", "rocketmail", "btinternet", "t-online",
    ]

    /// Single domains.
    static let domains: Set<String> = [
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "passport.com",
        "yahoo.com", "ymail.com", "rocketmail.com", "aol.com", "aim.com", "icloud.com", "me.com", "mac.com",
        "privaterelay.appleid.com",  // Hide My Email: a relay to an Apple account
        // Relays that hide a person's own address: DuckDuckGo, Proton Pass, Firefox Relay,
        // SimpleLogin, addy.io.
        "duck.com", "passmail.net", "passmail.com", "passinbox.com", "mozmail.com", "simplelogin.com", "simplelogin.fr",
        "aleeas.com", "slmail.me", "anonaddy.me", "anonaddy.com", "addy.io",
        "zohomail.in", "zohomail.eu", "zohomail.com.au", "tom.com", "21cn.com", "i.softbank.jp", "au.com", "bigpond.net.au",
        "telus.net", "videotron.ca", "tiscali.co.uk", "virgin.net", "xs4all.nl", "mail.ch",
        "gmx.com", "gmx.net", "gmx.de", "gmx.at", "gmx.ch", "web.de", "freenet.de", "t-online.de", "arcor.de",
        "posteo.de", "posteo.net", "mailbox.org", "mail.de", "email.de", "online.de", "vodafone.de",
        "mail.ru", "inbox.ru", "list.ru", "bk.ru", "internet.ru", "yandex.ru", "yandex.com", "ya.ru", "rambler.ru",
        "qq.com", "foxmail.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn", "sina.com.cn", "sohu.com", "aliyun.com",
        "139.com", "189.cn", "naver.com", "hanmail.net", "daum.net", "nate.com", "kakao.com",
        "proton.me", "protonmail.com", "protonmail.ch", "pm.me", "tutanota.com", "tutanota.de", "tuta.io",
        "tutamail.com", "fastmail.com", "fastmail.fm", "hey.com", "zoho.com", "zohomail.com", "hushmail.com",
        "mail.com", "email.com", "usa.com", "post.com", "inbox.com", "lycos.com", "excite.com", "rediffmail.com",
        "laposte.net", "orange.fr", "wanadoo.fr", "free.fr", "sfr.fr", "neuf.fr", "bbox.fr", "club-internet.fr",
        "libero.it", "virgilio.it", "tiscali.it", "alice.it", "tin.it", "email.it",
        "seznam.cz", "centrum.cz", "email.cz", "post.cz", "wp.pl", "o2.pl", "onet.pl", "interia.pl", "op.pl",
        "tlen.pl", "gazeta.pl", "freemail.hu", "citromail.hu", "abv.bg", "ukr.net", "i.ua", "meta.ua",
        "btinternet.com", "btopenworld.com", "sky.com", "talktalk.net", "virginmedia.com", "ntlworld.com", "blueyonder.co.uk",
        "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "bellsouth.net", "cox.net", "charter.net",
        "earthlink.net", "optonline.net", "juno.com", "netzero.net", "shaw.ca", "rogers.com", "sympatico.ca",
        "bigpond.com", "optusnet.com.au", "xtra.co.nz", "uol.com.br", "bol.com.br", "terra.com.br", "ig.com.br",
        "telenet.be", "skynet.be", "ziggo.nl", "kpnmail.nl", "planet.nl", "home.nl", "bluewin.ch", "sunrise.ch",
        "telia.com", "online.no", "bredband.net", "kolumbus.fi", "luukku.com", "sapo.pt", "hotmail.es",
        "terra.es", "telefonica.net", "yahoo.co.jp", "docomo.ne.jp", "ezweb.ne.jp", "softbank.ne.jp", "nifty.com",
        "rediff.com", "sify.com", "mail.bg", "inbox.lv", "inbox.lt", "mail.ee", "walla.co.il", "gmail.co.il",
    ]

    /// Whether `domain` is a free-mail provider's, by the built-in list or `extra`: the domain or
    /// one of its parents above the public suffix (`vip.qq.com`, `mail.yahoo.co.uk`).
    public static func contains(_ domain: String, extra: Set<String> = []) -> Bool {
        let labels = domain.lowercased().split(separator: ".")
        var first = 0
        while labels.count - first > DomainSuffix.length(labels) {
            let candidate = labels[first...]
            let name = candidate.joined(separator: ".")
            // A family is judged on the registrable domain only: `web.ibm.com` is no family's.
            let isRegistrable = candidate.count == DomainSuffix.length(labels) + 1
            if domains.contains(name) || extra.contains(name) || (isRegistrable && isFamily(candidate)) { return true }
            first += 1
        }
        return false
    }

    /// Whether `labels` name a family's domain. A family matches under a country or generic
    /// suffix only: `hotmail.co.uk`, `yahoo.fr`, never `web.acme.com`.
    static func isFamily(_ labels: ArraySlice<Substring>) -> Bool {
        guard labels.count >= 2, labels.count <= 3, let name = labels.first, families.contains(String(name)) else { return false }
        return labels.dropFirst().allSatisfy { $0.count <= 3 }
    }

    /// How many providers the built-in list names.
    public static var count: Int { domains.count + families.count }
}
