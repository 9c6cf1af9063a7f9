/// Writes JSON straight into bytes.
///
/// Responses are built with this rather than `JSONEncoder`, which measured 7–8× slower on our
/// list views (FASTCGI-NOTES §4) and is where a FastCGI worker's time goes. Commas are placed
/// automatically; callers pair `beginObject`/`endObject` and `beginArray`/`endArray`.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// Per open container: whether it has an element yet (so the next one needs a comma).
    private var hasElements: [Bool] = []
    private var afterKey = false

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    private mutating func beginElement() {
        if afterKey {
            afterKey = false
            return
        }
        if let last = hasElements.indices.last {
            if hasElements[last] { bytes.append(UInt8(ascii: ",")) }
            hasElements[last] = true
        }
    }

    public mutating func beginObject() {
        beginElement()
        bytes.append(UInt8(ascii: "{"))
        hasElements.append(false)
    }

    public mutating func endObject() {
        hasElements.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    public mutating func beginArray() {
        beginElement()
        bytes.append(UInt8(ascii: "["))
        hasElements.append(false)
    }

    public mutating func endArray() {
        hasElements.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    /// A value encoded earlier (a cached view), copied as it is.
    public mutating func raw(_ fragment: [UInt8]) {
        beginElement()
        bytes.append(contentsOf: fragment)
    }

    public mutating func key(_ name: String) {
        beginElement()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    /// A key known at compile time (all of the views'): copied without an escaping check.
    public mutating func key(_ name: StaticString) {
        beginElement()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        afterKey = true
    }

    /// A string value written by `write`, which appends its UTF-8 bytes (they must need no
    /// escaping: digits, dots, dashes).
    public mutating func unescapedString(_ write: (inout [UInt8]) -> Void) {
        beginElement()
        bytes.append(UInt8(ascii: "\""))
        write(&bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func string(_ value: String) {
        beginElement()
        appendQuoted(value)
    }

    public mutating func int(_ value: Int) {
        beginElement()
        Self.appendDecimal(value, to: &bytes)
    }

    /// `value` in decimal ASCII, without going through `String`.
    public static func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        if magnitude < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // up to 20 digits, little-endian scratch
        let count = withUnsafeMutableBytes(of: &digits) { scratch -> Int in
            var n = 0
            while magnitude > 0 {
                scratch[n] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                n += 1
            }
            return n
        }
        withUnsafeBytes(of: &digits) { scratch in
            for i in stride(from: count - 1, through: 0, by: -1) { bytes.append(scratch[i]) }
        }
    }

    public mutating func bool(_ value: Bool) {
        beginElement()
        bytes.append(contentsOf: value ? Self.trueBytes : Self.falseBytes)
    }

    public mutating func null() {
        beginElement()
        bytes.append(contentsOf: Self.nullBytes)
    }

    /// A string, or null when nil.
    public mutating func string(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    /// An object of string values, keys sorted so output is stable.
    public mutating func stringDictionary(_ value: [String: String]) {
        beginObject()
        for (k, v) in value.sorted(by: { $0.key < $1.key }) {
            key(k)
            string(v)
        }
        endObject()
    }

    public mutating func stringArray(_ values: [String]) {
        beginArray()
        for value in values { string(value) }
        endArray()
    }

    /// A `key: value` pair, for the common case.
    public mutating func field(_ name: StaticString, _ value: String?) {
        key(name)
        string(value)
    }

    public mutating func field(_ name: StaticString, _ value: Int) {
        key(name)
        int(value)
    }

    public mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        bool(value)
    }

    private static let trueBytes = Array("true".utf8)
    private static let falseBytes = Array("false".utf8)
    private static let nullBytes = Array("null".utf8)
    private static let hex = Array("0123456789abcdef".utf8)

    private mutating func appendQuoted(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings need no escaping: copy them whole.
        let needsEscaping =
            value.utf8.withContiguousStorageIfAvailable { buffer in
                buffer.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
            } ?? true
        if !needsEscaping {
            bytes.append(contentsOf: value.utf8)
        } else {
            for byte in value.utf8 {
                switch byte {
                case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
                case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
                case UInt8(ascii: "\n"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
                case UInt8(ascii: "\r"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
                case UInt8(ascii: "\t"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
                case ..<0x20:
                    bytes += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")]
                    bytes += [Self.hex[Int(byte >> 4)], Self.hex[Int(byte & 0xf)]]
                default: bytes.append(byte)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
