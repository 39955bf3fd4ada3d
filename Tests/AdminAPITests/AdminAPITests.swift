import AdminAPI
import Foundation
import Testing

/// The admin protocol's pure parts: request decoding with errors that name the field, response
/// encoding, line framing with its cap, parameter reading, the command table.
@Suite struct AdminAPITests {
    @Test(arguments: [
        (#"{"id":1,"command":"org.list"}"#, AdminRequest(id: 1, command: "org.list")),
        (
            #"{"id":"a","command":"user.show","params":{"user":"bob@x.test"}}"#,
            AdminRequest(id: "a", command: "user.show", params: ["user": "bob@x.test"])
        ),
        (#"{"command":"status","params":null}"#, AdminRequest(id: nil, command: "status")),
        ("{\"id\":2,\"command\":\"status\"}\r", AdminRequest(id: 2, command: "status")),
        (
            #"{"id":3,"command":"message.list","params":{"limit":5,"org":"acme"}}"#,
            AdminRequest(id: 3, command: "message.list", params: ["limit": 5, "org": "acme"])
        ),
    ])
    func decodesRequests(_ line: String, _ expected: AdminRequest) throws {
        #expect(try AdminFraming.decodeRequest(Array(line.utf8)).get() == expected)
    }

    @Test(arguments: [
        ("{nope", JSONValue.null, "not valid JSON"),
        ("[1,2]", .null, "must be a JSON object, not a list"),
        (#"{"id":7}"#, 7, "command is missing"),
        (#"{"id":8,"command":42}"#, 8, "command must be a string, not a number"),
        (#"{"id":9,"command":"org.list","params":[1]}"#, 9, "params must be an object, not a list"),
        ("", .null, "not valid JSON"),
    ])
    func refusesBadRequestsNamingTheField(_ line: String, _ id: JSONValue, _ message: String) {
        guard case .failure(let failure) = AdminFraming.decodeRequest(Array(line.utf8)) else {
            Issue.record("\(line) was accepted")
            return
        }
        #expect(failure.id == id)
        #expect(failure.error.code == .invalid)
        #expect(failure.error.message.contains(message), "\(failure.error.message)")
    }

    @Test func responsesEncodeAsTheArchitectureShows() throws {
        let success = AdminResponse.success(id: 1, ["name": "acme", "internal_domains": ["acme.test"]])
        #expect(
            String(decoding: try AdminFraming.encodeLine(success), as: UTF8.self)
                == #"{"id":1,"ok":true,"result":{"internal_domains":["acme.test"],"name":"acme"}}"# + "\n")
        let failure = AdminResponse.failure(id: 2, AdminError(.notFound, "no organisation named acme"))
        #expect(
            String(decoding: try AdminFraming.encodeLine(failure), as: UTF8.self)
                == #"{"error":{"code":"not_found","message":"no organisation named acme"},"id":2,"ok":false}"# + "\n")
        for response in [success, failure] {
            var line = try AdminFraming.encodeLine(response)
            line.removeLast()
            #expect(try AdminFraming.decodeResponse(line) == response)
        }
    }

    @Test func errorCodesAreTheArchitecturesSix() {
        #expect(AdminError.Code.allCases.map(\.rawValue) == ["invalid", "not_found", "conflict", "forbidden", "unavailable", "internal"])
    }

    @Test(arguments: [
        "null", "true", "false", "0", "-12", "9007199254740993", "1.5", "\"text with \\\"quotes\\\" and é\"", "[]", "[1,\"a\",null]",
        "{\"a\":{\"b\":[true]}}",
    ])
    func jsonValuesRoundTrip(_ text: String) throws {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        let again = try JSONDecoder().decode(JSONValue.self, from: AdminFraming.encoder().encode(value))
        #expect(value == again)
    }

    @Test func numbersKeepTheirKind() throws {
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data("42".utf8)) == .int(42))
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data("4.5".utf8)) == .double(4.5))
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data("true".utf8)) == .bool(true))
    }

    // MARK: Framing

    @Test func linesSplitAtEveryByteBoundary() {
        let stream = Array("{\"id\":1}\n{\"id\":2}\r\n\n{\"id\":3}\n".utf8)
        for split in 0...stream.count {
            var buffer = AdminLineBuffer()
            var lines: [String] = []
            for part in [stream[..<split], stream[split...]] {
                buffer.append(part)
                while case .line(let line) = buffer.next() { lines.append(String(decoding: line, as: UTF8.self)) }
            }
            #expect(lines == ["{\"id\":1}", "{\"id\":2}\r", "", "{\"id\":3}"], "split at \(split)")
            #expect(buffer.pendingCount == 0)
        }
    }

    @Test func aLineOverTheCapIsRefused() {
        var buffer = AdminLineBuffer(maxLineLength: 8)
        buffer.append(Array("12345678\n".utf8))
        #expect(buffer.next() == .line(Array("12345678".utf8)))
        buffer.append(Array("123456789".utf8))
        #expect(buffer.next() == .tooLong)
        var other = AdminLineBuffer(maxLineLength: 8)
        other.append(Array("12345".utf8))
        #expect(other.next() == .needMoreBytes)
        other.append(Array("6789\n".utf8))
        #expect(other.next() == .tooLong)
        #expect(AdminFraming.maxLineLength == 1_048_576)
    }

    // MARK: Parameters

    @Test func parametersAreCheckedAgainstTheCommand() throws {
        let create = try #require(AdminCommand.named("user.create"))
        #expect(throws: AdminError(.invalid, "params.email is missing; user.create needs org, email, name")) {
            try AdminParams(["org": "acme", "name": "Alice"]).check(against: create)
        }
        #expect(throws: AdminError(.invalid, "params.emial is not a parameter of user.create; it takes org, email, name, timezone")) {
            try AdminParams(["org": "acme", "emial": "a@b.test", "email": "a@b.test", "name": "A"]).check(against: create)
        }
        #expect(throws: AdminError(.invalid, "params.org is missing; user.create needs org, email, name")) {
            try AdminParams(["org": nil, "email": "a@b.test", "name": "A"]).check(against: create)
        }
        try AdminParams(["org": 1, "email": "a@b.test", "name": "A"]).check(against: create)
    }

    @Test func parametersAreTypedWithMessagesNamingTheField() throws {
        let params = AdminParams(["name": 5, "org": 12, "user": "bob@x.test", "limit": "ten", "domains": ["a.test", 3], "list": "a, b,,c"])
        #expect(throws: AdminError(.invalid, "params.name must be a string, not a number")) { try params.string("name") }
        #expect(try params.reference("org") == "12")
        #expect(try params.reference("user") == "bob@x.test")
        #expect(throws: AdminError(.invalid, "params.limit must be a whole number, not a string")) { try params.optionalInt("limit") }
        #expect(throws: AdminError(.invalid, "params.domains[1] must be a string, not a number")) {
            try params.optionalStringList("domains")
        }
        #expect(try params.optionalStringList("list") == ["a", "b", "c"])
        #expect(throws: AdminError(.invalid, "params.missing is missing")) { try params.string("missing") }
        #expect(try params.optionalString("missing") == nil)
    }

    /// The issues' admin list, `backup` of the operations issue, `contact.create` for the
    /// unmatched messages of someone new, `user.update` for a user's name and time zone, and
    /// `attachment.list` and `attachment.get` for attachments by their SHA-256 (the filing issue's
    /// store).
    @Test func theCommandTableIsTheIssuesList() {
        let names = AdminCommand.all.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(
            Set(names) == [
                "org.create", "org.list", "org.show", "user.create", "user.list", "user.show", "user.update", "user.delete", "user.rotate",
                "sender.add",
                "sender.remove", "sender.list", "exclusion.add", "exclusion.remove", "exclusion.list", "settings.get", "settings.set",
                "contact.create", "contact.list", "contact.show", "company.list", "company.show", "note.list", "case.list", "case.show",
                "opportunity.list",
                "opportunity.show", "task.list", "message.list", "message.show", "message.raw", "message.assign", "message.reprocess",
                "attachment.list", "attachment.get", "status", "backup",
            ])
        for command in AdminCommand.all {
            #expect(Set(command.required).isDisjoint(with: command.optional), "\(command.name)")
        }
    }
}
