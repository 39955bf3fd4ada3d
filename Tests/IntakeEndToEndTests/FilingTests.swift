import Filing
import Foundation
import GRDB
import IntakeStore
import MailParser
import Testing

/// The CRM rules end to end: realistic messages over SMTP (Python's smtplib) into the running
/// daemon, checked in the real SQLite file through the store's queries.
@Suite struct FilingTests {
    static let bob = "bob.carter@harbourview.example"
    static let sarah = "sarah.okafor@harbourview.example"

    @Test func ccOnSentMailCreatesContactsCompaniesAndNotes() async throws {
        let crm = try await CRMFixture.start()
        let message = mail(
            to: "Jane Fenwick <jane.fenwick@fenwick-logistics.example>", cc: "Mike Lee <mike.lee@gmail.com>",
            subject: "Quote for 40 chairs"
        )
        let sent = try await crm.send(message, to: [crm.dropbox(Self.bob)])
        #expect(sent.code == 250)
        let contacts = try await crm.database.contacts(organisation: CRMFixture.organisation)
        #expect(Set(contacts.map(\.name)) == ["Jane Fenwick", "Mike Lee"])
        #expect(contacts.first { $0.emails == ["jane.fenwick@fenwick-logistics.example"] }?.company == "Fenwick Logistics")
        #expect(contacts.first { $0.emails == ["mike.lee@gmail.com"] }?.company == nil)
        let companies = try await crm.database.companies(organisation: CRMFixture.organisation)
        #expect(companies.map(\.domains) == [["fenwick-logistics.example"]])
        let notes = try await crm.database.notes(organisation: CRMFixture.organisation)
        #expect(notes.count == 2)
        #expect(notes.allSatisfy { $0.text.contains("Quote for 40 chairs") && $0.author == Self.bob })
        let log = try await crm.log()
        #expect(log.map(\.outcome) == ["filed"])
        #expect(log.first?.filed.count == 3)
        await crm.stop()
    }

