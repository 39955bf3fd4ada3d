/// IDNA: `xn--` labels of a domain decoded to Unicode with a Punycode decoder.
/// - SeeAlso: RFC 3492 §6.2 (decoding procedure), RFC 5891 §5 (A-labels to U-labels).
public enum IDNA {
    /// The domain with every valid `xn--` label decoded; invalid labels stay as written. Full-width
    /// forms are their ASCII letters and the ideographic full stops (`。`, `．`, `｡`) dots, as UTS #46
    /// maps them: `ｅｘａｍｐｌｅ.jp` and `例子。广告` are `example.jp` and `例子.广告`.
    public static func toUnicode(_ domain: String) -> String {
        var domain = domain
        if domain.utf8.contains(where: { $0 >= 0x80 }) {
            var scalars = String.UnicodeScalarView()
            for scalar in domain.unicodeScalars {
                switch scalar.value {
                case 0x3002, 0xFF0E, 0xFF61: scalars.append(".")
                case 0xFF01...0xFF5E:
                    scalars.append(Unicode.Scalar(scalar.value - 0xFEE0).map { Unicode.Scalar(ASCII.lower(UInt8($0.value))) } ?? scalar)
                default: scalars.append(scalar)
                }
            }
            domain = String(scalars)
        }
        guard domain.utf8.count >= 4, domain.lowercased().containsBytes("xn--") else { return domain }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        return labels.map { label -> String in
            let lower = label.lowercased()
            guard lower.hasPrefix("xn--"), let u = Punycode.decode(lower.dropFirst(4)) else { return String(label) }
            return u
        }.joined(separator: ".")
    }
}

/// Punycode (Bootstring with the IDNA parameters).
/// - SeeAlso: RFC 3492 §5 (parameters), §6.1 (bias adaptation), §6.2 (decoding).
enum Punycode {
    static let base = 36, tMin = 1, tMax = 26, skew = 38, damp = 700, initialBias = 72, initialN = 128

    static func adapt(_ delta: Int, _ numPoints: Int, _ first: Bool) -> Int {
        var d = first ? delta / damp : delta / 2
        d += d / numPoints
        var k = 0
        while d > ((base - tMin) * tMax) / 2 {
            d /= base - tMin
            k += base
        }
        return k + (base - tMin + 1) * d / (d + skew)
    }

    static func digit(_ c: UInt8) -> Int? {
        switch c {
        case 0x30...0x39: return Int(c) - 22
        case 0x41...0x5A: return Int(c) - 0x41
        case 0x61...0x7A: return Int(c) - 0x61
        default: return nil
        }
    }

    /// Decodes the part after `xn--`; `nil` when invalid.
    static func decode(_ input: Substring) -> String? {
        let bytes = Array(input.utf8)
        guard bytes.count <= 252 else { return nil }
        var output: [UInt32] = []
        var b = 0
        if let lastDash = bytes.lastIndex(of: UInt8(ascii: "-")) {
            for c in bytes[..<lastDash] {
                guard c < 0x80 else { return nil }
                output.append(UInt32(c))
            }
            b = lastDash + 1
        }
        var n = initialN, i = 0, bias = initialBias
        var pos = b
        while pos < bytes.count {
            let oldI = i
            var w = 1
            var k = base
            while true {
                guard pos < bytes.count, let d = digit(bytes[pos]) else { return nil }
                pos += 1
                let (mul, o1) = d.multipliedReportingOverflow(by: w)
                let (sum, o2) = i.addingReportingOverflow(mul)
                guard !o1, !o2, sum < 0x10FFFF * 64 else { return nil }
                i = sum
                let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
                if d < t { break }
                let (nw, o3) = w.multipliedReportingOverflow(by: base - t)
                guard !o3 else { return nil }
                w = nw
                k += base
            }
            bias = adapt(i - oldI, output.count + 1, oldI == 0)
            n += i / (output.count + 1)
            i %= (output.count + 1)
            guard n <= 0x10FFFF else { return nil }
            output.insert(UInt32(n), at: i)
            i += 1
        }
        var s = String.UnicodeScalarView()
        for v in output {
            guard let sc = Unicode.Scalar(v) else { return nil }
            s.append(sc)
        }
        return String(s)
    }
}
