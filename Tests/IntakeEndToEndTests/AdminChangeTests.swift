import AdminAPI
import Foundation
import Testing

/// Admin changes end to end, through the real socket: a user's name and time zone, reprocessing
/// and the log it keeps, and what the daemon logs of admin requests.
@Suite struct AdminChangeTests {
    /// A user's name and time zone change through the socket, and the next task due today is
    /// dated in the new zone; abbreviations and offsets are no time zones.
    @Test func aUsersTimeZoneChangesAndTasksFollowIt() async throws {
        let admin = try await AdminFixture.start()
        let (alice, _) = try AdminTests.acme(admin)
        let today = try #require(alice["addresses"]?["task_today"]?.stringValue)
        // Kiritimati is UTC+14 and Pago Pago UTC-11: their dates differ at most moments.
        for zone in ["Pacific/Kiritimati", "Pacific/Pago_Pago"] {
            let updated = try admin.result("user.update", ["user": .string(AdminTests.alice), "timezone": .string(zone)])
            #expect(updated["timezone"] == .string(zone))
            #expect(updated["addresses"] == alice["addresses"])
            let sent = try await admin.send(
                mail(from: AdminTests.alice, to: "Jane Fenwick <\(AdminTests.jane)>", subject: "Call back, \(zone)"),
                from: AdminTests.alice, to: [today])
            #expect(sent.code == 250)
            let task = try admin.items("task.list", ["org": "acme", "user": .string(AdminTests.alice)]).first {
                $0["title"] == .string("Call back, \(zone)")
            }
            let now = Date()
            let expected = [0, 1].map { Self.localDate(now.addingTimeInterval(Double(-$0) * 60), zone) }
            #expect(expected.contains(task?["due"]?.stringValue ?? "none"))
        }
        let renamed = try admin.result("user.update", ["user": .string(AdminTests.alice), "name": "Alice Archer-Lee"])
        #expect(renamed["name"] == "Alice Archer-Lee")
        #expect(renamed["timezone"] == "Pacific/Pago_Pago")
        for zone in ["IST", "CET", "GMT+5", "Etc/GMT+5", "Europe/Nowhere", ""] {
            #expect(try admin.error("user.update", ["user": .string(AdminTests.alice), "timezone": .string(zone)])?.code == .invalid)
            #expect(
                try admin.error("user.create", ["org": "acme", "email": "z@acme.test", "name": "Z", "timezone": .string(zone)])?.code
                    == .invalid)
        }
        #expect(
            try admin.error("user.update", ["user": .string(AdminTests.alice)])?.message == "user update needs a new name or a new timezone"
        )
        #expect(try admin.result("user.update", ["user": .string(AdminTests.bob), "timezone": "UTC"])["timezone"] == "UTC")
        await admin.stop()
    }

    /// A task sent to two users' dropboxes in one transaction is owned by the first (the second
    /// is credited); reprocessed, it stays theirs, and the log keeps one row per recipient.
    @Test func reprocessingKeepsTheOwnerAndOneLogRowPerRecipient() async throws {
        let admin = try await AdminFixture.start()
        let (alice, bob) = try AdminTests.acme(admin)
        for user in [AdminTests.alice, AdminTests.bob] {
            try admin.result("sender.add", ["user": .string(user), "email": "team@acme-team.test"])
        }
        let recipients = try [bob, alice].map { try #require($0["addresses"]?["task_today"]?.stringValue) }
        let sent = try await admin.send(
            mail(from: "team@acme-team.test", to: AdminTests.jane, subject: "Call Jane"), from: "team@acme-team.test", to: recipients)
        #expect(sent.code == 250)
        #expect(try admin.items("task.list", ["org": "acme"]).map { $0["owner"] } == [.string(AdminTests.bob)])
        var message = try #require(try admin.items("message.list", ["org": "acme"]).first?["message"])
        for _ in 0..<2 {
            message = try #require(try admin.result("message.reprocess", ["message": message])["message"])
            #expect(try admin.items("task.list", ["org": "acme"]).map { $0["owner"] } == [.string(AdminTests.bob)])
            let log = try admin.items("message.list", ["org": "acme"])
            #expect(log.map { $0["outcome"] } == ["duplicate", "filed"])
            #expect(log.allSatisfy { $0["message"] == message })
        }
        // Sent to the short `+opp` address, and reprocessed after the token is rotated: the log
        // keeps its one row (the address a reprocess files for is the current canonical one).
        let token = try #require(alice["addresses"]?["note"]?.stringValue?.split(separator: "@").first)
        let opp = "\(token)+opp@dropbox.localhost"
        #expect(
            try await admin.send(
                mail(from: "team@acme-team.test", to: AdminTests.jane, subject: "Chairs"), from: "team@acme-team.test", to: [opp]
            ).code == 250)
        try admin.result("user.rotate", ["user": .string(AdminTests.alice)])
        let chairs = try #require(try admin.items("message.list", ["org": "acme"]).first { $0["subject"] == "Chairs" }?["message"])
        let reprocessed = try #require(try admin.result("message.reprocess", ["message": chairs])["message"])
        let rows = try admin.items("message.list", ["org": "acme"]).filter { $0["subject"] == "Chairs" }
        #expect(rows.map { $0["recipient"] } == [.string(opp)])
        #expect(rows.map { $0["outcome"] } == ["filed"])
        #expect(rows.first?["message"] == reprocessed)
        await admin.stop()
    }

    static func localDate(_ date: Date, _ zone: String) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone)!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    /// A value with line breaks, tabs or escape characters (here an unknown command's name) is
    /// logged on one line, escaped: it cannot forge a second line.
    @Test func aLoggedValueCannotForgeALogLine() async throws {
        let admin = try await AdminFixture.start(settings: ["log.level": "debug"])
        let forged = "x\r\nts=2026-01-01T00:00:00.000Z level=critical msg=\"forged\"\t\u{1B}[31m"
        #expect(try admin.call(forged).error?.code == .invalid)
        try await Task.sleep(for: .milliseconds(200))
        // Split at every line feed, the one of a "\r\n" pair too.
        let lines = admin.daemon.logText.unicodeScalars.split(separator: "\n").map { String(String.UnicodeScalarView($0)) }
        #expect(!lines.contains { $0.hasPrefix("ts=2026-01-01") || $0.unicodeScalars.contains("\r") })
        let logged = try #require(lines.first { $0.contains("admin.command=") && $0.contains("forged") })
        #expect(logged.contains(#"admin.command="x\r\nts=2026-01-01T00:00:00.000Z level=critical msg=\"forged\"\t\u{1b}[31m""#))
        await admin.stop()
    }
}
