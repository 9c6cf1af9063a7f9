public import ComputeCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Decodes JSON request bodies with Foundation's `JSONDecoder`, after `StrictJSON` has checked
/// their syntax, and turns every way a body can be wrong into a 400 that names the field:
/// `Invalid input for field 'server.name': …`.
///
/// Bodies are parsed as JSON whatever `Content-Type` says (the contract: Postman "raw" bodies,
/// curl without `-H`). Request types decode through `StrictObject`, which refuses unknown keys.
public enum RequestDecoding {
    /// `microversion` is what Nova request types read fields at (`decoder.microversion`).
    public static func decode<T: Decodable>(
        _ type: T.Type, from body: [UInt8], microversion: Microversion? = nil
    ) throws(ComputeError) -> T {
        guard body.contains(where: { !Self.isJSONWhitespace($0) }) else {
            throw .invalidInput("The request body is empty; it must be a JSON object.")
        }
        try StrictJSON.check(body)
        do {
            let decoder = JSONDecoder()
            if let microversion { decoder.userInfo[.microversion] = microversion }
            return try decoder.decode(type, from: Data(body))
        } catch let error as ComputeError {
            throw error
        } catch let error as DecodingError {
            throw .invalidInput(message(for: error))
        } catch {
            throw .invalidInput("The request body could not be read as JSON.")
        }
    }

    static func message(for error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let type, let context):
            let field = fieldPath(context.codingPath)
            if field.isEmpty { return "The request body must be a JSON object." }
            return "Invalid input for field '\(field)': expected \(describe(type))."
        case .valueNotFound(let type, let context):
            let field = fieldPath(context.codingPath)
            if field.isEmpty { return "The request body must be a JSON object." }
            return "Invalid input for field '\(field)': expected \(describe(type)), not null."
        case .keyNotFound(let key, let context):
            let field = fieldPath(context.codingPath)
            return field.isEmpty
                ? "'\(key.stringValue)' is a required property."
                : "Invalid input for field '\(field)': '\(key.stringValue)' is a required property."
        case .dataCorrupted(let context):
            let field = fieldPath(context.codingPath)
            if field.isEmpty {
                return "Malformed request body: it is not valid JSON text in UTF-8."
            }
            return "Invalid input for field '\(field)': \(context.debugDescription)"
        @unknown default:
            return "The request body could not be read as JSON."
        }
    }

    /// `server.metadata.key`, `server.networks[0].uuid`.
    static func fieldPath(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return text
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Double.Type: "a number"
        case is [Any].Type: "an array"
        default: String(describing: type).hasPrefix("Dictionary") ? "an object" : "a value of another type"
        }
    }

    private static func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d
    }
}

/// A JSON object in a request body that may only contain the keys it names.
///
/// Numbers are read as `Double` and checked here, because `JSONDecoder` reports a fraction or
/// an overflow in an `Int` field as "not valid JSON" without naming the field.
public struct StrictObject {
    private let container: KeyedDecodingContainer<AnyKey>
    /// The object's own path (`server`), for messages.
    public let path: String

    public init(_ decoder: any Decoder, allowed: [String]) throws {
        container = try decoder.container(keyedBy: AnyKey.self)
        path = RequestDecoding.fieldPath(decoder.codingPath)
        // A body of one wrapper (`server`, `flavor`) that came without it: say so, rather than
        // call its fields unknown.
        if path.isEmpty, allowed.count == 1, !container.allKeys.isEmpty, !container.contains(AnyKey(allowed[0])) {
            let found = container.allKeys.map(\.stringValue).sorted().prefix(3).map { "'\($0.prefix(64))'" }
                .joined(separator: ", ")
            throw ComputeError.invalidInput(
                "Wrap the fields in {\"\(allowed[0])\": {…}}: the request body has \(found)\(container.allKeys.count > 3 ? ", …" : "") at its top level, where only '\(allowed[0])' belongs."
            )
        }
        for key in container.allKeys where !allowed.contains(key.stringValue) {
            let location = path.isEmpty ? "The request body" : "Invalid input for field '\(path)':"
            throw ComputeError.invalidInput(
                "\(location) unknown property '\(key.stringValue.prefix(64))'. Allowed: \(allowed.joined(separator: ", ")).")
        }
    }

