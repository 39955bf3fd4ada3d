/// `format=flowed` text: soft line breaks (a trailing space) joined back into paragraphs.
/// - SeeAlso: RFC 3676 §4.1 (flowed lines), §4.2 (space-stuffing), §4.3 (signature separator),
///   §4.5 (quote depth), §4.6 (`DelSp`).
enum Flowed {
    /// Unflows `text` (LF or CRLF line breaks). Quoted lines keep their depth as `>` marks.
    static func decode(_ text: String, delSp: Bool) -> String {
        let lines = TextLines(text)
        var out: [UInt8] = []
        out.reserveCapacity(lines.bytes.count)
        var open = false  // the previous line was flowed and this one continues it
        var openDepth = 0
        let endsWithBreak = lines.bytes.last == ASCII.lf
        let count = endsWithBreak ? lines.count - 1 : lines.count
        for i in 0..<count {
            let r = lines.ranges[i]
            var s = r.lowerBound
            var depth = 0
            while s < r.upperBound, lines.bytes[s] == UInt8(ascii: ">") { depth += 1; s += 1 }
            if s < r.upperBound, lines.bytes[s] == ASCII.space { s += 1 }  // stuffing or quote space
            let content = lines.bytes[s..<r.upperBound]
            let isSignature = content.elementsEqual("-- ".utf8)
            if open && depth != openDepth {
                out.append(ASCII.lf)  // a flowed line followed by another depth ends there (§4.5)
                open = false
            }
            if !open {
                if i > 0 && !out.isEmpty && out.last != ASCII.lf { out.append(ASCII.lf) }
                if depth > 0 {
                    out.append(contentsOf: repeatElement(UInt8(ascii: ">"), count: depth))
                    out.append(ASCII.space)
                }
            }
            let flowed = !isSignature && content.last == ASCII.space
            if flowed {
                out.append(contentsOf: delSp ? content.dropLast() : content)
                open = true
                openDepth = depth
            } else {
                out.append(contentsOf: content)
                out.append(ASCII.lf)
                open = false
            }
        }
        if endsWithBreak, out.last != ASCII.lf { out.append(ASCII.lf) }
        if !endsWithBreak, out.last == ASCII.lf { out.removeLast() }
        return String(decoding: out, as: UTF8.self)
    }
}
