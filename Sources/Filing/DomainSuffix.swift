/// The labels names are registered beneath at the end of a domain: the top-level domain, and the
/// second-level labels that registries of country codes sell names under (`co.uk`, `or.jp`,
/// `gv.at`). A small stand-in for the Public Suffix List, enough to name a company after its
/// domain and to tell a provider's subdomains from the suffix it is registered under.
/// - SeeAlso: RFC 1591 §2 (country code top-level domains), https://publicsuffix.org.
enum DomainSuffix {
    /// Second-level labels under any top-level domain (`acme.com.au`, `acme.co.com`).
    static let generic: Set<String> = ["co", "com", "org", "net", "ac", "gov", "edu"]

    /// Second-level labels under a two-letter country code only (`ltd.uk`, `or.jp`, `gv.at`,
    /// `gouv.fr`, `gob.es`, `govt.nz`, `nhs.uk`, `ne.jp`, `go.kr`, `info.pl`): elsewhere they are
    /// names (`or.example`).
    static let country: Set<String> = [
        "ltd", "plc", "or", "ne", "go", "gv", "gob", "gouv", "govt", "mil", "nhs", "sch", "nom", "lg", "ed", "gr", "info",
        "biz", "firm", "gen", "ind", "res",
    ]

    /// Second-level labels of one country code's registry (from the Public Suffix List): Korea's
    /// research and school labels, the United Kingdom's police, Japan's prefectures.
    static let ofCountry: [String: Set<String>] = [
        "kr": ["re", "pe", "hs", "ms", "es", "kg", "sc"],
        "uk": ["police"],
        "jp": [
            "aichi", "akita", "aomori", "chiba", "ehime", "fukui", "fukuoka", "fukushima", "gifu", "gunma", "hiroshima",
            "hokkaido", "hyogo", "ibaraki", "ishikawa", "iwate", "kagawa", "kagoshima", "kanagawa", "kochi", "kumamoto",
            "kyoto", "mie", "miyagi", "miyazaki", "nagano", "nagasaki", "nara", "niigata", "oita", "okayama", "okinawa",
            "osaka", "saga", "saitama", "shiga", "shimane", "shizuoka", "tochigi", "tokushima", "tokyo", "tottori",
            "toyama", "wakayama", "yamagata", "yamaguchi", "yamanashi",
        ],
    ]

    /// Whether `label`, right under the top-level domain `tld`, is one that names are registered
    /// beneath.
    static func isSecondLevel(_ label: some StringProtocol, under tld: some StringProtocol) -> Bool {
        let label = label.lowercased()
        if generic.contains(label) { return true }
        guard tld.count == 2 && tld.allSatisfy({ $0.isASCII && $0.isLetter }) else { return false }
        return country.contains(label) || ofCountry[tld.lowercased()]?.contains(label) == true
    }

    /// Domains under which each name is another organisation's, as under a public suffix: the
    /// tenant domains of Microsoft 365 (`acme.onmicrosoft.com`).
    static let platforms: Set<String> = ["onmicrosoft.com", "mail.onmicrosoft.com"]

    /// The domain a company's addresses share: the suffix and one label more (`mail.acme.co.uk`
    /// → `acme.co.uk`, `uk.globex.com` → `globex.com`), where that is known to be a registered
    /// name: under a generic top-level domain, or under a country code's known second-level label.
    /// Under a country code whose second level this list does not know, the domain stays whole
    /// (`met.police.uk` and `gmp.police.uk` are not one company, nor `kist.re.kr` and
    /// `kaeri.re.kr`); so do address literals and tenants of a platform (`acme.onmicrosoft.com`).
    static func registrableDomain(_ domain: String) -> String {
        let whole = domain.lowercased()
        guard !whole.hasPrefix("[") else { return whole }
        let labels = whole.split(separator: ".")
        guard let tld = labels.last else { return whole }
        if let platform = platform(of: labels) {
            let count = platform.split(separator: ".").count
            return labels.suffix(count + 1).joined(separator: ".")
        }
        let suffix = length(labels)
        let isCountry = tld.count == 2 && tld.allSatisfy { $0.isASCII && $0.isLetter }
        // `acme.de`, `mail.acme.de`: whether `acme` is a name or a suffix such as `police.uk`
        // cannot be told without the Public Suffix List; the domain stays as it is.
        if isCountry && suffix == 1 && labels.count > 2 { return whole }
        return labels.count > suffix + 1 ? labels.suffix(suffix + 1).joined(separator: ".") : whole
    }

    /// The platform whose tenant `labels` names (`acme.onmicrosoft.com` → `onmicrosoft.com`).
    static func platform(of labels: [Substring]) -> String? {
        platforms.filter { platform in
            let count = platform.split(separator: ".").count
            return labels.count > count && labels.suffix(count).joined(separator: ".") == platform
        }.max { $0.count < $1.count }
    }

    /// How many labels at the end of `labels` are the suffix: the top-level domain, and the
    /// second-level label under it when there is one.
    static func length(_ labels: [Substring]) -> Int {
        guard labels.count >= 2 else { return labels.count }
        return isSecondLevel(labels[labels.count - 2], under: labels[labels.count - 1]) ? 2 : 1
    }
}
