#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Ids, times and small file operations the sessions need.
enum SMTPIdentifiers {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    /// A random lowercase base32 id of `length` characters (5 bits each, at most 12 characters):
    /// one 64-bit draw from the system generator, so one system call per id.
    static func random(length: Int) -> String {
        precondition(length <= 12, "an id takes at most 60 of the 64 random bits")
        var bits = UInt64.random(in: .min ... .max)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        for _ in 0..<length {
            bytes.append(alphabet[Int(bits & 31)])
            bits >>= 5
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A session id: 12 characters, 60 random bits.
    static func sessionID() -> String { random(length: 12) }

    /// A message id: 16 characters, 80 random bits (two draws).
    static func messageID() -> String { random(length: 8) + random(length: 8) }

    /// Seconds since 1970.
    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// The current time as an RFC 5322 §3.3 date-time in UTC: `Mon, 23 Nov 2026 12:00:00 +0000`.
    static func rfc5322Date() -> String {
        var seconds = time(nil)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(parts.tm_mday) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) +0000"
    }
}

/// File clean-up for message content kept in files.
enum MessageFiles {
    /// Closes the file's descriptor and deletes the file if it is still there.
    static func remove(_ path: String, descriptor: CInt) {
        close(descriptor)
        unlink(path)
    }
}
