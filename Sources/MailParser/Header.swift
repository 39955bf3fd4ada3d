/// One header field, unfolded: its name, its raw value and its RFC 2047-decoded value.
/// - SeeAlso: RFC 5322 §2.2 (header fields), §2.2.3 (unfolding); RFC 2047 §6 (decoding).
public struct HeaderField: Sendable, Hashable {
    /// The field name as written (compare with ``lowercasedName``).
    public var name: String
    /// The unfolded value as it appeared (8-bit octets read as UTF-8 where they are, else as
    /// Windows-1252, until the entity's charset says otherwise), trimmed.
    public var rawValue: String
    /// The value with RFC 2047 encoded words decoded (meaningful for unstructured fields).
    public var value: String
    /// `name` lower-cased for case-insensitive lookup.
    public var lowercasedName: String
    /// The value's octets when they are 8-bit but not UTF-8: read as Windows-1252 until the
    /// entity's charset says otherwise (``Headers/readingEightBit(as:)``).
    var eightBitOctets: [UInt8]?

    public init(name: String, rawValue: String) {
        self.name = name
        self.rawValue = rawValue
        self.lowercasedName = name.lowercased()
        self.value = EncodedWords.decode(rawValue).text
    }
}

/// The header section of a message or MIME entity, in order, with case-insensitive lookup.
/// - SeeAlso: RFC 5322 §3.6 (field definitions), RFC 2045 §3 (MIME header fields).
public struct Headers: Sendable, Hashable, RandomAccessCollection {
    public var fields: [HeaderField]

    public init(_ fields: [HeaderField] = []) { self.fields = fields }

    public var startIndex: Int { fields.startIndex }
    public var endIndex: Int { fields.endIndex }
    public subscript(position: Int) -> HeaderField { fields[position] }

    /// The first field named `name` (case-insensitive).
    public func first(_ name: String) -> HeaderField? {
        let key = name.lowercased()
        return fields.first { $0.lowercasedName == key }
    }

    /// The decoded value of the first field named `name`.
    public subscript(name: String) -> String? { first(name)?.value }

    /// Every field named `name`, in order.
    public func all(_ name: String) -> [HeaderField] {
        let key = name.lowercased()
        return fields.filter { $0.lowercasedName == key }
    }

    /// Whether a field holds 8-bit octets that are not UTF-8 (read as Windows-1252 so far).
    var holdsUndecodedEightBit: Bool { fields.contains { $0.eightBitOctets != nil } }

    /// The same fields with their 8-bit octets that are not UTF-8 read in `charset`, the charset
    /// of the entity's text: a mailer that writes raw 8-bit header fields (RFC 6532 allows only
    /// UTF-8) writes them in the charset of its body. A field stays as it was when it is UTF-8
    /// but for a stray octet (``Bytes/isUTF8WithStrayOctets(_:)``), when `charset` cannot read it whole or reads its ASCII
    /// punctuation otherwise (in the multi-octet charsets mail uses, no octet below 0x40 is
    /// part of a character), and for charsets that read no differently from Windows-1252 or are
    /// not ASCII-compatible (UTF-16, UTF-32, UTF-7, ISO-2022).
    func readingEightBit(as charset: String) -> Headers {
        guard let name = Charset.canonicalName(charset), !["UTF-8", "ASCII", "LATIN1", "CP1252"].contains(name),
            !["UTF-16", "UTF-32", "UTF-7", "UCS", "ISO-2022", "UNICODE"].contains(where: { name.hasPrefix($0) })
        else { return self }
        var copy = self
        for index in copy.fields.indices {
            guard let octets = copy.fields[index].eightBitOctets, !Bytes.isUTF8WithStrayOctets(octets[...]) else { continue }
            let decoded = Charset.decode(octets, label: charset)
            guard !decoded.invalidBytes, !decoded.unknownCharset,
                octets.filter({ $0 < 0x40 }).elementsEqual(
                    decoded.text.unicodeScalars.lazy.filter { $0.value < 0x40 }.map { UInt8($0.value) })
            else { continue }
            var field = HeaderField(name: copy.fields[index].name, rawValue: decoded.text)
            field.eightBitOctets = nil
            copy.fields[index] = field
        }
        return copy
    }
}

