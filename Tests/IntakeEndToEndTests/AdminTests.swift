import AdminAPI
import Foundation
import Testing

/// The admin socket end to end: the real daemon, its real Unix socket, organisations and users
/// made through it, mail sent over SMTP, and what the mail became read back through it.
@Suite struct AdminTests {
    static let alice = "alice@acme.test"
    static let bob = "bob@acme.test"
    static let jane = "jane.fenwick@fenwick-logistics.example"

    /// An organisation `acme` with Alice (Europe/Berlin) and Bob (UTC), made through the socket.
    static func acme(_ admin: AdminFixture) throws -> (alice: JSONValue, bob: JSONValue) {
        try admin.result("org.create", ["name": "acme", "internal_domains": ["acme.test"]])
        let alice = try admin.result(
            "user.create", ["org": "acme", "email": .string(alice), "name": "Alice Archer", "timezone": "Europe/Berlin"])
        let bob = try admin.result("user.create", ["org": 1, "email": .string(bob), "name": "Bob Brown"])
        return (alice, bob)
    }

    @Test func organisationsUsersSendersExclusionsAndSettings() async throws {
        let admin = try await AdminFixture.start()
        let created = try admin.result("org.create", ["name": "acme", "internal_domains": ["Acme.test", "acme-corp.test"]])
        #expect(
            created
                == [
                    "id": 1, "name": "acme", "internal_domains": ["acme.test", "acme-corp.test"],
                    "settings": ["create_contacts": true, "company_from_domain": true, "freemail_domains_extra": []],
                ])
        try admin.result("org.create", ["name": "globex"])
        #expect(try admin.items("org.list").map { $0["name"] } == ["acme", "globex"])
        #expect(try admin.result("org.show", ["org": "acme"]) == created)
        #expect(try admin.result("org.show", ["org": 1]) == created)

        let alice = try admin.result(
            "user.create", ["org": "acme", "email": "Alice@Acme.test", "name": "Alice Archer", "timezone": "Europe/Berlin"])
        #expect(alice["email"] == "alice@acme.test")
        #expect(alice["org"] == "acme")
        #expect(alice["timezone"] == "Europe/Berlin")
        let addresses = try #require(alice["addresses"]?.objectValue)
        #expect(Set(addresses.keys) == ["note", "case", "opportunity", "task", "task_today", "task_tomorrow"])
        let note = try #require(addresses["note"]?.stringValue)
        let token = String(note.prefix { $0 != "@" })
        #expect(token.count == 16 && note.hasSuffix("@dropbox.localhost"))
        #expect(addresses["case"] == .string("\(token)+case@dropbox.localhost"))
        #expect(addresses["task_tomorrow"] == .string("\(token)+tomorrow@dropbox.localhost"))
        let bob = try admin.result("user.create", ["org": 1, "email": .string(Self.bob), "name": "Bob Brown"])
        #expect(bob["timezone"] == "UTC")
        #expect(try admin.items("user.list", ["org": "acme"]).map { $0["email"] } == [.string(Self.alice), .string(Self.bob)])
        #expect(try admin.result("user.show", ["user": .string(Self.alice)]) == alice)
        #expect(try admin.result("user.show", ["user": alice["id"]!]) == alice)

