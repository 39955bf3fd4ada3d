/// Parses RFC 5321 paths (`<…>`) and ESMTP parameters out of the bytes of a MAIL or RCPT argument.
///
/// Source routes (`<@relay1,@relay2:user@domain>`) are accepted and ignored (RFC 5321 §4.1.2,
/// Appendix C). UTF-8 is accepted in local parts and domains; whether it is allowed in this
/// transaction is decided by the caller (RFC 6531).
struct PathParser {
    enum Failure: Error, Equatable {
        /// The path is not `<…>`, or what follows it is not parameters.
        case syntax
        /// The mailbox inside the brackets is not a valid address.
        case address(String)
    }

    enum Parsed: Equatable {
        case null
        case postmaster
        case mailbox(Mailbox)
    }

    private let bytes: [UInt8]
    private var index: Int
    /// The longest local part taken: RFC 5321 §4.5.3.1.1's 64 octets for recipients; a sender's
    /// may be longer (SRS and VERP return paths of forwarders often are, and §4.5.3.1 asks
    /// servers to accept what they can), up to the path's own limit.
    private let maxLocalPart: Int

    init(_ bytes: some Collection<UInt8>, maxLocalPart: Int = SMTPLimits.maxLocalPartLength) {
        self.bytes = Array(bytes)
        self.index = 0
        self.maxLocalPart = maxLocalPart
    }

