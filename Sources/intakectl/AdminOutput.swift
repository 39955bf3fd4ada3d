import AdminAPI
import Foundation

/// Shows admin results to people: lists (`{"items": […]}`) as aligned tables, objects as
/// `key: value` lines with nested objects indented.
enum AdminOutput {
    /// The longest cell of a table; longer text is cut with `…`.
    static let maxCellWidth = 60

    static func render(_ result: JSONValue, columns: [String]) -> String {
        if case .array(let items)? = result["items"], result.objectValue?.count == 1 {
            return table(items, columns: columns)
        }
        return record(result, indent: "")
    }

    /// Items as a table: a header of the column names in capitals, then a row per item.
    static func table(_ items: [JSONValue], columns given: [String]) -> String {
        guard !items.isEmpty else { return "(none)\n" }
        let columns = given.isEmpty ? Array(Set(items.flatMap { $0.objectValue?.keys.sorted() ?? [] })).sorted() : given
        let rows = items.map { item in columns.map { cell(item[$0] ?? .null) } }
        let headers = columns.map { $0.uppercased() }
        var widths = headers.map(\.count)
        for row in rows {
            for (index, text) in row.enumerated() { widths[index] = max(widths[index], text.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, text in
                index == cells.count - 1 ? text : text.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ") + "\n"
        }
        return line(headers) + rows.map(line).joined()
    }

    /// One value in a table cell: one line, at most ``maxCellWidth`` characters.
    static func cell(_ value: JSONValue) -> String {
        let text = inline(value).replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
            .trimmingCharacters(in: .whitespaces)
        return text.count > maxCellWidth ? String(text.prefix(maxCellWidth - 1)) + "…" : text
    }

    static func inline(_ value: JSONValue) -> String {
        switch value {
        case .null: return "-"
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let number): return String(number)
        case .double(let number): return String(number)
        case .string(let text): return text
        case .array(let elements): return elements.isEmpty ? "-" : elements.map(inline).joined(separator: ", ")
        case .object(let members): return members.keys.sorted().map { "\($0)=\(inline(members[$0]!))" }.joined(separator: " ")
        }
    }

    /// An object as `key: value` lines, keys sorted, nested objects and lists of objects indented.
    static func record(_ value: JSONValue, indent: String) -> String {
        guard case .object(let members) = value else { return indent + inline(value) + "\n" }
        var output = ""
        for key in members.keys.sorted() {
            let member = members[key]!
            switch member {
            case .object(let nested) where !nested.isEmpty:
                output += "\(indent)\(key):\n" + record(member, indent: indent + "  ")
            case .array(let elements) where elements.contains(where: { $0.objectValue != nil }):
                output += "\(indent)\(key):\n"
                for element in elements {
                    let block = record(element, indent: indent + "    ")
                    output += indent + "  - " + block.dropFirst(indent.count + 4)
                }
            case .string(let text) where text.contains("\n"):
                output += "\(indent)\(key): |\n"
                for line in text.split(separator: "\n", omittingEmptySubsequences: false) { output += "\(indent)  \(line)\n" }
            default:
                output += "\(indent)\(key): \(inline(member))\n"
            }
        }
        return output
    }
}
