import Foundation

/// One request on the admin socket: `{"id": 1, "command": "user.create", "params": {…}}`.
public struct AdminRequest: Sendable, Hashable, Codable {
    /// Chosen by the client and echoed in the response; any JSON value (`null` when absent).
    public var id: JSONValue
    /// `GROUP.VERB`, one of ``AdminCommand/all``.
    public var command: String
    /// The command's parameters; absent means none.
    public var params: [String: JSONValue]

    public init(id: JSONValue, command: String, params: [String: JSONValue] = [:]) {
        self.id = id
        self.command = command
        self.params = params
    }

    enum CodingKeys: String, CodingKey {
        case id, command, params
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIfPresent(JSONValue.self, forKey: .id) ?? .null
        command = try container.decode(String.self, forKey: .command)
        params = try container.decodeIfPresent([String: JSONValue].self, forKey: .params) ?? [:]
    }
}

/// A failed request's error: a stable code and a sentence that names what to fix.
public struct AdminError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The error codes of the admin API.
    public enum Code: String, Sendable, Hashable, Codable, CaseIterable {
        /// Bad JSON, an unknown command, a missing or ill-typed parameter, a value the rules refuse.
        case invalid
        /// The organisation, user or record named does not exist.
        case notFound = "not_found"
        /// The change clashes with what exists (a name or email taken).
        case conflict
        /// The peer may not use the admin socket.
        case forbidden
        /// The store cannot answer now (busy, full, I/O); try again.
        case unavailable
        /// A bug or an unexpected failure.
        case `internal`
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// The answer to one request: `{"id": 1, "ok": true, "result": {…}}` or
/// `{"id": 1, "ok": false, "error": {"code": "not_found", "message": "…"}}`.
public struct AdminResponse: Sendable, Hashable, Codable {
    public var id: JSONValue
    /// The result of a request that succeeded.
    public var result: JSONValue?
    /// The error of a request that failed.
    public var error: AdminError?

    /// Whether the request succeeded.
    public var ok: Bool { error == nil }

    public static func success(id: JSONValue, _ result: JSONValue) -> AdminResponse {
        AdminResponse(id: id, result: result, error: nil)
    }

    public static func failure(id: JSONValue, _ error: AdminError) -> AdminResponse {
        AdminResponse(id: id, result: nil, error: error)
    }

    enum CodingKeys: String, CodingKey {
        case id, ok, result, error
    }

    public init(id: JSONValue, result: JSONValue?, error: AdminError?) {
        self.id = id
        self.result = result
        self.error = error
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIfPresent(JSONValue.self, forKey: .id) ?? .null
        let ok = try container.decode(Bool.self, forKey: .ok)
        if ok {
            result = try container.decodeIfPresent(JSONValue.self, forKey: .result) ?? .null
            error = nil
        } else {
            result = nil
            error = try container.decode(AdminError.self, forKey: .error)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(ok, forKey: .ok)
        if let error {
            try container.encode(error, forKey: .error)
        } else {
            try container.encode(result ?? .null, forKey: .result)
        }
    }
}

/// A request line that cannot be carried out, with the request's id when it could be read.
public struct AdminRequestError: Error, Sendable, Hashable {
    public var id: JSONValue
    public var error: AdminError

    public init(id: JSONValue, _ error: AdminError) {
        self.id = id
        self.error = error
    }
}

/// Newline-delimited JSON on the admin socket: one JSON object per line, `\n` ending it (a `\r`
/// before it is ignored), at most ``maxLineLength`` octets without the newline.
public enum AdminFraming {
    /// The longest request or response line: 1 MiB. Over it the daemon answers `invalid` and closes.
    public static let maxLineLength = 1 << 20

    /// The JSON encoding used on the wire: sorted keys, slashes unescaped; one line.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// `value` as one line of JSON with its `\n`.
    public static func encodeLine(_ value: some Encodable) throws -> [UInt8] {
        var bytes = [UInt8](try encoder().encode(value))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// Reads one request line (without its newline). On failure the error is `invalid` and names
    /// what is wrong; `id` is the request's id when it could be read, so the answer carries it.
    public static func decodeRequest(_ line: some Collection<UInt8>) -> Result<AdminRequest, AdminRequestError> {
        var bytes = Array(line)
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            return .failure(
                AdminRequestError(id: .null, AdminError(.invalid, "the request is not valid JSON; send one JSON object per line")))
        }
        guard case .object(let members) = value else {
            return .failure(AdminRequestError(id: .null, AdminError(.invalid, "the request must be a JSON object, not \(value.typeName)")))
        }
        let id = members["id"] ?? .null
        guard let commandValue = members["command"] else {
            return .failure(AdminRequestError(id: id, AdminError(.invalid, "command is missing")))
        }
        guard case .string(let command) = commandValue else {
            return .failure(AdminRequestError(id: id, AdminError(.invalid, "command must be a string, not \(commandValue.typeName)")))
        }
        var params: [String: JSONValue] = [:]
        switch members["params"] {
        case nil, .null?: break
        case .object(let given)?: params = given
        case let other?: return .failure(AdminRequestError(id: id, AdminError(.invalid, "params must be an object, not \(other.typeName)")))
        }
        return .success(AdminRequest(id: id, command: command, params: params))
    }

    /// Reads one response line (without its newline).
    public static func decodeResponse(_ line: some Collection<UInt8>) throws -> AdminResponse {
        try JSONDecoder().decode(AdminResponse.self, from: Data(line))
    }
}

/// Splits a byte stream into lines, refusing a line longer than the cap: for clients reading
/// responses (the daemon has its NIO decoder).
public struct AdminLineBuffer: Sendable {
    private var buffer: [UInt8] = []
    private var scanned = 0
    public let maxLineLength: Int

    /// What the next line is.
    public enum Next: Sendable, Hashable {
        /// A complete line, without its newline.
        case line([UInt8])
        /// No complete line yet.
        case needMoreBytes
        /// More than `maxLineLength` octets without a newline.
        case tooLong
    }

    public init(maxLineLength: Int = AdminFraming.maxLineLength) {
        self.maxLineLength = maxLineLength
    }

    /// Adds bytes read from the peer.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// Takes the next complete line, if there is one.
    public mutating func next() -> Next {
        if let newline = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
            guard newline <= maxLineLength else { return .tooLong }
            let line = Array(buffer[..<newline])
            buffer.removeFirst(newline + 1)
            scanned = 0
            return .line(line)
        }
        scanned = buffer.count
        return buffer.count > maxLineLength ? .tooLong : .needMoreBytes
    }

    /// Bytes received but not yet returned as a line.
    public var pendingCount: Int { buffer.count }
}