    /// Parses `<path>` and returns it with the index of the first byte after `>`.
    mutating func parsePath() throws(Failure) -> (Parsed, rest: ArraySlice<UInt8>) {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "<") else { throw .syntax }
        let start = index
        index += 1
        // Find the closing bracket, skipping quoted strings.
        var end = index
        var inQuotes = false
        var escaped = false
        while end < bytes.count {
            let byte = bytes[end]
            if escaped {
                escaped = false
            } else if inQuotes && byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inQuotes.toggle()
            } else if !inQuotes && byte == UInt8(ascii: ">") {
                break
            }
            end += 1
        }
        guard end < bytes.count else { throw .syntax }
        let inner = bytes[index..<end]
        let rest = bytes[(end + 1)...]
        if end + 1 - start > SMTPLimits.maxPathLength {
            throw .address("the path is longer than \(SMTPLimits.maxPathLength) octets")
        }
        if inner.isEmpty { return (.null, rest) }
        if inner.count == 10, String(decoding: inner, as: UTF8.self).lowercased() == "postmaster" {
            return (.postmaster, rest)
        }
        var mailboxBytes = inner
        if inner.first == UInt8(ascii: "@") {
            guard let colon = inner.firstIndex(of: UInt8(ascii: ":")) else {
                throw .address("a source route must end with a colon")
            }
            try Self.validateSourceRoute(inner[inner.startIndex..<colon])
            mailboxBytes = inner[(colon + 1)...]
        }
        return (.mailbox(try Self.parseMailbox(mailboxBytes, maxLocalPart: maxLocalPart)), rest)
    }

    /// Parses `Local-part "@" ( Domain / address-literal )`.
    static func parseMailbox(_ bytes: ArraySlice<UInt8>, maxLocalPart: Int = SMTPLimits.maxLocalPartLength) throws(Failure) -> Mailbox {
        var index = bytes.startIndex
        let localPart: ArraySlice<UInt8>
        let quoted: Bool
        if index < bytes.endIndex && bytes[index] == UInt8(ascii: "\"") {
            quoted = true
            index += 1
            var closed = false
            while index < bytes.endIndex {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\\") {
                    guard index + 1 < bytes.endIndex, (32...126).contains(bytes[index + 1]) else {
                        throw .address("a quoted local part has a bad backslash escape")
                    }
                    index += 2
                    continue
                }
                if byte == UInt8(ascii: "\"") {
                    closed = true
                    index += 1
                    break
                }
                guard byte == 32 || byte == 33 || (35...126).contains(byte) || byte >= 0x80 else {
                    throw .address("a quoted local part holds a control character")
                }
                index += 1
            }
            guard closed else { throw .address("a quoted local part is not closed") }
            localPart = bytes[bytes.startIndex..<index]
        } else {
            quoted = false
            while index < bytes.endIndex && bytes[index] != UInt8(ascii: "@") { index += 1 }
            localPart = bytes[bytes.startIndex..<index]
            try validateDotString(localPart)
        }
        guard index < bytes.endIndex, bytes[index] == UInt8(ascii: "@") else {
            throw .address("the address has no @domain")
        }
        guard localPart.count <= maxLocalPart else {
            throw .address("the local part is longer than \(maxLocalPart) octets")
        }
        let domain = bytes[(index + 1)...]
        let isLiteral = domain.first == UInt8(ascii: "[")
        if isLiteral {
            try validateAddressLiteral(domain)
        } else {
            try validateDomain(domain)
        }
        return Mailbox(
            localPart: String(decoding: localPart, as: UTF8.self),
            domain: String(decoding: domain, as: UTF8.self),
            isAddressLiteral: isLiteral,
            isQuoted: quoted
        )
    }

    /// `Dot-string = Atom *("." Atom)`, with UTF-8 allowed in atoms (RFC 6531 §3.3).
    static func validateDotString(_ bytes: ArraySlice<UInt8>) throws(Failure) {
        guard !bytes.isEmpty else { throw .address("the local part is empty") }
        var previousWasDot = true
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                if previousWasDot { throw .address("the local part has an empty dot-separated atom") }
                previousWasDot = true
            } else if isAtext(byte) || byte >= 0x80 {
                previousWasDot = false
            } else {
                throw .address("the local part holds a character that must be quoted")
            }
        }
        if previousWasDot { throw .address("the local part ends with a dot") }
    }

    /// `Domain = sub-domain *("." sub-domain)`, `sub-domain = Let-dig [Ldh-str]`, U-labels allowed.
    static func validateDomain(_ bytes: ArraySlice<UInt8>) throws(Failure) {
        guard !bytes.isEmpty else { throw .address("the domain is empty") }
        guard bytes.count <= SMTPLimits.maxDomainLength else {
            throw .address("the domain is longer than \(SMTPLimits.maxDomainLength) octets")
        }
        for label in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard let first = label.first, let last = label.last else {
                throw .address("the domain has an empty label")
            }
            guard label.count <= 63 || label.contains(where: { $0 >= 0x80 }) else {
                throw .address("a domain label is longer than 63 octets")
            }
            guard isLetDig(first) || first >= 0x80, isLetDig(last) || last >= 0x80 else {
                throw .address("a domain label starts or ends with a hyphen or symbol")
            }
            for byte in label where !(isLetDig(byte) || byte == UInt8(ascii: "-") || byte >= 0x80) {
                _ = byte
                throw .address("the domain holds a character that is not a letter, digit or hyphen")
            }
        }
    }

    /// `address-literal = "[" ( IPv4 / IPv6 / General-address-literal ) "]"`, checked loosely.
    static func validateAddressLiteral(_ bytes: ArraySlice<UInt8>) throws(Failure) {
        guard bytes.count >= 3, bytes.last == UInt8(ascii: "]") else {
            throw .address("an address literal must be closed with ]")
        }
        for byte in bytes.dropFirst().dropLast() where !(33...126).contains(byte) || byte == UInt8(ascii: "[") {
            _ = byte
            throw .address("an address literal holds a character it may not")
        }
    }

    /// `A-d-l = At-domain *( "," At-domain )`.
    static func validateSourceRoute(_ bytes: ArraySlice<UInt8>) throws(Failure) {
        for hop in bytes.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            guard hop.first == UInt8(ascii: "@") else { throw .address("a source route hop must start with @") }
            let domain = hop.dropFirst()
            if domain.first == UInt8(ascii: "[") {
                try validateAddressLiteral(domain)
            } else {
                try validateDomain(domain)
            }
        }
    }

    static func isLetDig(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// `atext` of RFC 5322 §3.2.3.
    static func isAtext(_ byte: UInt8) -> Bool {
        if isLetDig(byte) { return true }
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "/"),
            UInt8(ascii: "="), UInt8(ascii: "?"), UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"),
            UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
