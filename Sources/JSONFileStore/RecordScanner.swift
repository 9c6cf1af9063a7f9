import ComputeCore

/// Reads the JSON of a record file: a strict RFC 8259 pull scanner, used only for records.
///
/// Start-up reads every record; with Foundation's `JSONDecoder` that was 16–27 µs a record and
/// 58% of start-up at 100,000 servers (measured with perf), which missed the 3-second target.
/// Records are our own files, written by `JSONEncoder`, so this reads them field by field into
/// the domain types at about a tenth of that cost. Anything that is not valid JSON, or not the
/// record expected, is an error (and the file is set aside), never a crash.
struct RecordScanner {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private var depth = 0
    private static let maxDepth = 32

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Scans a whole document: `body` reads the top-level value, then only whitespace may follow.
    static func scan<T>(_ buffer: UnsafeBufferPointer<UInt8>, _ body: (inout RecordScanner) throws(Failure) -> T) throws(Failure)
        -> T
    {
        var scanner = RecordScanner(buffer)
        let value = try body(&scanner)
        scanner.skipWhitespace()
        guard scanner.position == buffer.count else { throw scanner.failure("unexpected data after the value") }
        return value
    }

    func failure(_ message: String) -> Failure { Failure(description: "\(message) at byte \(position)") }

    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws(Failure) {
        skipWhitespace()
        guard current == byte else { throw failure("expected '\(Character(Unicode.Scalar(byte)))'") }
        position += 1
    }

    /// True (and consumed) when the next value is `null`.
    mutating func null() throws(Failure) -> Bool {
        skipWhitespace()
        guard current == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    private mutating func literal(_ text: StaticString) throws(Failure) {
        let length = text.utf8CodeUnitCount
        guard position + length <= bytes.count,
            text.withUTF8Buffer({ expected in expected.elementsEqual(bytes[position..<position + length]) })
        else { throw failure("expected \(text)") }
        position += length
    }

    /// Reads an object, calling `field` with each key; `field` must read (or skip) the value.
    mutating func object(_ field: (String, inout RecordScanner) throws(Failure) -> Void) throws(Failure) {
        try expect(UInt8(ascii: "{"))
        depth += 1
        guard depth <= Self.maxDepth else { throw failure("nested too deeply") }
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return
        }
        while true {
            let key = try string()
            try expect(UInt8(ascii: ":"))
            try field(key, &self)
            skipWhitespace()
            if current == UInt8(ascii: ",") {
                position += 1
                continue
            }
            try expect(UInt8(ascii: "}"))
            depth -= 1
            return
        }
    }

    /// Reads an array, calling `element` for each element.
    mutating func array(_ element: (inout RecordScanner) throws(Failure) -> Void) throws(Failure) {
        try expect(UInt8(ascii: "["))
        depth += 1
        guard depth <= Self.maxDepth else { throw failure("nested too deeply") }
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return
        }
        while true {
            try element(&self)
            skipWhitespace()
            if current == UInt8(ascii: ",") {
                position += 1
                continue
            }
            try expect(UInt8(ascii: "]"))
            depth -= 1
            return
        }
    }

    /// Skips any value (a field this release does not know).
    mutating func skipValue() throws(Failure) {
        skipWhitespace()
        switch current {
        case UInt8(ascii: "{"): try object { _, scanner throws(Failure) in try scanner.skipValue() }
        case UInt8(ascii: "["): try array { scanner throws(Failure) in try scanner.skipValue() }
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try skipNumber()
        }
    }

    mutating func bool() throws(Failure) -> Bool {
        skipWhitespace()
        if current == UInt8(ascii: "t") {
            try literal("true")
            return true
        }
        try literal("false")
        return false
    }

    /// An integer (no fraction, no exponent) that fits in an `Int`.
    mutating func int() throws(Failure) -> Int {
        skipWhitespace()
        let negative = current == UInt8(ascii: "-")
        if negative { position += 1 }
        guard let first = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            throw failure("expected an integer")
        }
        if first == UInt8(ascii: "0"), position + 1 < bytes.count,
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position + 1])
        {
            throw failure("leading zero")
        }
        var value = 0
        while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw failure("integer too large") }
            value = sum
            position += 1
        }
        if let byte = current, byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            throw failure("expected an integer")
        }
        return negative ? -value : value
    }

    private mutating func skipNumber() throws(Failure) {
        let start = position
        if current == UInt8(ascii: "-") { position += 1 }
        var digits = 0
        while let byte = current,
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") || byte == UInt8(ascii: "+")
                || byte == UInt8(ascii: "-")
        {
            position += 1
            digits += 1
        }
        guard digits > 0 else {
            position = start
            throw failure("expected a value")
        }
    }

    /// A string; escapes decoded, UTF-8 validated, raw control characters refused.
    mutating func string() throws(Failure) -> String {
        try expect(UInt8(ascii: "\""))
        let start = position
        // Fast path: no escapes.
        while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\"), byte >= 0x20 {
            position += 1
        }
        if current == UInt8(ascii: "\"") {
            let text = String(strictUTF8: UnsafeBufferPointer(rebasing: bytes[start..<position]))
            position += 1
            guard let text else { throw failure("invalid UTF-8") }
            return text
        }
        var unescaped = Array(bytes[start..<position])
        while true {
            guard let byte = current else { throw failure("unterminated string") }
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(strictUTF8: unescaped) else { throw failure("invalid UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                try unescape(into: &unescaped)
            case ..<0x20:
                throw failure("control character in a string")
            default:
                unescaped.append(byte)
            }
        }
    }

    private mutating func unescape(into output: inout [UInt8]) throws(Failure) {
        guard let escaped = current else { throw failure("unterminated escape") }
        position += 1
        switch escaped {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(escaped)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800...0xDBFF).contains(scalar) {
                guard current == UInt8(ascii: "\\"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u") else {
                    throw failure("lone surrogate")
                }
                position += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw failure("lone surrogate") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw failure("lone surrogate") }
            output.append(contentsOf: String(Character(unicode)).utf8)
        default:
            throw failure("invalid escape")
        }
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard position + 4 <= bytes.count else { throw failure("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw failure("bad \\u escape")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    /// An object of string values.
    mutating func stringMap() throws(Failure) -> [String: String] {
        var map: [String: String] = [:]
        try object { key, scanner throws(Failure) in map[key] = try scanner.string() }
        return map
    }

    /// An array of strings.
    mutating func stringArray() throws(Failure) -> [String] {
        var items: [String] = []
        try array { scanner throws(Failure) in items.append(try scanner.string()) }
        return items
    }
}
