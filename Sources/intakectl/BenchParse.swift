import ArgumentParser
import Foundation
import MailParser

/// Hidden benchmark: parses each class of messages in a loop and prints messages/s and MB/s.
/// Used by `bench/mailparser/run.sh`; not part of the admin interface.
struct BenchParse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-parse", abstract: "Benchmark the message parser.", shouldDisplay: false)

    @Argument(help: "Message files or folders; a folder (all .eml below it) is one class, a file is its own class.")
    var paths: [String]

    @Option(help: "Seconds to spend per class.")
    var seconds: Double = 2

    @Flag(help: "Also hash every attachment (SHA-256), as the store does.")
    var hash = false

    func run() throws {
        print("class\tfiles\tbytes\tmsgs_per_s\tMB_per_s")
        for path in paths {
            let messages = try load(path)
            guard !messages.isEmpty else { continue }
            let total = messages.reduce(0) { $0 + $1.count }
            var sink = 0
            for m in messages { sink &+= work(m) }  // warm up
            var parsed = 0, bytes = 0
            let start = DispatchTime.now().uptimeNanoseconds
            var elapsed: UInt64 = 0
            let budget = UInt64(seconds * 1e9)
            repeat {
                for m in messages {
                    sink &+= work(m)
                    parsed += 1
                    bytes += m.count
                }
                elapsed = DispatchTime.now().uptimeNanoseconds - start
            } while elapsed < budget
            let secs = Double(elapsed) / 1e9
            let label = URL(fileURLWithPath: path).lastPathComponent
            print(
                "\(label)\t\(messages.count)\t\(total)\t\(String(format: "%.1f", Double(parsed) / secs))\t\(String(format: "%.1f", Double(bytes) / secs / 1e6))"
            )
            if sink == 42 { print("") }
        }
    }

    func load(_ path: String) throws -> [[UInt8]] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw ValidationError("no such file \(path)") }
        if !isDir.boolValue { return [FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? []] }
        let files = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".eml") }.sorted()
        return files.compactMap { FileManager.default.contents(atPath: path + "/" + $0).map { [UInt8]($0) } }
    }

    func work(_ bytes: [UInt8]) -> Int {
        let m = MailMessage.parse(bytes)
        var n = m.bodyText.utf8.count + m.people.count + m.forwarded.count + m.referenceTags.count + m.newText.utf8.count
        for a in m.attachments {
            n &+= a.size
            if hash { n &+= a.sha256.utf8.count }
        }
        return n
    }
}
