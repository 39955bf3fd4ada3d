import Foundation
import Testing

/// `/metrics` moves with traffic and `/healthz` follows whether the database takes writes.
@Suite struct ObservabilityTests {
    /// GET `path` on the daemon's HTTP listener: status and body.
    static func get(_ port: Int, _ path: String) throws -> (Int, String) {
        let script = """
            import sys, urllib.request, urllib.error
            try:
                with urllib.request.urlopen("http://127.0.0.1:\(port)\(path)", timeout=10) as r:
                    print(r.status); print(r.read().decode())
            except urllib.error.HTTPError as e:
                print(e.code); print(e.read().decode())
            """
        let result = try runCommand("/usr/bin/env", ["python3", "-c", script])
        let lines = result.output.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        return (Int(lines.first ?? "") ?? -1, lines.count > 1 ? String(lines[1]) : "")
    }

    static func httpPort(_ daemon: Daemon) -> Int? {
        daemon.logText.split(separator: "\n").first { $0.contains("msg=\"HTTP listening\"") }
            .flatMap { line in line.range(of: "http.port=").map { Int(line[$0.upperBound...].prefix { $0.isNumber }) ?? 0 } }
    }

    static func value(_ metrics: String, _ series: String) -> Double {
        metrics.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    @Test func metricsCountTrafficWithBoundedLabels() async throws {
        let crm = try await CRMFixture.start(settings: ["metrics.port": "0"])
        let port = try #require(Self.httpPort(crm.daemon))
        let before = try Self.get(port, "/metrics").1
        #expect(
            try await crm.send(mail(to: "jane@fenwick-logistics.example", subject: "Counted"), to: [crm.dropbox(FilingTests.bob)]).code
                == 250)
        _ = try await crm.send(mail(to: "jane@fenwick-logistics.example", subject: "Refused"), to: ["nobody@dropbox.localhost"])
        let (status, after) = try Self.get(port, "/metrics")
        #expect(status == 200)
        #expect(
            Self.value(after, "smtp_messages_total{result=\"accepted\"}") == Self.value(before, "smtp_messages_total{result=\"accepted\"}")
                + 1)
        #expect(Self.value(after, "filing_messages_total{outcome=\"filed\"}") == 1)
        #expect(Self.value(after, "smtp_replies_total{code=\"550\"}") >= 1)
        #expect(Self.value(after, "filing_duration_seconds_count") == 1)
        #expect(Self.value(after, "database_size_bytes") > 0)
        // The commit's pages in the WAL, which starts over only at a later commit.
        #expect(Self.value(after, "database_wal_pages") > 0)
        #expect(!after.contains("harbourview") && !after.contains("@"))
        // Every metric says what it measures, on the line before its type.
        let lines = after.split(separator: "\n")
        for (index, line) in lines.enumerated() where line.hasPrefix("# TYPE ") {
            let name = line.split(separator: " ")[2]
            #expect(index > 0 && lines[index - 1].hasPrefix("# HELP \(name) "), "no HELP line for \(name)")
        }
        #expect(try Self.get(port, "/nothing").0 == 404)
        await crm.stop()
    }

    @Test func healthzFollowsWhetherTheDatabaseTakesWrites() async throws {
        let crm = try await CRMFixture.start(settings: ["metrics.port": "0"])
        let port = try #require(Self.httpPort(crm.daemon))
        #expect(try Self.get(port, "/healthz").0 == 200)
        // Make the database read-only underneath the daemon: even root cannot write an immutable
        // file. (Not the -shm file: SQLite maps it into memory, and a write to it would be SIGBUS.)
        let files = ["", "-wal"].map { crm.daemon.dataDirectory + "/intake.sqlite" + $0 }.filter {
            FileManager.default.fileExists(atPath: $0)
        }
        let locked = try runCommand("/usr/bin/chattr", ["+i"] + files)
        try #require(locked.status == 0, "chattr +i is needed for this test: \(locked.error)")
        defer { _ = try? runCommand("/usr/bin/chattr", ["-i"] + files) }
        let (status, body) = try Self.get(port, "/healthz")
        #expect(status == 503)
        #expect(body.hasPrefix("unhealthy: "))
        _ = try runCommand("/usr/bin/chattr", ["-i"] + files)
        #expect(try Self.get(port, "/healthz").0 == 200)
        await crm.stop()
    }

    /// The probe's own write succeeds while deliveries fail (here, the raw folder refuses the
    /// large message's file): `/healthz` says so until the raw folder takes files again, which it
    /// finds out itself, with no large message sent.
    @Test func healthzReportsDeliveriesThatCannotBeStored() async throws {
        let crm = try await CRMFixture.start(settings: ["metrics.port": "0", "smtp.memory_threshold": "4096"])
        let port = try #require(Self.httpPort(crm.daemon))
        let rawFolder = try #require(crm.database.rawFolder).path
        let large = mail(
            to: "jane@fenwick-logistics.example", subject: "Plans", body: String(repeating: "The plans, line by line.\n", count: 400))
        let locked = try runCommand("/usr/bin/chattr", ["-R", "+i", rawFolder])
        try #require(locked.status == 0, "chattr +i is needed for this test: \(locked.error)")
        defer { _ = try? runCommand("/usr/bin/chattr", ["-R", "-i", rawFolder]) }
        let refused = try await crm.send(large, to: [crm.dropbox(FilingTests.bob)])
        #expect(refused.code == 451)
        let (status, body) = try Self.get(port, "/healthz")
        #expect(status == 503)
        #expect(body.contains("deliveries could not be stored (raw file failed at "), "\(body)")
        #expect(body.contains("cannot keep the message's file in \(rawFolder)/"), "\(body)")
        // A small message, kept in the database, is filed; the raw folder's failure stands.
        #expect(
            try await crm.send(mail(to: "jane@fenwick-logistics.example", subject: "Short"), to: [crm.dropbox(FilingTests.bob)]).code == 250
        )
        #expect(try Self.get(port, "/healthz").0 == 503)
        // What `/healthz` tries is the subfolder that refused the file: with every other folder
        // writable again, it still says 503.
        let (_, told) = try Self.get(port, "/healthz")
        let refusing = try #require(
            told.range(of: "cannot keep the message's file in ").map { told[$0.upperBound...].prefix { $0 != ":" } }, "\(told)")
        #expect(refusing.hasPrefix(rawFolder + "/"))
        _ = try runCommand("/usr/bin/chattr", ["-R", "-i", rawFolder])
        _ = try runCommand("/usr/bin/chattr", ["+i", String(refusing)])
        #expect(try Self.get(port, "/healthz").0 == 503)
        _ = try runCommand("/usr/bin/chattr", ["-i", String(refusing)])
        #expect(try Self.get(port, "/healthz").0 == 200)
        #expect(try await crm.send(large, to: [crm.dropbox(FilingTests.bob)]).code == 250)
        #expect(try Self.get(port, "/healthz").0 == 200)
        // The probe leaves nothing in the folder.
        #expect(try FileManager.default.contentsOfDirectory(atPath: String(refusing)).filter { $0.hasPrefix(".") }.isEmpty)
        await crm.stop()
    }
}