    @Test func aContactNamedAfterItsAddressTakesTheFirstDisplayNameGiven() async throws {
        let crm = try await CRMFixture.start()
        func name() async throws -> [String] {
            try await crm.database.contacts(organisation: CRMFixture.organisation).map(\.name)
        }
        #expect(
            try await crm.send(mail(to: "tom.reyes@fenwick-logistics.example", subject: "Pallets"), to: [crm.dropbox(Self.bob)]).code == 250
        )
        #expect(try await name() == ["Tom Reyes"])
        // A display name that is the address's local part says no more.
        #expect(
            try await crm.send(mail(to: "tom.reyes <tom.reyes@fenwick-logistics.example>", subject: "Pallets"), to: [crm.dropbox(Self.bob)])
                .code == 250)
        #expect(try await name() == ["Tom Reyes"])
        #expect(
            try await crm.send(
                mail(to: "\"Reyes, Tomás\" <tom.reyes@fenwick-logistics.example>", subject: "Pallets"), to: [crm.dropbox(Self.bob)]
            )
            .code == 250)
        #expect(try await name() == ["Reyes, Tomás"])
        // A name once given stays: later messages do not rename the contact back and forth.
        #expect(
            try await crm.send(mail(to: "Tom <tom.reyes@fenwick-logistics.example>", subject: "Pallets"), to: [crm.dropbox(Self.bob)]).code
                == 250
        )
        #expect(try await name() == ["Reyes, Tomás"])
        await crm.stop()
    }

    @Test func aLargeMessageIsKeptAsAFileNamedByItsDigest() async throws {
        // Over the memory threshold the message goes to a file, which is kept in the raw folder.
        let crm = try await CRMFixture.start(settings: ["smtp.memory_threshold": "4096"])
        var attachment = ""
        for index in 0..<12_000 { attachment += String(repeating: "QUJD", count: 18) + String(format: "%04d", index % 10_000) + "\r\n" }
        let message = [
            "From: Bob Carter <bob.carter@harbourview.example>", "To: Jane Fenwick <jane.fenwick@fenwick-logistics.example>",
            "Subject: Drawings", "Message-ID: <drawings-1@harbourview.example>", "MIME-Version: 1.0",
            "Content-Type: multipart/mixed; boundary=\"b\"", "", "--b", "Content-Type: text/plain", "", "The drawings.", "--b",
            "Content-Type: application/octet-stream; name=\"plans.bin\"", "Content-Transfer-Encoding: base64", "",
            attachment + "--b--", "",
        ].joined(separator: "\r\n")
        #expect(message.utf8.count > 900_000)
        #expect(try await crm.send(message, to: [crm.dropbox(Self.bob)]).code == 250)
        let entry = try #require(try await crm.log().first)
        #expect(entry.outcome == "filed")
        let raw = try await crm.database.rawMessage(try #require(entry.storedMessage))
        // What was sent, after the Received field the server put first.
        #expect(String(decoding: raw, as: UTF8.self).hasSuffix(message))
        // The digest kept in the summary is that of the decoded attachment.
        let reparsed = MailMessage.parse(raw)
        let summary = try await crm.database.storedMessage(try #require(entry.storedMessage)).summaryJSON
        #expect(reparsed.attachments.count == 1)
        #expect(summary.contains(reparsed.attachments[0].sha256))
        #expect(crm.daemon.temporaryFiles().isEmpty)

        // The row names the file by its SHA-256 and holds no copy.
        let rawFolder = try #require(crm.database.rawFolder)
        let stored = try await crm.database.read { db in
            try Row.fetchOne(db, sql: "SELECT raw_sha256, length(raw) AS held FROM message WHERE id = ?", arguments: [entry.storedMessage])
                .map { ($0["raw_sha256"] as String?, $0["held"] as Int) }
        }
        let sha256 = try #require(stored?.0)
        #expect(stored?.1 == 0)
        #expect(sha256 == MailParser.SHA256.hex(raw))
        #expect(FileManager.default.fileExists(atPath: rawFolder.file(sha256)))

        // A duplicate and a refusal leave no file behind.
        #expect(try await crm.send(message, to: [crm.dropbox(Self.bob)]).code == 250)
        let untrusted = message.replacingOccurrences(of: "bob.carter@harbourview.example", with: "bob@elsewhere.example")
        #expect(try await crm.send(untrusted, from: "bob@elsewhere.example", to: [crm.dropbox(Self.bob)]).code == 550)
        #expect(try rawFiles(rawFolder.path) == [sha256])
        #expect(try await crm.log().map(\.outcome).sorted() == ["duplicate", "filed", "refused"])
        // The descriptor each message's file was written and synced through is closed once the
        // message is answered, filed, duplicate or refused.
        #expect(openFiles(of: crm.daemon.pid, under: [crm.daemon.dataDirectory + "/tmp/", rawFolder.path + "/"]).isEmpty)

        // Reprocessing keeps the same file; a backup copies it beside the database's copy.
        let reprocessed = try await crm.database.reprocess(
            message: try #require(entry.storedMessage), dropboxDomains: ["dropbox.localhost"])
        #expect(try await crm.database.rawMessage(try #require(reprocessed.message)) == raw)
        let copy = Daemon.temporaryDirectory("intake-raw-backup") + "/copy.sqlite"
        _ = try await crm.database.backup(to: copy)
        let restored = try IntakeDatabase.open(path: copy)
        #expect(try await restored.rawMessage(try #require(reprocessed.message)) == raw)
        #expect(try rawFiles(copy + "-raw") == [sha256])
        await crm.stop()
    }

    /// At `database.max_size` a message gets 452 4.3.1 with nothing of it kept (no rows, no raw
    /// file), the log and `/healthz` name the size cap, and once there is room the same message is
    /// filed.
    @Test func aFullDatabaseGets452WithNothingPartialAndRecoversWithRoom() async throws {
        // Every message over 4 KiB is kept as a file; its note holds the 40 KB body.
        // The schema alone takes about 50 pages of 4 KiB: room for a few messages.
        let settings = ["database.max_size": "393216", "smtp.memory_threshold": "4096", "metrics.port": "0"]
        let crm = try await CRMFixture.start(settings: settings)
        let port = try #require(ObservabilityTests.httpPort(crm.daemon))
        #expect(try ObservabilityTests.get(port, "/healthz").0 == 200)
        let rawFolder = try #require(crm.database.rawFolder)
        var refused: String?
        var filed = 0
        for index in 0..<40 where refused == nil {
            let body = String(repeating: "Quarterly figures line \(index), all well within budget.\n", count: 700)
            let message = mail(to: "jane.fenwick@fenwick-logistics.example", subject: "Report \(index)", body: body)
            let sent = try await crm.send(message, to: [crm.dropbox(Self.bob)])
            if sent.code == 250 {
                filed += 1
            } else {
                #expect(sent.code == 452)
                #expect(sent.text.hasPrefix("4.3.1"), "\(sent.text)")
                refused = message
            }
        }
        let message = try #require(refused, "the database never filled")
        #expect(filed >= 3, "filed before the cap: \(filed)")
        // Nothing of the refused message: as many messages, notes and log rows as 250s, and no
        // file that no row names.
        #expect(try await crm.database.storedMessageCount() == filed)
        #expect(try await crm.database.notes(organisation: CRMFixture.organisation).count == filed)
        #expect(try await crm.log().count == filed)
        let named = try await crm.database.read { db in
            try String.fetchAll(db, sql: "SELECT raw_sha256 FROM message WHERE raw_sha256 IS NOT NULL ORDER BY raw_sha256")
        }
        #expect(try rawFiles(rawFolder.path) == named)
        #expect(named.count == filed)
        // The health check's own write needs no room: the refused commit makes it fail.
        let (status, body) = try ObservabilityTests.get(port, "/healthz")
        #expect(status == 503)
        #expect(body.contains("database.max_size (393216 octets)"), "\(body)")
        #expect(crm.daemon.logText.contains("the database has reached its size cap, database.max_size"), "\(crm.daemon.logText)")
        // Restarted at its cap, the daemon starts and answers 452 as before (opening wrote a page,
        // and it stopped at once).
        let atCap = try await crm.restarted(settings: settings)
        #expect(try await atCap.send(message, to: [atCap.dropbox(Self.bob)]).code == 452)
        let portAtCap = try #require(ObservabilityTests.httpPort(atCap.daemon))
        #expect(try ObservabilityTests.get(portAtCap, "/healthz").0 == 503)
        // Room made for a message of that size (here: the first three messages and their notes
        // deleted): healthy again, before any message is filed.
        try await crm.database.write { db in
            try db.execute(sql: "DELETE FROM note WHERE message_id IN (SELECT id FROM message ORDER BY id LIMIT 3)")
            try db.execute(sql: "DELETE FROM message WHERE id IN (SELECT id FROM message ORDER BY id LIMIT 3)")
        }
        let left = try await crm.database.storedMessageCount()
        let healthz = try ObservabilityTests.get(portAtCap, "/healthz")
        #expect(healthz.0 == 200, "\(healthz.1)")
        // With room, the same daemon, still at its cap, files the same message.
        #expect(try await atCap.send(message, to: [atCap.dropbox(Self.bob)]).code == 250)
        #expect(try await atCap.database.storedMessageCount() == left + 1)
        await atCap.stop()
    }

    /// A raw file that no message names (what a crash between keeping it and committing leaves)
    /// is moved to the raw folder's `unnamed` folder at the next start; the files that rows name
    /// stay, and so does anything whose name is not a content hash.
    @Test func aRawFileNoMessageNamesIsSetAsideAtStart() async throws {
        let crm = try await CRMFixture.start(settings: ["smtp.memory_threshold": "4096"])
        let rawFolder = try #require(crm.database.rawFolder)
        let body = String(repeating: "Site survey notes, section by section.\n", count: 300)
        #expect(
            try await crm.send(
                mail(to: "jane.fenwick@fenwick-logistics.example", subject: "Survey", body: body), to: [crm.dropbox(Self.bob)]
            )
            .code == 250)
        let named = try #require(try rawFiles(rawFolder.path).first)
        await crm.stop()

        let orphan = Array("Subject: never committed\r\n\r\nA message whose commit never came.\r\n".utf8)
        let orphanHash = MailParser.SHA256.hex(orphan)
        try Data(orphan).write(to: URL(fileURLWithPath: rawFolder.file(orphanHash)))
        let stray = rawFolder.path + "/" + named.prefix(2) + "/notes.txt"
        try Data("an operator's file".utf8).write(to: URL(fileURLWithPath: stray))

        let restarted = try await crm.restarted(settings: ["smtp.memory_threshold": "4096"])
        #expect(try rawFiles(rawFolder.path) == [named])
        #expect(FileManager.default.contents(atPath: rawFolder.unnamedPath + "/" + orphanHash) == Data(orphan))
        #expect(FileManager.default.fileExists(atPath: stray))
        #expect(restarted.daemon.logText.contains("raw.files=1"), "\(restarted.daemon.logText)")
        // The filed message still reads back whole, and mail is filed as before.
        let entry = try #require(try await restarted.log().first)
        #expect(try await restarted.database.rawMessage(try #require(entry.storedMessage)).count > 4096)
        #expect(
            try await restarted.send(
                mail(to: "jane.fenwick@fenwick-logistics.example", subject: "Again", body: body + "More.\n"),
                to: [restarted.dropbox(Self.bob)]
            ).code == 250)
        #expect(try rawFiles(rawFolder.path).count == 2)
        await restarted.stop()
    }

    /// The content-hash-named files of a raw folder's subfolders, by name.
    /// The files under `folders` that process `pid` holds open.
    private func openFiles(of pid: Int32, under folders: [String]) -> [String] {
        let descriptors = "/proc/\(pid)/fd"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: descriptors)) ?? []
        return names.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: descriptors + "/" + $0) }
            .filter { target in folders.contains { target.hasPrefix($0) } }
    }

    private func rawFiles(_ folder: String) throws -> [String] {
        try FileManager.default.subpathsOfDirectory(atPath: folder).filter { $0.count == 67 && $0.dropFirst(2).first == "/" }
            .map { String($0.dropFirst(3)) }.sorted()
    }

    @Test func theWALIsCheckpointedIntoTheDatabaseFile() async throws {
        let crm = try await CRMFixture.start(settings: ["database.checkpoint_pages": "16"])
        for index in 0..<5 {
            let message = mail(to: "jane.fenwick@fenwick-logistics.example", subject: "Checkpoint \(index)")
            #expect(try await crm.send(message, to: [crm.dropbox(Self.bob)]).code == 250)
        }
        // The database file alone, without its WAL, holds every message once checkpointed.
        let copy = Daemon.temporaryDirectory("intake-checkpoint") + "/copy.sqlite"
        var counted = ""
        for _ in 0..<50 {
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: crm.daemon.dataDirectory + "/intake.sqlite", toPath: copy)
            counted = try runCommand(
                "/usr/bin/env",
                [
                    "python3", "-c",
                    "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM message').fetchone()[0])", copy,
                ]
            ).output.trimmingCharacters(in: .whitespacesAndNewlines)
            if counted == "5" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(counted == "5")
        await crm.stop()
    }

    @Test func theWALStartsOverUnderSteadyLoad() async throws {
        let crm = try await CRMFixture.start(settings: ["database.checkpoint_pages": "16"])
        let numbers = Daemon.temporaryDirectory("intake-wal") + "/numbers"
        try (0..<400).map(String.init).joined(separator: "\n").write(toFile: numbers, atomically: true, encoding: .utf8)
        let load = try BackgroundCommand(
            "/usr/bin/env",
            ["python3", ClientTests.scripts + "/load_messages.py", String(crm.daemon.port), Self.bob, crm.dropbox(Self.bob), "5", numbers]
        )
        let acknowledged = load.wait().split(separator: "\n").filter { $0.hasPrefix("ack ") }.count
        #expect(acknowledged == 400)
        // Each message adds about 14 pages (4 KiB and a 24-octet header each) to the WAL: 400
        // messages make a WAL of 23 MB that never starts over (measured with no checkpoints).
        // Checkpointed beside the commits, it starts over past 16 x 16 pages once no message
        // waits, and past 64 x 16 pages (4.2 MB) at once: 1.1 MB when measured.
        let walSize = try FileManager.default.attributesOfItem(atPath: crm.daemon.dataDirectory + "/intake.sqlite-wal")[.size] as? Int ?? -1
        #expect(walSize > 0 && walSize < 6_000_000, "WAL of \(walSize) octets")
        await crm.stop()
    }

    @Test(arguments: [
        ("clients/gmail_forward_with_note.eml", bob, ["jane.fenwick@fenwick-logistics.example", "t.reyes@fenwick-logistics.example"]),
        (
            "clients/outlook_original_message.eml", sarah,
            ["pieter@vandijk-bouw.example", "m.jansen@vandijk-bouw.example", "ruud.smit@vandijk-bouw.example"]
        ),
        ("clients/forward_as_attachment.eml", sarah, ["hugo.brandt@brandt-logistik.example", "petra.vogel@brandt-logistik.example"]),
    ])
    func forwardsFileTheOriginalPeople(_ fixture: String, _ user: String, _ expected: [String]) async throws {
        let crm = try await CRMFixture.start()
        let sent = try await crm.send(try CRMFixture.fixture(fixture), from: user, to: [crm.dropbox(user)])
        #expect(sent.code == 250, "\(sent.text)")
        #expect(try await crm.contactEmails() == Set(expected))
        let notes = try await crm.database.notes(organisation: CRMFixture.organisation)
        #expect(notes.count == expected.count)
        await crm.stop()
    }

    @Test func caseThenFollowUpInItsThread() async throws {
        let crm = try await CRMFixture.start()
        let first = "<case-start@fenwick-logistics.example>"
        #expect(
            try await crm.send(
                mail(to: "jane.fenwick@fenwick-logistics.example", subject: "Broken chair legs", messageID: first),
                to: [crm.dropbox(Self.bob, .case)]
            ).code == 250
        )
        let followUp = mail(
            to: "jane.fenwick@fenwick-logistics.example", subject: "Re: Broken chair legs", messageID: "<follow-up@harbourview.example>",
            extraHeaders: ["In-Reply-To: \(first)", "References: \(first)"]
        )
        #expect(try await crm.send(followUp, to: [crm.dropbox(Self.bob, .case)]).code == 250)
        let cases = try await crm.database.records(organisation: CRMFixture.organisation, opportunities: false)
        #expect(cases.count == 1)
        #expect(cases.first?.ref == "CS1001")
        #expect(cases.first?.title == "Broken chair legs")
        #expect(cases.first?.messages.count == 2)
        #expect(cases.first?.contacts.count == 1)
        await crm.stop()
    }

    /// A reply in a case's thread that also carries an opportunity's tag is filed under both,
    /// and sent to the case address it opens no second case.
    @Test func aReplyInACaseThreadStaysUnderTheCaseWhateverTagItCarries() async throws {
        let crm = try await CRMFixture.start()
        let customer = "jane.fenwick@fenwick-logistics.example"
        let first = "<chairs-broken@fenwick-logistics.example>"
        #expect(
            try await crm.send(mail(to: customer, subject: "Broken chair legs", messageID: first), to: [crm.dropbox(Self.bob, .case)]).code
                == 250
        )
        #expect(try await crm.send(mail(to: customer, subject: "Chairs for Leeds"), to: [crm.dropbox(Self.bob, .opportunity)]).code == 250)
        let reply = mail(
            to: customer, subject: "Re: Broken chair legs", extraHeaders: ["In-Reply-To: \(first)", "References: \(first)"],
            body: "Replacement legs are in the Leeds order, #CO1001.\n")
        #expect(try await crm.send(reply, to: [crm.dropbox(Self.bob, .case)]).code == 250)
        let cases = try await crm.database.records(organisation: CRMFixture.organisation, opportunities: false)
        #expect(cases.map(\.ref) == ["CS1001"])
        #expect(cases.first?.messages.count == 2)
        let opportunities = try await crm.database.records(organisation: CRMFixture.organisation, opportunities: true)
        #expect(opportunities.first?.messages.count == 2)
        #expect(try await crm.log().first?.filed.prefix(2) == ["case:CS1001", "opportunity:CO1001"])
        await crm.stop()
    }

    /// One message to a user's note and case addresses files a note and opens a case; the same
    /// message later at the task address makes a task too; sent again, each is a duplicate.
    @Test func oneMessageAtSeveralKindsOfDropboxIsFiledForEachKindOnce() async throws {
        let crm = try await CRMFixture.start()
        let message = mail(to: "jane.fenwick@fenwick-logistics.example", subject: "Broken chair legs")
        let noteAndCase = [crm.dropbox(Self.bob), crm.dropbox(Self.bob, .case)]
        #expect(try await crm.send(message, to: noteAndCase).code == 250)
        #expect(try await crm.send(message, to: [crm.dropbox(Self.bob, .task)]).code == 250)
        #expect(try await crm.send(message, to: noteAndCase + [crm.dropbox(Self.bob, .task)]).code == 250)
        #expect(try await crm.database.storedMessageCount() == 1)
        #expect(try await crm.database.notes(organisation: CRMFixture.organisation).count == 1)
        let cases = try await crm.database.records(organisation: CRMFixture.organisation, opportunities: false)
        #expect(cases.map(\.ref) == ["CS1001"])
        let log = try await crm.log()
        #expect(log.map(\.outcome) == ["duplicate", "duplicate", "duplicate", "filed", "filed", "filed"])
        #expect(log[0].reason == "already filed from this dropbox")
        #expect(log[3].filed.contains { $0.hasPrefix("task:") })
        #expect(log[4].filed.contains("case:CS1001"))
        #expect(log[5].filed == ["contact:1", "company:1"])
        // A duplicate's row names everything the message is filed under.
        #expect(log[0].filed.contains("case:CS1001") && log[0].filed.contains { $0.hasPrefix("task:") })
        await crm.stop()
    }

    @Test func referenceTagsUpdateRecordsAndUnknownTagsAreLogged() async throws {
        let crm = try await CRMFixture.start()
        let customer = "jane.fenwick@fenwick-logistics.example"
        _ = try await crm.send(mail(to: customer, subject: "Chairs for Leeds"), to: [crm.dropbox(Self.bob, .opportunity)])
        _ = try await crm.send(mail(to: customer, subject: "Wobbly desk"), to: [crm.dropbox(Self.bob, .case)])
        // #co1001 in the subject to the opportunity address: no second opportunity.
        _ = try await crm.send(mail(to: customer, subject: "Chairs update #co1001"), to: [crm.dropbox(Self.bob, .opportunity)])
        // #CS1001 in the body of a note: attached to the case as well.
        _ = try await crm.send(mail(to: customer, subject: "Desk follow-up", body: "About #CS1001: fixed.\n"), to: [crm.dropbox(Self.bob)])
        // An unknown tag is listed and the message filed as if it had none.
        _ = try await crm.send(mail(to: customer, subject: "Old matter #CS9999"), to: [crm.dropbox(Self.bob, .case)])
        let opportunities = try await crm.database.records(organisation: CRMFixture.organisation, opportunities: true)
        #expect(opportunities.map(\.ref) == ["CO1001"])
        #expect(opportunities.first?.messages.count == 2)
        let cases = try await crm.database.records(organisation: CRMFixture.organisation, opportunities: false)
        #expect(cases.map(\.ref) == ["CS1001", "CS1002"])
        #expect(cases.first?.messages.count == 2)
        let log = try await crm.log()
        #expect(log.first?.unresolvedRefs == ["CS9999"])
        #expect(log.first?.outcome == "filed")
        // A note to a colleague about a mistyped case: refused for the tag, which is logged.
        let refused = try await crm.send(
            mail(to: "sarah.okafor@harbourview.example", subject: "Update on #CS9998"), to: [crm.dropbox(Self.bob)])
        #expect(refused.code == 550)
        #expect(refused.text.contains("5.6.0 #CS9998 is no case or opportunity of your organisation"))
        let refusedLog = try await crm.log().first
        #expect(refusedLog?.outcome == "refused")
        #expect(refusedLog?.unresolvedRefs == ["CS9998"])
        await crm.stop()
    }

    @Test func tasksDueTodayAndTomorrowInTheUsersTimeZone() async throws {
        // Kiritimati is UTC+14 and Pago Pago UTC-11: at most moments their dates differ.
        let crm = try await CRMFixture.start(users: [
            ("ahead@harbourview.example", "Ahead", "Pacific/Kiritimati"), ("behind@harbourview.example", "Behind", "Pacific/Pago_Pago"),
        ])
        for user in ["ahead@harbourview.example", "behind@harbourview.example"] {
            for kind in [DropboxKind.taskToday, .taskTomorrow, .task] {
                let sent = try await crm.send(
                    mail(from: user, to: "client@client-co.example", subject: "Call back \(kind.rawValue)"), from: user,
                    to: [crm.dropbox(user, kind)]
                )
                #expect(sent.code == 250)
            }
        }
        let now = Date()
        let tasks = try await crm.database.tasks(organisation: CRMFixture.organisation)
        #expect(tasks.count == 6)
        for (user, zone) in [("ahead@harbourview.example", "Pacific/Kiritimati"), ("behind@harbourview.example", "Pacific/Pago_Pago")] {
            let mine = tasks.filter { $0.owner == user }
            let today = FilingRules.localDate(now, timeZone: zone, addingDays: 0)
            let tomorrow = FilingRules.localDate(now, timeZone: zone, addingDays: 1)
            #expect(mine.first { $0.title == "Call back task_today" }?.due == today)
            #expect(mine.first { $0.title == "Call back task_tomorrow" }?.due == tomorrow)
            #expect(mine.first { $0.title == "Call back task" }?.due == nil)
            #expect(mine.allSatisfy { $0.contacts.count == 1 })
        }
        await crm.stop()
    }

    @Test func untrustedSenderIsRefusedWithAReasonUntilAdded() async throws {
        let crm = try await CRMFixture.start()
        let message = mail(from: "Bob <bob.carter@gmail.com>", to: "jane@fenwick-logistics.example", subject: "From my phone")
        let refused = try await crm.send(message, from: "bob.carter@gmail.com", to: [crm.dropbox(Self.bob)])
        #expect(refused.code == 550)
        #expect(refused.text == "5.7.1 bob.carter@gmail.com is not a trusted address of this dropbox; add it with intakectl sender add")
        #expect(try await crm.log().first?.outcome == "refused")
        #expect(try await crm.database.storedMessageCount() == 0)
        _ = try await crm.database.addSender(user: Self.bob, email: "bob.carter@gmail.com")
        #expect(try await crm.send(message, from: "bob.carter@gmail.com", to: [crm.dropbox(Self.bob)]).code == 250)
        await crm.stop()
    }

    /// A user and an internal domain typed with IDNA labels match the Unicode form a message's
    /// fields are read in: her own mail is trusted, and her colleague is no contact.
    @Test func addressesTypedWithIDNALabelsMatchTheMessage() async throws {
        let crm = try await CRMFixture.start(
            users: [("anna@xn--mller-kva.example", "Anna Müller", "UTC")], internalDomains: ["XN--MLLER-KVA.example"])
        let message = mail(
            from: "Anna Müller <anna@xn--mller-kva.example>", to: "jane.fenwick@fenwick-logistics.example",
            cc: "max@müller.example", subject: "Angebot")
        let sent = try await crm.send(message, from: "anna@xn--mller-kva.example", to: [crm.dropbox("anna@xn--mller-kva.example")])
        #expect(sent.code == 250, "\(sent.text)")
        #expect(try await crm.contactEmails() == ["jane.fenwick@fenwick-logistics.example"])
        await crm.stop()
    }

    @Test func rotatedTokenIsRefusedAtRCPT() async throws {
        var crm = try await CRMFixture.start()
        let old = crm.dropbox(Self.bob)
        crm.users[Self.bob] = try await crm.database.rotateToken(user: Self.bob)
        let sent = try await crm.send(mail(to: "jane@fenwick-logistics.example", subject: "Hi"), to: [old])
        #expect(sent.refused[old]?.0 == 550)
        #expect(sent.refused[old]?.1.hasPrefix("5.1.1 ") == true)
        #expect(try await crm.send(mail(to: "jane@fenwick-logistics.example", subject: "Hi"), to: [crm.dropbox(Self.bob)]).code == 250)
        await crm.stop()
    }

    @Test func colleaguesInternalDomainsAndExclusionsAreNeverContacts() async throws {
        let crm = try await CRMFixture.start()
        _ = try await crm.database.addExclusion(organisation: CRMFixture.organisation, pattern: "noreply@*")
        _ = try await crm.database.addExclusion(organisation: CRMFixture.organisation, pattern: "@supplier-portal.example")
        _ = try await crm.database.addExclusion(organisation: CRMFixture.organisation, user: Self.bob, pattern: "newsletter@news.example")
        let message = mail(
            to: "Sarah Okafor <sarah.okafor@harbourview.example>, Jane <jane.fenwick@fenwick-logistics.example>",
            cc: "noreply@vendor.example, billing@supplier-portal.example, newsletter@news.example, ops@eu.harbourview.example",
            subject: "Team update", body: "Loop in accounts@fenwick-logistics.example please.\n"
        )
        #expect(try await crm.send(message, to: [crm.dropbox(Self.bob)]).code == 250)
        #expect(try await crm.contactEmails() == ["jane.fenwick@fenwick-logistics.example", "accounts@fenwick-logistics.example"])
        await crm.stop()
    }

    @Test func forwardFromAColleagueIsStillProcessed() async throws {
        let crm = try await CRMFixture.start()
        _ = try await crm.database.addSender(user: Self.sarah, email: Self.bob)
        // Bob's Gmail forward reaches Sarah's dropbox: Bob is a colleague, the original sender a contact.
        let sent = try await crm.send(
            try CRMFixture.fixture("clients/gmail_forward_with_note.eml"), from: Self.bob, to: [crm.dropbox(Self.sarah)])
        #expect(sent.code == 250)
        #expect(try await crm.contactEmails() == ["jane.fenwick@fenwick-logistics.example", "t.reyes@fenwick-logistics.example"])
        await crm.stop()
    }

    @Test func freeMailNeverMakesACompanyAndTheListIsExtendable() async throws {
        let crm = try await CRMFixture.start()
        try await crm.database.setSetting(organisation: CRMFixture.organisation, key: "freemail_domains_extra", value: "mailbox.example")
        let message = mail(
            to: "a@gmail.com, b@hotmail.co.uk, c@yahoo.fr, d@gmx.de, e@mailbox.example, f@acme-tools.example", subject: "Many people"
        )
        #expect(try await crm.send(message, to: [crm.dropbox(Self.bob)]).code == 250)
        let companies = try await crm.database.companies(organisation: CRMFixture.organisation)
        #expect(companies.map(\.name) == ["Acme Tools"])
        #expect(try await crm.contactEmails().count == 6)
        #expect(FreemailDomains.count >= 100)
        await crm.stop()
    }

    @Test func duplicatesAreFiledOnceAndCreditedToEveryUser() async throws {
        let crm = try await CRMFixture.start()
        // A shared address both users send from.
        for user in [Self.bob, Self.sarah] { _ = try await crm.database.addSender(user: user, email: "sales@harbourview.example") }
        let message = mail(
            from: "Sales <sales@harbourview.example>", to: "jane@fenwick-logistics.example", subject: "Offer",
            messageID: "<offer-1@harbourview.example>")
        #expect(try await crm.send(message, from: "sales@harbourview.example", to: [crm.dropbox(Self.bob)]).code == 250)
        // The same message again at the same dropbox (a retry), and at a colleague's.
        #expect(try await crm.send(message, from: "sales@harbourview.example", to: [crm.dropbox(Self.bob)]).code == 250)
        #expect(try await crm.send(message, from: "sales@harbourview.example", to: [crm.dropbox(Self.sarah)]).code == 250)
        #expect(try await crm.database.storedMessageCount() == 1)
        #expect(try await crm.database.notes(organisation: CRMFixture.organisation).count == 1)
        let log = try await crm.log()
        #expect(log.map(\.outcome) == ["duplicate", "duplicate", "filed"])
        #expect(Set(log.compactMap(\.user)) == [Self.bob, Self.sarah])
        #expect(log[0].reason?.contains("credited") == true)
        await crm.stop()
    }

    @Test func autoRepliesAreKeptNotFiled() async throws {
        let crm = try await CRMFixture.start()
        let message = mail(
            to: "jane@fenwick-logistics.example", subject: "Out of office", extraHeaders: ["Auto-Submitted: auto-replied"]
        )
        #expect(try await crm.send(message, to: [crm.dropbox(Self.bob)]).code == 250)
        let row = try #require(try await crm.log().first)
        #expect(row.outcome == "automated")
        #expect(row.reason == "an automated message (auto-reply, bulk or delivery report); kept, not filed")
        #expect(try await crm.contactEmails().isEmpty)
        #expect(try await crm.database.companies(organisation: CRMFixture.organisation).isEmpty)
        #expect(try await crm.database.notes(organisation: CRMFixture.organisation).isEmpty)
        #expect(try await crm.database.storedMessageCount() == 1)
        await crm.stop()
    }

    @Test func noteWithoutContactIsRefusedButCasesAreCreated() async throws {
        let crm = try await CRMFixture.start()
        let internalOnly = mail(to: "Sarah <sarah.okafor@harbourview.example>", subject: "Internal only")
        let refused = try await crm.send(internalOnly, to: [crm.dropbox(Self.bob)])
        #expect(refused.code == 550)
        #expect(refused.text.hasPrefix("5.6.0 no contact address found in this message"))
        #expect(try await crm.send(internalOnly, to: [crm.dropbox(Self.bob, .case)]).code == 250)
        #expect(try await crm.database.records(organisation: CRMFixture.organisation, opportunities: false).count == 1)
        await crm.stop()
    }

    @Test func withoutCreateContactsUnknownPeopleAreUnmatched() async throws {
        let crm = try await CRMFixture.start()
        try await crm.database.setSetting(organisation: CRMFixture.organisation, key: "create_contacts", value: "false")
        #expect(try await crm.send(mail(to: "new.person@newco.example", subject: "Hello"), to: [crm.dropbox(Self.bob)]).code == 250)
        #expect(try await crm.log().first?.outcome == "unmatched")
        #expect(try await crm.contactEmails().isEmpty)
        #expect(try await crm.database.storedMessageCount() == 1)
        await crm.stop()
    }

    @Test func eachRecipientIsJudgedOnItsOwn() async throws {
        let crm = try await CRMFixture.start()
        // From Bob to Bob's and Sarah's dropboxes: Sarah does not trust Bob's address.
        let message = mail(to: "jane@fenwick-logistics.example", subject: "Shared")
        #expect(try await crm.send(message, to: [crm.dropbox(Self.bob), crm.dropbox(Self.sarah)]).code == 250)
        let log = try await crm.log()
        #expect(Set(log.map(\.outcome)) == ["filed", "refused"])
        #expect(log.first { $0.outcome == "refused" }?.reason?.contains("not a trusted address") == true)
        // Only refusals: the refusal is the reply.
        let alone = try await crm.send(mail(to: "jane@fenwick-logistics.example", subject: "Only Sarah"), to: [crm.dropbox(Self.sarah)])
        #expect(alone.code == 550)
        await crm.stop()
    }

    @Test func postmasterMailIsKept() async throws {
        let crm = try await CRMFixture.start()
        let sent = try await crm.send(
            mail(from: "someone@elsewhere.example", to: "postmaster@dropbox.localhost", subject: "Abuse report"),
            from: "someone@elsewhere.example", to: ["postmaster@dropbox.localhost"])
        #expect(sent.code == 250)
        #expect(try await crm.log().first?.outcome == "unmatched")
        #expect(try await crm.database.storedMessageCount() == 1)
        // At the name the greeting gives (smtp.hostname) too: RFC 5321 §4.5.1.
        let atHostname = try await crm.send(
            mail(from: "someone@elsewhere.example", to: "postmaster@mx.intake.test", subject: "Abuse report 2"),
            from: "someone@elsewhere.example", to: ["Postmaster@MX.intake.test"])
        #expect(atHostname.code == 250)
        #expect(try await crm.database.storedMessageCount() == 2)
        // A sender's retry is kept once.
        let again = mail(from: "someone@elsewhere.example", to: "postmaster@dropbox.localhost", subject: "Abuse report 3")
        for _ in 0..<2 {
            #expect(try await crm.send(again, from: "someone@elsewhere.example", to: ["postmaster@dropbox.localhost"]).code == 250)
        }
        #expect(try await crm.database.storedMessageCount() == 3)
        #expect(try await crm.log().map(\.outcome).sorted() == ["duplicate", "unmatched", "unmatched", "unmatched"])
        // Another's mail that reuses the Message-ID is kept.
        let id = "<reused@elsewhere.example>"
        for sender in ["someone@elsewhere.example", "other@elsewhere.example"] {
            let text = mail(from: sender, to: "postmaster@dropbox.localhost", subject: "Report", messageID: id)
            #expect(try await crm.send(text, from: sender, to: ["postmaster@dropbox.localhost"]).code == 250)
        }
        #expect(try await crm.database.storedMessageCount() == 5)
        await crm.stop()
    }
}
