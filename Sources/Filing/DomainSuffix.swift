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

    /// Whether `label`, right under the top-level domain `tld`, is one that names are registered
    /// beneath.
    static func isSecondLevel(_ label: some StringProtocol, under tld: some StringProtocol) -> Bool {
        let label = label.lowercased()
        if generic.contains(label) { return true }
        return country.contains(label) && tld.count == 2 && tld.allSatisfy { $0.isASCII && $0.isLetter }
    }

    /// Domains under which each name is another organisation's, as under a public suffix: the
    /// tenant domains of Microsoft 365 (`acme.onmicrosoft.com`).
    static let platforms: Set<String> = ["onmicrosoft.com", "mail.onmicrosoft.com"]

    /// The domain a name is registered as: the suffix and one label more (`mail.acme.co.uk` →
    /// `acme.co.uk`, `uk.globex.example` → `globex.example`, `acme.onmicrosoft.com` stays).
    static func registrableDomain(_ domain: String) -> String {
        let labels = domain.lowercased().split(separator: ".")
        var keep = length(labels) + 1
        for platform in platforms {
            let count = platform.split(separator: ".").count
            if labels.count > count, labels.suffix(count).joined(separator: ".") == platform { keep = max(keep, count + 1) }
        }
        return labels.count > keep ? labels.suffix(keep).joined(separator: ".") : domain.lowercased()
    }

    /// How many labels at the end of `labels` are the suffix: the top-level domain, and the
    /// second-level label under it when there is one.
    static func length(_ labels: [Substring]) -> Int {
        guard labels.count >= 2 else { return labels.count }
        return isSecondLevel(labels[labels.count - 2], under: labels[labels.count - 1]) ? 2 : 1
    }
}