        // Trusted extra senders.
        #expect(
            try admin.items("sender.add", ["user": .string(Self.alice), "email": "Alice.Home@Mail.test"]) == [
                ["email": "alice.home@mail.test"]
            ])
        try admin.result("sender.add", ["user": .string(Self.alice), "email": "archer@work.test"])
        #expect(
            try admin.items("sender.list", ["user": .string(Self.alice)]).map { $0["email"] } == [
                "alice.home@mail.test", "archer@work.test",
            ])
        #expect(try admin.items("sender.remove", ["user": .string(Self.alice), "email": "archer@work.test"]).count == 1)
        #expect(try admin.result("user.show", ["user": .string(Self.alice)])["senders"] == ["alice.home@mail.test"])

        // Exclusions: the organisation's and one user's own.
        #expect(try admin.result("exclusion.add", ["org": "acme", "pattern": "@NoReply.test"])["pattern"] == "@noreply.test")
        #expect(
            try admin.result("exclusion.add", ["org": "acme", "user": .string(Self.alice), "pattern": "newsletter@*"])["user"]
                == .string(Self.alice))
        try admin.result("exclusion.add", ["org": "acme", "pattern": "spam@junk.test"])
        // The same pattern again is no change.
        try admin.result("exclusion.add", ["org": "acme", "pattern": "spam@junk.test"])
        #expect(
            try admin.items("exclusion.list", ["org": "acme"]).map { $0["pattern"] } == ["@noreply.test", "newsletter@*", "spam@junk.test"])
        #expect(try admin.items("exclusion.list", ["org": "acme", "user": .string(Self.alice)]).map { $0["pattern"] } == ["newsletter@*"])
        #expect(try admin.result("exclusion.remove", ["org": "acme", "pattern": "spam@junk.test"])["pattern"] == "spam@junk.test")
        let ownedByAlice = try admin.error("exclusion.remove", ["org": "acme", "pattern": "newsletter@*"])
        #expect(ownedByAlice?.code == .notFound)
        #expect(ownedByAlice?.message.contains("remove it with --user \(Self.alice)") == true, "\(String(describing: ownedByAlice))")
        try admin.result("exclusion.remove", ["org": "acme", "user": .string(Self.alice), "pattern": "newsletter@*"])
        #expect(try admin.items("exclusion.list", ["org": "acme"]).map { $0["pattern"] } == ["@noreply.test"])
        // Another organisation's user cannot be given one.
        try admin.result("org.create", ["name": "beta"])
        let foreign = try admin.error("exclusion.add", ["org": "beta", "user": .string(Self.alice), "pattern": "@x.test"])
        #expect(foreign?.code == .invalid)
        #expect(foreign?.message == "\(Self.alice) is not a user of beta", "\(String(describing: foreign))")

        // Settings.
        #expect(try admin.result("settings.get", ["org": "acme"]) == created["settings"])
        let changed = try admin.result(
            "settings.set", ["org": "acme", "key": "freemail_domains_extra", "value": ["Mail.test", "post.test"]])
        #expect(changed["freemail_domains_extra"] == ["mail.test", "post.test"])
        try admin.result("settings.set", ["org": "acme", "key": "company_from_domain", "value": false])
        try admin.result("settings.set", ["org": "acme", "key": "create_contacts", "value": "false"])
        #expect(try admin.result("settings.get", ["org": "acme", "key": "create_contacts"]) == ["key": "create_contacts", "value": false])
        #expect(try admin.result("org.show", ["org": "acme"])["settings"]?["company_from_domain"] == false)

        // Rotating the token: the old addresses are refused at RCPT, the new ones work.
        let rotated = try admin.result("user.rotate", ["user": .string(Self.bob)])
        let oldNote = try #require(bob["addresses"]?["note"]?.stringValue)
        let newNote = try #require(rotated["addresses"]?["note"]?.stringValue)
        #expect(oldNote != newNote)
        let refused = try await admin.send(mail(from: "Bob <\(Self.bob)>", to: Self.jane, subject: "Hi"), from: Self.bob, to: [oldNote])
        #expect(refused.code == 0 && refused.refused[oldNote] == 550)
        #expect(
            try await admin.send(mail(from: "Bob <\(Self.bob)>", to: Self.jane, subject: "Hi"), from: Self.bob, to: [newNote]).code == 250)

        // Deleting a user.
        #expect(try admin.result("user.delete", ["user": .string(Self.bob)])["email"] == .string(Self.bob))
        #expect(try admin.error("user.show", ["user": .string(Self.bob)])?.code == .notFound)
        #expect(
            try await admin.send(mail(from: "Bob <\(Self.bob)>", to: Self.jane, subject: "Hi"), from: Self.bob, to: [newNote]).refused[
                newNote]
                == 550)
        await admin.stop()
    }

    @Test func mailSentOverSMTPIsSeenThroughTheSocket() async throws {
        let admin = try await AdminFixture.start()
        let (alice, _) = try Self.acme(admin)
        let addresses = try #require(alice["addresses"])
        let from = "Alice Archer <\(Self.alice)>"
        let sent = try await admin.send(
            mail(from: from, to: "Jane Fenwick <\(Self.jane)>", cc: "Mike Lee <mike.lee@gmail.com>", subject: "Quote for 40 chairs"),
            from: Self.alice, to: [addresses["note"]!.stringValue!])
        #expect(sent.code == 250)

        // The contacts, their company, the notes and the log entry.
        let contacts = try admin.items("contact.list", ["org": "acme"])
        #expect(contacts.map { $0["name"] } == ["Jane Fenwick", "Mike Lee"])
        let jane = try #require(contacts.first)
        #expect(jane["emails"] == [.string(Self.jane)])
        #expect(jane["company"] == "Fenwick Logistics")
        #expect(contacts[1]["company"] == .null)
        #expect(try admin.items("contact.list", ["org": "acme", "email": "MIKE.LEE@gmail.com"]).map { $0["name"] } == ["Mike Lee"])
        #expect(
            try admin.items("contact.list", ["org": "acme", "company": "fenwick-logistics.example"]).map { $0["name"] } == ["Jane Fenwick"])
        let shown = try admin.result("contact.show", ["contact": jane["id"]!])
        #expect(shown["notes"]?.arrayValue?.count == 1)
        #expect(shown["notes"]?.arrayValue?.first?["author"] == .string(Self.alice))
        #expect(shown["notes"]?.arrayValue?.first?["text"]?.stringValue?.contains("Quote for 40 chairs") == true)
        #expect(shown["messages"]?.arrayValue?.map { $0["subject"] } == ["Quote for 40 chairs"])
        #expect(try admin.result("contact.show", ["contact": .string(Self.jane), "org": "acme"]) == shown)

        let companies = try admin.items("company.list", ["org": "acme"])
        #expect(companies == [["id": 1, "name": "Fenwick Logistics", "domains": ["fenwick-logistics.example"], "contacts": [jane["id"]!]]])
        let company = try admin.result("company.show", ["company": "fenwick-logistics.example", "org": "acme"])
        #expect(company["messages"]?.arrayValue?.count == 1)
        #expect(try admin.result("company.show", ["company": 1]) == company)

        let notes = try admin.items("note.list", ["org": "acme"])
        #expect(notes.count == 2)
        #expect(Set(notes.compactMap { $0["created_at"]?.stringValue?.count }) == [20])
        #expect(try admin.items("note.list", ["org": "acme", "contact": .string(Self.jane)]).count == 1)

        let log = try admin.items("message.list", ["org": "acme"])
        #expect(log.count == 1)
        let entry = try #require(log.first)
        #expect(entry["outcome"] == "filed")
        #expect(entry["users"] == [.string(Self.alice)])
        #expect(entry["kind"] == "note")
        #expect(entry["subject"] == "Quote for 40 chairs")
        #expect(entry["from"] == .string(Self.alice))
        #expect(entry["filed"]?.strings.filter { $0.hasPrefix("contact:") }.count == 2)
        let messageID = try #require(entry["message"])

        let message = try admin.result("message.show", ["message": messageID])
        #expect(message["subject"] == "Quote for 40 chairs")
        #expect(message["org"] == "acme")
        #expect(message["users"]?.arrayValue?.first?["email"] == .string(Self.alice))
        #expect(message["summary"]?["people"]?.arrayValue?.count == 3)
        #expect(message["summary"]?["new_text"]?.stringValue?.contains("See you soon") == true)
        let raw = try admin.result("message.raw", ["message": messageID])
        let bytes = try #require(Data(base64Encoded: raw["raw"]?.stringValue ?? ""))
        #expect(raw["size"] == .int(Int64(bytes.count)))
        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix("Received: from "))
        #expect(String(decoding: bytes, as: UTF8.self).contains("Subject: Quote for 40 chairs"))

        // Cases, opportunities and tasks.
        #expect(
            try await admin.send(
                mail(from: from, to: Self.jane, subject: "Wobbly desk"), from: Self.alice, to: [addresses["case"]!.stringValue!]
            )
            .code == 250)
        #expect(
            try await admin.send(
                mail(from: from, to: Self.jane, subject: "Chairs for Leeds"), from: Self.alice, to: [addresses["opportunity"]!.stringValue!]
            )
            .code == 250)
        #expect(
            try await admin.send(
                mail(from: from, to: Self.jane, subject: "Call Jane back"), from: Self.alice, to: [addresses["task_today"]!.stringValue!]
            )
            .code == 250)
        let cases = try admin.items("case.list", ["org": "acme"])
        #expect(cases.map { $0["ref"] } == ["CS1001"])
        #expect(cases.first?["status"] == "open")
        #expect(cases.first?["contacts"] == [jane["id"]!])
        #expect(try admin.result("case.show", ["case": "CS1001", "org": "acme"]) == cases.first)
        #expect(try admin.result("case.show", ["case": "#CS1001"]) == cases.first)
        #expect(try admin.result("case.show", ["case": cases.first!["id"]!]) == cases.first)
        let opportunities = try admin.items("opportunity.list", ["org": "acme"])
        #expect(opportunities.map { $0["ref"] } == ["CO1001"])
        #expect(opportunities.first?["stage"] == "new")
        #expect(try admin.result("opportunity.show", ["opportunity": "CO1001"]) == opportunities.first)
        let tasks = try admin.items("task.list", ["org": "acme", "user": .string(Self.alice)])
        #expect(tasks.map { $0["title"] } == ["Call Jane back"])
        #expect(tasks.first?["due"]?.stringValue?.count == 10)
        #expect(tasks.first?["owner"] == .string(Self.alice))
        #expect(try admin.items("task.list", ["org": "acme", "user": .string(Self.bob)]).isEmpty)

        // The log: newest first, filters, limit.
        #expect(try admin.items("message.list", ["org": "acme"]).map { $0["kind"] } == ["task_today", "opportunity", "case", "note"])
        #expect(try admin.items("message.list", ["org": "acme", "limit": 2]).count == 2)
        #expect(try admin.items("message.list", ["user": .string(Self.alice), "outcome": "filed"]).count == 4)
        #expect(try admin.items("message.list", ["org": "acme", "outcome": "unmatched"]).isEmpty)
        await admin.stop()
    }

    @Test func unmatchedMessagesAreAssignedAndReprocessed() async throws {
        let admin = try await AdminFixture.start()
        let (alice, _) = try Self.acme(admin)
        let note = try #require(alice["addresses"]?["note"]?.stringValue)
        let from = "Alice Archer <\(Self.alice)>"
        try admin.result("settings.set", ["org": "acme", "key": "create_contacts", "value": false])

        // No known contact and create_contacts off: kept as unmatched.
        #expect(
            try await admin.send(mail(from: from, to: "Jane <\(Self.jane)>", subject: "First"), from: Self.alice, to: [note]).code == 250)
        #expect(
            try await admin.send(mail(from: from, to: "Tom <tom@tanaka.example>", subject: "Second"), from: Self.alice, to: [note]).code
                == 250)
        let unmatched = try admin.items("message.list", ["org": "acme", "outcome": "unmatched"])
        #expect(unmatched.map { $0["subject"] } == ["Second", "First"])
        #expect(try admin.items("contact.list", ["org": "acme"]).isEmpty)

        // Reprocess "First" once contacts may be created: filed, Jane made.
        try admin.result("settings.set", ["org": "acme", "key": "create_contacts", "value": true])
        let first = try #require(unmatched.last?["message"])
        let reprocessed = try admin.result("message.reprocess", ["message": first])
        #expect(reprocessed["results"]?.arrayValue?.map { $0["outcome"] } == ["filed"])
        let newID = try #require(reprocessed["message"])
        #expect(try admin.items("contact.list", ["org": "acme"]).map { $0["emails"] } == [[.string(Self.jane)]])
        #expect(try admin.result("message.show", ["message": newID])["filed"]?.strings.contains("contact:1") == true)
        #expect(try admin.items("note.list", ["org": "acme"]).count == 1)
        // Reprocessing again replaces its note rather than adding one.
        try admin.result("message.reprocess", ["message": newID])
        #expect(try admin.items("note.list", ["org": "acme"]).count == 1)
        // The log keeps one row per recipient as received: "First" is filed now, not unmatched.
        #expect(try admin.items("message.list", ["org": "acme", "outcome": "unmatched"]).map { $0["subject"] } == ["Second"])
        #expect(try admin.items("message.list", ["org": "acme"]).filter { $0["subject"] == "First" }.map { $0["outcome"] } == ["filed"])

        // Assign "Second" by hand to Jane: filed under her (and her company), a note by Alice.
        let second = try #require(unmatched.first?["message"])
        let assigned = try admin.result("message.assign", ["message": second, "contact": .string(Self.jane)])
        #expect(assigned["filed"]?.strings.contains("contact:1") == true)
        let notes = try admin.items("note.list", ["org": "acme", "contact": 1])
        #expect(notes.count == 2)
        #expect(notes.last?["author"] == .string(Self.alice))
        #expect(notes.last?["text"]?.stringValue?.contains("Second") == true)
        #expect(try admin.items("message.list", ["org": "acme", "outcome": "unmatched"]).isEmpty)
        #expect(try admin.error("message.assign", ["message": second, "contact": 1])?.code == .conflict)

        // Assign to a case; reprocessed, a message filed under a case stays under it.
        #expect(
            try await admin.send(
                mail(from: from, to: Self.jane, subject: "Broken"), from: Self.alice, to: [alice["addresses"]!["case"]!.stringValue!]
            )
            .code == 250)
        let assignedToCase = try admin.result("message.assign", ["message": second, "case": "CS1001"])
        #expect(assignedToCase["filed"]?.strings.contains("case:CS1001") == true)
        #expect(try admin.result("case.show", ["case": "CS1001"])["messages"]?.arrayValue?.contains(second) == true)
        // Its log row keeps its reason through a second assignment.
        let secondLog = try admin.items("message.list", ["org": "acme"]).first { $0["message"] == second }
        #expect(secondLog?["reason"] == "filed by hand (message.assign)")
        let secondAgain = try #require(try admin.result("message.reprocess", ["message": second])["message"])
        #expect(try admin.result("message.show", ["message": secondAgain])["filed"]?.strings.contains("case:CS1001") == true)
        #expect(try admin.result("case.show", ["case": "CS1001"])["messages"]?.arrayValue?.contains(secondAgain) == true)
        // The message that opened the case, reprocessed, opens no second one.
        let opening = try #require(try admin.items("message.list", ["org": "acme"]).first { $0["kind"] == "case" }?["message"])
        let openingAgain = try #require(try admin.result("message.reprocess", ["message": opening])["message"])
        #expect(try admin.result("message.show", ["message": openingAgain])["filed"]?.strings == ["case:CS1001", "contact:1", "company:1"])
        #expect(try admin.items("case.list", ["org": "acme"]).map { $0["ref"] } == ["CS1001"])
        #expect(try admin.result("case.show", ["case": "CS1001"])["messages"]?.arrayValue?.count == 2)
        // An auto-reply, kept unfiled, assigned to the case by hand: reprocessed, it stays there.
        let autoReply = mail(from: from, to: Self.jane, subject: "Out of office", extraHeaders: ["Auto-Submitted: auto-replied"])
        #expect(try await admin.send(autoReply, from: Self.alice, to: [note]).code == 250)
        let automated = try #require(try admin.items("message.list", ["org": "acme", "outcome": "automated"]).first?["message"])
        try admin.result("message.assign", ["message": automated, "case": "CS1001"])
        let automatedAgain = try #require(try admin.result("message.reprocess", ["message": automated])["message"])
        #expect(try admin.result("message.show", ["message": automatedAgain])["filed"]?.strings == ["case:CS1001"])
        #expect(try admin.result("case.show", ["case": "CS1001"])["messages"]?.arrayValue?.contains(automatedAgain) == true)
        #expect(try admin.error("message.assign", ["message": secondAgain])?.code == .invalid)
        #expect(try admin.error("message.assign", ["message": secondAgain, "contact": 1, "case": "CS1001"])?.code == .invalid)
        #expect(try admin.error("message.assign", ["message": secondAgain, "opportunity": "CO1001"])?.code == .notFound)
        await admin.stop()
    }

    /// A message from someone new, kept as unmatched with create_contacts off, is filed under a
    /// contact the admin creates: named from the address, at the company of its domain.
    @Test func aContactCreatedByHandTakesAnUnmatchedMessage() async throws {
        let admin = try await AdminFixture.start()
        let (alice, _) = try Self.acme(admin)
        let note = try #require(alice["addresses"]?["note"]?.stringValue)
        try admin.result("settings.set", ["org": "acme", "key": "create_contacts", "value": false])
        let message = mail(from: "Alice Archer <\(Self.alice)>", to: "tom.tanaka@tanaka.example", subject: "Quote")
        #expect(try await admin.send(message, from: Self.alice, to: [note]).code == 250)
        let unmatched = try #require(try admin.items("message.list", ["org": "acme", "outcome": "unmatched"]).first?["message"])

        let created = try admin.result("contact.create", ["org": "acme", "email": "Tom.Tanaka@Tanaka.example"])
        #expect(created["name"] == "Tom Tanaka")
        #expect(created["emails"] == [.string("tom.tanaka@tanaka.example")])
        #expect(created["company"] == "Tanaka")
        #expect(try admin.error("contact.create", ["org": "acme", "email": "tom.tanaka@tanaka.example"])?.code == .conflict)
        #expect(try admin.error("contact.create", ["org": "acme", "email": .string(Self.alice)])?.code == .invalid)
        let named = try admin.result("contact.create", ["org": "acme", "email": "mia@gmail.com", "name": "Mia Chen"])
        #expect(named["name"] == "Mia Chen")
        #expect(named["company"] == .null)

        let assigned = try admin.result("message.assign", ["message": unmatched, "contact": "tom.tanaka@tanaka.example"])
        #expect(assigned["filed"]?.strings.contains("contact:1") == true)
        #expect(try admin.items("note.list", ["org": "acme", "contact": 1]).count == 1)
        await admin.stop()
    }

    @Test func statusReportsVersionListenersCountsAndSize() async throws {
        let admin = try await AdminFixture.start(settings: ["metrics.port": "0"])
        _ = try Self.acme(admin)
        let status = try admin.result("status")
        #expect(status["version"] == .string(IntakeVersion.current))
        #expect(status["listeners"]?["smtp"] == .string("127.0.0.1:\(admin.daemon.port)"))
        #expect(status["listeners"]?["admin"] == .string(admin.socketPath))
        let metricsPort = try #require(ObservabilityTests.httpPort(admin.daemon))
        #expect(status["listeners"]?["metrics"] == .string("127.0.0.1:\(metricsPort)"))
        #expect(status["counts"]?["organisations"] == 1)
        #expect(status["counts"]?["users"] == 2)
        #expect(status["counts"]?["messages"] == 0)
        #expect((status["database"]?["size"]?.intValue ?? 0) > 0)
        #expect(status["database"]?["path"] == .string(admin.daemon.dataDirectory + "/intake.sqlite"))
        #expect((status["uptime_seconds"]?.intValue ?? -1) >= 0)
        await admin.stop()
    }

    // MARK: Errors

    @Test func everyErrorCode() async throws {
        let admin = try await AdminFixture.start(settings: ["database.max_size": "262144"])
        _ = try Self.acme(admin)
        // invalid: a parameter the rules refuse, a missing one, an ill-typed one, an unknown one.
        #expect(try admin.error("user.create", ["org": "acme", "email": "not-an-address", "name": "X"])?.code == .invalid)
        // What admins type is checked: addresses, domains and names the rules could never match.
        for (command, params) in [
            ("user.create", ["org": "acme", "email": "a b@acme.test", "name": "X"]),
            ("user.create", ["org": "acme", "email": "x@localhost", "name": "X"]),
            ("user.create", ["org": "acme", "email": "x@acme.test", "name": ""]),
            ("org.create", ["name": "123"]),
            ("org.create", ["name": "x\u{0}y"]),
            ("org.create", ["name": "evil\u{202E}gro"]),
            ("user.create", ["org": "acme", "email": "a\u{202E}b@acme.test", "name": "X"]),
            ("org.create", ["name": "globex", "internal_domains": ["not a domain"]]),
            ("settings.set", ["org": "acme", "key": "freemail_domains_extra", "value": "mail.example,@@"]),
            ("sender.add", ["user": .string(Self.alice), "email": "home@@mail.test"]),
        ] as [(String, [String: JSONValue])] {
            #expect(try admin.error(command, params)?.code == .invalid, "\(command) \(params)")
        }
        // Names are written with joiners (Persian, emoji sequences); a domain is not.
        #expect(try admin.result("org.create", ["name": "کتاب\u{200C}خانه"])["name"] == "کتاب\u{200C}خانه")
        #expect(try admin.error("user.create", ["org": "acme", "email": "a@exam\u{200D}ple.com", "name": "X"])?.code == .invalid)
        // An address or domain typed with its IDNA labels is kept as a message names it.
        let idn = try admin.result("user.create", ["org": "acme", "email": "Anna@XN--MLLER-KVA.example", "name": "Anna"])
        #expect(idn["email"] == "anna@müller.example")
        #expect(try admin.result("user.show", ["user": "anna@xn--mller-kva.example"])["email"] == "anna@müller.example")
        let missing = try admin.error("org.show")
        #expect(missing == AdminError(.invalid, "params.org is missing; org.show needs org"))
        #expect(try admin.error("org.show", ["org": ["acme"]])?.message == "params.org must be an id or a name, not a list")
        #expect(try admin.error("message.list", ["limit": "ten"])?.message == "params.limit must be a whole number, not a string")
        #expect(try admin.error("message.list", ["outcome": "lost"])?.code == .invalid)
        #expect(try admin.error("settings.set", ["org": "acme", "key": "colour", "value": "red"])?.code == .invalid)
        #expect(try admin.error("exclusion.add", ["org": "acme", "pattern": "*@*"])?.code == .invalid)
        #expect(try admin.error("org.list", ["verbose": true])?.message == "params.verbose is not a parameter of org.list; it takes none")
        #expect(
            try admin.error("user.create", ["org": "acme", "email": "z@acme.test", "name": "Z", "timezone": "Mars/Base"])?.code == .invalid)
        #expect(try admin.error("frobnicate")?.message.hasPrefix("unknown command frobnicate; known: org.create, org.list") == true)
        // not_found
        #expect(try admin.error("org.show", ["org": "initech"]) == AdminError(.notFound, "no organisation named initech"))
        #expect(try admin.error("user.rotate", ["user": "nobody@acme.test"])?.code == .notFound)
        #expect(try admin.error("contact.show", ["contact": 99])?.code == .notFound)
        #expect(try admin.error("case.show", ["case": "CS4242"])?.code == .notFound)
        #expect(try admin.error("message.show", ["message": 99])?.code == .notFound)
        #expect(try admin.error("message.raw", ["message": 99])?.code == .notFound)
        #expect(try admin.error("sender.remove", ["user": .string(Self.alice), "email": "x@y.test"])?.code == .notFound)
        // conflict
        #expect(try admin.error("org.create", ["name": "ACME"])?.code == .conflict)
        #expect(try admin.error("user.create", ["org": "acme", "email": .string(Self.alice), "name": "Again"])?.code == .conflict)
        // unavailable: the database is at database.max_size.
        let big = String(repeating: "x", count: 300_000)
        let full = try admin.error("org.create", ["name": .string(big)])
        #expect(full?.code == .unavailable, "\(full?.description ?? "")")
        // …and it recovers: small writes still fit.
        try admin.result("org.create", ["name": "small"])
        // internal: an unexpected store failure (a table dropped behind the daemon's back).
        let dropped = try runCommand(
            "/usr/bin/env",
            [
                "python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('DROP TABLE exclusion'); c.commit()",
                admin.daemon.dataDirectory + "/intake.sqlite",
            ])
        #expect(dropped.status == 0, "\(dropped.error)")
        let failure = try admin.error("exclusion.list", ["org": "acme"])
        #expect(failure?.code == .internal, "\(failure?.description ?? "")")
        // The daemon goes on answering.
        #expect(try admin.call("status").ok)
        await admin.stop()
    }

    @Test func badRequestsKeepTheConnectionUsableAndAnswersComeInOrder() async throws {
        let admin = try await AdminFixture.start()
        let client = try admin.client()
        let lines = [
            "{nope", "[1]", #"{"id":2,"command":"nope.cmd"}"#, #"{"id":3,"command":"org.show","params":{"org":[1]}}"#,
            #"{"id":4,"command":"org.show"}"#, #"{"id":5,"command":"org.create","params":{"name":"acme","colour":"red"}}"#,
            #"{"id":"six","command":"org.create","params":{"name":"acme"}}"#, "", #"{"id":7,"command":"org.show","params":{"org":"acme"}}"#,
        ]
        // All pipelined in one write: answered one by one, in order, the blank line skipped.
        try client.send(Array((lines.joined(separator: "\n") + "\n").utf8))
        var responses: [AdminResponse] = []
        for _ in 0..<(lines.count - 1) { responses.append(try #require(try client.readResponse())) }
        #expect(responses.map(\.id) == [nil, nil, 2, 3, 4, 5, "six", 7])
        #expect(responses.map(\.error?.code) == [.invalid, .invalid, .invalid, .invalid, .invalid, .invalid, nil, nil])
        #expect(responses[0].error?.message.contains("not valid JSON") == true)
        #expect(responses[2].error?.message.contains("unknown command nope.cmd") == true)
        #expect(responses[3].error?.message.contains("params.org") == true)
        #expect(responses[4].error?.message.contains("params.org is missing") == true)
        #expect(responses[5].error?.message.contains("params.colour") == true)
        #expect(responses[7].result?["name"] == "acme")
        // The same connection still works.
        #expect(try client.call("org.list").result?["items"]?.arrayValue?.count == 1)
        await admin.stop()
    }

    @Test func aRequestLineOverOneMebibyteIsAnsweredThenClosed() async throws {
        let admin = try await AdminFixture.start()
        // Exactly 1 MiB (padding inside the object) is still a request.
        let head = #"{"id":1,"command":"status","pad":""#
        let exact = head + String(repeating: " ", count: AdminFraming.maxLineLength - head.utf8.count - 2) + #""}"#
        #expect(exact.utf8.count == AdminFraming.maxLineLength)
        let client = try admin.client()
        try client.send(Array((exact + "\n").utf8))
        let answer = try #require(try client.readResponse())
        #expect(answer.id == 1 && answer.ok)

        // One octet more, even without a newline yet: an error, then the connection closes.
        let over = try admin.client()
        try? over.send([UInt8](repeating: UInt8(ascii: "x"), count: AdminFraming.maxLineLength + 1))
        let refused = try #require(try over.readResponse())
        #expect(refused.error?.code == .invalid)
        #expect(refused.error?.message.contains("longer than 1 MiB") == true)
        #expect(try over.readLine() == nil)
        // Others are not affected.
        #expect(try admin.call("status").ok)
        await admin.stop()
    }

    // MARK: Load

    @Test func fiftyConcurrentAdminClientsWhileSMTPTrafficFlows() async throws {
        let admin = try await AdminFixture.start()
        let (alice, _) = try Self.acme(admin)
        let note = try #require(alice["addresses"]?["note"]?.stringValue)
        let numbers = Daemon.temporaryDirectory("intake-numbers") + "/numbers"
        try (0..<60).map(String.init).joined(separator: "\n").write(toFile: numbers, atomically: true, encoding: .utf8)
        let socketPath = admin.socketPath
        // A stuck client (half a line, then silence) and one that pipelines requests without ever
        // reading the answers: neither may hold anyone else up.
        let stuck = try admin.client()
        try stuck.send(Array(#"{"id":1,"command":"sta"#.utf8))
        let deaf = try admin.client()
        try deaf.send(Array(String(repeating: #"{"id":1,"command":"org.list"}"# + "\n", count: 3000).utf8))
        // SMTP: 60 messages over 6 sessions, in a process of its own.
        let smtp = Task.detached {
            try runCommand(
                "/usr/bin/env",
                ["python3", ClientTests.scripts + "/load_messages.py", String(admin.daemon.port), Self.alice, note, "6", numbers])
        }
        // Admin: 50 clients on threads of their own, each with 10 requests (reads and writes).
        let outcomes = await withTaskGroup(of: (Int, [String]).self) { group in
            for client in 0..<50 {
                group.addTask {
                    await withCheckedContinuation { continuation in
                        Thread.detachNewThread {
                            continuation.resume(returning: (client, Self.adminSession(socketPath, client: client)))
                        }
                    }
                }
            }
            var all: [Int: [String]] = [:]
            for await (client, problems) in group { all[client] = problems }
            return all
        }
        let load = try await smtp.value
        #expect(outcomes.count == 50)
        let failed = outcomes.filter { !$0.value.isEmpty }
        #expect(failed.isEmpty, "\(Array(failed.prefix(3)))")
        #expect(load.output.split(separator: "\n").filter { $0.hasPrefix("ack ") }.count == 60, "\(load.error)")
        #expect(try admin.items("exclusion.list", ["org": "acme"]).count == 50 * 3)
        #expect(try admin.result("status")["counts"]?["messages"] == 60)
        stuck.close()
        deaf.close()
        await admin.stop()
    }

    /// One admin client's session: ten requests on one connection; returns what went wrong.
    static func adminSession(_ socketPath: String, client number: Int) -> [String] {
        var problems: [String] = []
        do {
            let client = try AdminClient(socketPath: socketPath, timeout: .seconds(20))
            for step in 0..<10 {
                let response: AdminResponse
                switch step % 4 {
                case 0: response = try client.call("exclusion.add", ["org": "acme", "pattern": .string("c\(number)s\(step)@*")])
                case 1: response = try client.call("message.list", ["org": "acme", "limit": 5])
                case 2: response = try client.call("contact.list", ["org": "acme"])
                default: response = try client.call("status")
                }
                if !response.ok || response.id != .int(Int64(step + 1)) { problems.append("step \(step): \(response)") }
            }
        } catch {
            problems.append("\(error)")
        }
        return problems
    }
}