/// Reads a header section from bytes.
struct HeaderParser {
    struct Result {
        var headers: Headers
        /// Where the body starts (after the blank line), or where parsing stopped.
        var bodyStart: Int
        /// Parsing stopped on a boundary line of an enclosing multipart (no body).
        var stoppedAtBoundary: Bool
    }

    /// Parses header lines from `from` up to the blank line. Lines that are neither a field nor a
    /// continuation end the header section (a defect, as in Python's `email` package).
    /// - SeeAlso: RFC 5322 §2.1 (header section then an empty line then the body).
    static func parse(
        _ buf: UnsafeBufferPointer<UInt8>, from: Int, end: Int,
        boundaries: BoundaryStack, defects: inout DefectList
    ) -> Result {
        var fields: [HeaderField] = []
        var pos = from
        var currentName: ArraySlice<UInt8>? = nil
        var currentValue: [UInt8] = []
        var sawEightBit = false
        var firstLine = true

        func flush() {
            guard let name = currentName else { return }
            let octets = ArraySlice(currentValue).trimmed()
            let (value, was1252) = Bytes.headerString(octets)
            var field = HeaderField(name: String(decoding: name, as: UTF8.self), rawValue: value)
            if was1252 {
                sawEightBit = true
                field.eightBitOctets = Array(octets)
            }
            fields.append(field)
            currentName = nil
            currentValue.removeAll(keepingCapacity: true)
        }

        while pos < end {
            let lf = Bytes.indexOfLF(buf, from: pos, end: end)
            var lineEnd = lf
            if lineEnd > pos, buf[lineEnd - 1] == ASCII.cr { lineEnd -= 1 }
            let next = lf < end ? lf + 1 : end
            if lineEnd == pos {  // the empty line
                flush()
                return Result(headers: Headers(fields), bodyStart: next, stoppedAtBoundary: false)
            }
            let first = buf[pos]
            if ASCII.isWSP(first) {
                if currentName != nil {
                    currentValue.append(contentsOf: UnsafeBufferPointer(rebasing: buf[pos..<lineEnd]))
                } else if firstLine {
                    defects.add(.invalidHeaderLine, "continuation line before any field")
                }
                pos = next
                firstLine = false
                continue
            }
            if first == ASCII.dash, !boundaries.isEmpty, boundaries.match(buf, lineStart: pos, lineEnd: lineEnd) != nil {
                flush()
                defects.add(.missingHeaderBodySeparator, "part headers end at a boundary")
                return Result(headers: Headers(fields), bodyStart: pos, stoppedAtBoundary: true)
            }
            // Field name: printable ASCII up to ':' (whitespace before ':' is obsolete syntax).
            var i = pos
            while i < lineEnd, buf[i] != ASCII.colon, buf[i] > 0x20, buf[i] < 0x7F { i += 1 }
            let nameEnd = i
            while i < lineEnd, ASCII.isWSP(buf[i]) { i += 1 }
            if i < lineEnd, buf[i] == ASCII.colon, nameEnd > pos {
                flush()
                currentName = ArraySlice(UnsafeBufferPointer(rebasing: buf[pos..<nameEnd]))
                currentValue.append(contentsOf: UnsafeBufferPointer(rebasing: buf[(i + 1)..<lineEnd]))
                pos = next
                firstLine = false
                continue
            }
            if firstLine, lineEnd - pos >= 5, buf[pos..<(pos + 5)].elementsEqual("From ".utf8) {
                pos = next  // mbox "From " line
                firstLine = false
                continue
            }
            flush()
            defects.add(.missingHeaderBodySeparator, "a line that is not a header field starts the body")
            return Result(headers: Headers(fields), bodyStart: pos, stoppedAtBoundary: false)
        }
        flush()
        if sawEightBit { defects.add(.eightBitHeader, "8-bit header bytes read as Windows-1252") }
        return Result(headers: Headers(fields), bodyStart: end, stoppedAtBoundary: false)
    }
}
