import ComputeCore

/// A parsed query string (`a=1&b=two+words`), with the checks every listing needs.
public struct QueryParameters: Sendable, Equatable {
    /// In the order given.
    public private(set) var pairs: [(name: String, value: String)]

    public static func == (a: QueryParameters, b: QueryParameters) -> Bool {
        a.pairs.elementsEqual(b.pairs) { $0.name == $1.name && $0.value == $1.value }
    }

    /// Decodes `+` and percent-escapes; 400 when an escape is malformed or not UTF-8.
    public init(_ raw: String) throws(APIError) {
        pairs = []
        for item in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = PercentDecoding.decode(parts[0], plusIsSpace: true),
                let value = PercentDecoding.decode(parts.count > 1 ? parts[1] : "", plusIsSpace: true)
            else {
                throw .badRequest("Malformed query string: invalid percent-encoding in '\(item.prefix(64))'.")
            }
            pairs.append((name, value))
        }
    }

    /// Refuses parameters outside `allowed`, and any given twice.
    public func check(allowed: [String]) throws(APIError) {
        var seen = Set<String>()
        for (name, _) in pairs {
            guard allowed.contains(name) else {
                throw .badRequest(
                    "Unknown query parameter '\(name.prefix(64))'. Supported: \(allowed.joined(separator: ", ")).")
            }
            guard seen.insert(name).inserted else {
                throw .badRequest("Query parameter '\(name)' is given more than once.")
            }
        }
    }

    /// The value of `name`, nil when absent; 400 when present but empty.
    public func value(_ name: String) throws(APIError) -> String? {
        guard let value = pairs.last(where: { $0.name == name })?.value else { return nil }
        guard !value.isEmpty else { throw .badRequest("Query parameter '\(name)' must not be empty.") }
        return value
    }

    /// A boolean as OpenStack reads one (`1`/`0`, `true`/`false`, `t`/`f`, `yes`/`no`, `y`/`n`,
    /// `on`/`off`, any case), nil when absent; 400 for anything else.
    public func boolean(_ name: String) throws(APIError) -> Bool? {
        guard let text = pairs.last(where: { $0.name == name })?.value else { return nil }
        switch text.lowercased() {
        case "1", "true", "t", "yes", "y", "on": return true
        case "0", "false", "f", "no", "n", "off": return false
        default:
            throw .badRequest(
                "Invalid value for query parameter '\(name)': '\(text.prefix(64))' is not a boolean (true/false, 1/0, yes/no, on/off)."
            )
        }
    }

    /// An integer in `range`, nil when absent.
    public func integer(_ name: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let text = try value(name) else { return nil }
        guard let number = Int(text), range.contains(number) else {
            throw .badRequest(
                "Invalid value for query parameter '\(name)': '\(text.prefix(64))' is not an integer from \(range.lowerBound) to \(range.upperBound)."
            )
        }
        return number
    }
}

/// Percent-decoding of path segments and query parts.
public enum PercentDecoding {
    /// Nil when an escape is malformed or the result is not valid UTF-8.
    public static func decode(_ text: Substring, plusIsSpace: Bool) -> String? {
        let utf8 = text.utf8
        guard utf8.contains(UInt8(ascii: "%")) || (plusIsSpace && utf8.contains(UInt8(ascii: "+"))) else {
            return String(text)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var i = utf8.startIndex
        while i < utf8.endIndex {
            let byte = utf8[i]
            if byte == UInt8(ascii: "%") {
                let h = utf8.index(after: i)
                guard h < utf8.endIndex, utf8.index(after: h) < utf8.endIndex,
                    let high = hexValue(utf8[h]), let low = hexValue(utf8[utf8.index(after: h)])
                else { return nil }
                bytes.append(high << 4 | low)
                i = utf8.index(h, offsetBy: 2)
            } else {
                bytes.append(plusIsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                i = utf8.index(after: i)
            }
        }
        return String(strictUTF8: bytes)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Escapes everything but unreserved characters, for building links.
    public static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
