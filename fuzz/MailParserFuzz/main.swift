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
    return 0
}
