// Fuzz entry point for MailParser. Built by fuzz/run.sh together with Sources/MailParser/*.swift
// into one module (so no `import`), with `-sanitize=fuzzer,address -parse-as-library`.

@_cdecl("LLVMFuzzerTestOneInput")
public func mailParserFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let message = MailMessage.parse(bytes)
    // Touch every derived value so the whole pipeline runs.
    var n = message.people.count + message.forwarded.count + message.referenceTags.count
    n &+= message.newText.utf8.count + message.bodyText.utf8.count + message.defects.count
    for a in message.attachments { n &+= a.size &+ a.sha256.utf8.count }
    for f in message.forwarded { n &+= f.bodyText.utf8.count }
    if n == -1 { print(n) }

    // Digests taken as the message arrives, in pieces of a size the input picks, are the parse's
    // own: the parse for storage is the same with them and without them.
    let piece = size == 0 ? 1 : 1 + Int(bytes[0]) % 97
    var digester = AttachmentDigester<SHA256>()
    var start = 0
    while start < size {
        let stop = min(start + piece, size)
        digester.consume(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start..<stop]))
        start = stop
    }
    let digests = digester.finish()
    let lean = MailMessage.parse(bytes, digestingAttachmentsWith: SHA256.self)
    if MailMessage.parse(bytes, digestingAttachmentsWith: SHA256.self, precomputed: digests) != lean {
        fatalError("a digest taken as the message arrived differs from the parse's own")
    }
    if lean != message.droppingContent() {
        fatalError("the parse for storage differs from the full parse without content")
    }
    return 0
}