    public func field(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// True when the key is present, whatever its value (null too).
    public func contains(_ key: String) -> Bool { container.contains(AnyKey(key)) }

    /// True when the key is present with a value other than null.
    public func has(_ key: String) throws -> Bool {
        let k = AnyKey(key)
        return try container.contains(k) && !container.decodeNil(forKey: k)
    }

    /// True when the key is present. A `null` there is refused as the wrong type: fields take
    /// `null` only where the API says so (the `nullable…` readers).
    private func present(_ key: String, expected: String) throws -> Bool {
        let k = AnyKey(key)
        guard container.contains(k) else { return false }
        if try container.decodeNil(forKey: k) { throw ComputeError.invalidField(field(key), "expected \(expected), not null.") }
        return true
    }

    public func string(_ key: String) throws -> String? {
        try present(key, expected: "a string") ? container.decode(String.self, forKey: AnyKey(key)) : nil
    }

    /// A string that may also be `null` (read as absent).
    public func nullableString(_ key: String) throws -> String? {
        try has(key) ? container.decode(String.self, forKey: AnyKey(key)) : nil
    }

    public func requiredString(_ key: String) throws -> String {
        guard let value = try string(key) else { throw missing(key) }
        return value
    }

    /// An integer given as a JSON number or as a string of digits (Nova accepts both).
    public func integer(_ key: String) throws -> Int? {
        guard try present(key, expected: "an integer") else { return nil }
        let k = AnyKey(key)
        if let number = try? container.decode(Double.self, forKey: k) {
            guard number.rounded() == number else {
                throw ComputeError.invalidField(field(key), "must be an integer.")
            }
            // Huge values clamp (Int(Double) would trap), so range checks report them.
            return number >= 0x1p62 ? Int(1 << 62) : number <= -0x1p62 ? -Int(1 << 62) : Int(number)
        }
        if let text = try? container.decode(String.self, forKey: k), let number = Int(text) {
            return number
        }
        throw ComputeError.invalidField(field(key), "must be an integer.")
    }

    public func requiredInteger(_ key: String) throws -> Int {
        guard let value = try integer(key) else { throw missing(key) }
        return value
    }

    /// A boolean given as JSON `true`/`false` or as one of the strings Nova accepts.
    public func boolean(_ key: String) throws -> Bool? {
        guard try present(key, expected: "a boolean") else { return nil }
        let k = AnyKey(key)
        if let value = try? container.decode(Bool.self, forKey: k) { return value }
        if let text = try? container.decode(String.self, forKey: k) {
            switch text.lowercased() {
            case "true", "1", "yes", "on", "t", "y": return true
            case "false", "0", "no", "off", "f", "n": return false
            default: break
            }
        }
        throw ComputeError.invalidField(field(key), "must be a boolean.")
    }

    /// An object of string values (metadata, extra specs).
    public func stringMap(_ key: String) throws -> [String: String]? {
        try present(key, expected: "an object") ? container.decode([String: String].self, forKey: AnyKey(key)) : nil
    }

    /// A nested object that may only contain `allowed` keys.
    public func object(_ key: String, allowed: [String]) throws -> StrictObject? {
        try present(key, expected: "an object")
            ? StrictObject(container.superDecoder(forKey: AnyKey(key)), allowed: allowed) : nil
    }

    public func requiredObject(_ key: String, allowed: [String]) throws -> StrictObject {
        guard let value = try object(key, allowed: allowed) else { throw missing(key) }
        return value
    }

    /// Any other decodable value at `key`.
    public func decode<T: Decodable>(_ type: T.Type, _ key: String) throws -> T? {
        try has(key) ? container.decode(type, forKey: AnyKey(key)) : nil
    }

    private func missing(_ key: String) -> ComputeError {
        path.isEmpty
            ? .invalidInput("'\(key)' is a required property.")
            : .invalidField(path, "'\(key)' is a required property.")
    }
}

/// A coding key for any string (or array index).
public struct AnyKey: CodingKey, Sendable {
    public var stringValue: String
    public var intValue: Int?

    public init(_ string: String) {
        stringValue = string
        intValue = nil
    }

    public init?(stringValue: String) { self.init(stringValue) }

    public init?(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
    }
}

extension CodingUserInfoKey {
    static let microversion = CodingUserInfoKey(rawValue: "microversion")!
}

extension Decoder {
    /// The microversion a Nova request body is read at (2.1 when none was set).
    var microversion: Microversion { userInfo[.microversion] as? Microversion ?? .minimum }
}
