public import ComputeCore

/// Checks that a request body is exactly one JSON text as RFC 8259 defines it, and that no
/// object names a member twice, before `JSONDecoder` reads it.
///
/// Foundation's parser is lenient where a client's mistake should be a 400: it takes a comma
/// before `}` or `]`, and of two members with one name it keeps one without a word (which is
/// also a parser differential: a proxy or a log pipeline may read the other). Nothing in the
/// package mirror validates strictly, so this is a small grammar walk: no values are built,
/// only member names are decoded (to compare `"a"` with `"\u0061"`). A problem names where it
/// is, as a line and column of the body, and what was expected there.
public enum StrictJSON {
    /// How deeply objects and arrays may nest; no request type of this API nests beyond 5.
    public static let maximumDepth = 64

    public static func check(_ body: [UInt8]) throws(ComputeError) {
        var reader = Reader(bytes: body)
        // RFC 8259 §8.1 lets a parser ignore a byte order mark, and Windows tools send one.
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { (reader.origin, reader.index) = (3, 3) }
        do {
            try reader.document()
        } catch {
            let (line, column) = reader.position(of: error.offset)
            throw .invalidInput("Malformed request body: \(error.message) at line \(line), column \(column).")
        }
    }

    struct Problem: Error {
        var message: String
        var offset: Int
    }

    private struct Container {
        var isObject: Bool
        var names: Set<[UInt8]> = []
        /// The member or element being read, for messages (`server.networks[0]`).
        var key: String = ""
        var count = 0
    }

    private struct Reader {
        let bytes: [UInt8]
        /// Where the JSON text starts (after a byte order mark), for line and column.
        var origin = 0
        var index = 0
        var stack: [Container] = []

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func document() throws(Problem) {
            skipWhitespace()
            try value()
            while !stack.isEmpty {
                skipWhitespace()
                try afterValue()
            }
            skipWhitespace()
            if index < bytes.count { throw problem("unexpected \(describe(index)) after the end of the JSON text") }
        }

        /// One value; for an object or array, only its opening (the members follow in
        /// `afterValue`, iteratively, so depth costs no stack).
        private mutating func value() throws(Problem) {
            guard index < bytes.count else { throw problem("the body ends where a value was expected") }
            switch bytes[index] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let isObject = bytes[index] == UInt8(ascii: "{")
                guard stack.count < StrictJSON.maximumDepth else {
                    throw problem("objects and arrays are nested deeper than \(StrictJSON.maximumDepth) levels")
                }
                index += 1
                stack.append(Container(isObject: isObject))
                skipWhitespace()
                let closing = UInt8(ascii: isObject ? "}" : "]")
                if index < bytes.count, bytes[index] == closing {
                    index += 1
                    stack.removeLast()
                    return
                }
                try member()
            case UInt8(ascii: "\""):
                _ = try string(decoding: false)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                try number()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            default:
                throw problem("expected a value, found \(describe(index))")
            }
        }

        /// The start of a member of the innermost container: a name and colon for an object,
        /// then its value.
        private mutating func member() throws(Problem) {
            let top = stack.count - 1
            if stack[top].isObject {
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                    throw problem(
                        stack[top].count == 0
                            ? "expected a member name in double quotes, found \(describe(index))"
                            : "expected a member name after the comma, found \(describe(index)) (JSON allows no trailing commas)")
                }
                let start = index
                let name = try string(decoding: true)
                let text = String(decoding: name, as: UTF8.self)
                guard stack[top].names.insert(name).inserted else {
                    index = start
                    throw problem("the member '\(text.prefix(64))' appears twice in \(location(top))")
                }
                stack[top].key = text
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                    throw problem("expected ':' after the member name, found \(describe(index))")
                }
                index += 1
            } else {
                stack[top].key = "[\(stack[top].count)]"
            }
            stack[top].count += 1
            skipWhitespace()
            try value()
        }

        /// After a value inside the innermost container: a comma and the next member, or the
        /// container's end.
        private mutating func afterValue() throws(Problem) {
            let top = stack.count - 1
            let closing = UInt8(ascii: stack[top].isObject ? "}" : "]")
            guard index < bytes.count else {
                throw problem("the body ends inside \(location(top)): '\(Character(Unicode.Scalar(closing)))' is missing")
            }
            if bytes[index] == closing {
                index += 1
                stack.removeLast()
            } else if bytes[index] == UInt8(ascii: ",") {
                index += 1
                skipWhitespace()
                if index < bytes.count, bytes[index] == closing {
                    throw problem("a comma before '\(Character(Unicode.Scalar(closing)))' (JSON allows no trailing commas)")
                }
                try member()
            } else {
                throw problem(
                    "expected ',' or '\(Character(Unicode.Scalar(closing)))' in \(location(top)), found \(describe(index))")
            }
        }

        /// A string; its contents, unescaped, when `decoding` (member names).
        private mutating func string(decoding: Bool) throws(Problem) -> [UInt8] {
            let start = index
            index += 1
            var decoded: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return decoded
                case UInt8(ascii: "\\"):
                    try escape(into: &decoded, decoding: decoding)
                case 0..<0x20:
                    throw problem("a control character (U+\(hex(byte))) inside a string; write it as an escape")
                case 0x80...:
                    let length = try utf8Sequence()
                    if decoding { decoded.append(contentsOf: bytes[index..<index + length]) }
                    index += length
                default:
                    if decoding { decoded.append(byte) }
                    index += 1
                }
            }
            index = start
            throw problem("a string that is never closed")
        }

        private mutating func escape(into decoded: inout [UInt8], decoding: Bool) throws(Problem) {
            index += 1
            guard index < bytes.count else { throw problem("the body ends inside an escape") }
            let simple: [UInt8: UInt8] = [
                UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5c, UInt8(ascii: "/"): 0x2f, UInt8(ascii: "b"): 0x08,
                UInt8(ascii: "f"): 0x0c, UInt8(ascii: "n"): 0x0a, UInt8(ascii: "r"): 0x0d, UInt8(ascii: "t"): 0x09,
            ]
            if let byte = simple[bytes[index]] {
                if decoding { decoded.append(byte) }
                index += 1
                return
            }
            guard bytes[index] == UInt8(ascii: "u") else {
                index -= 1
                throw problem("an unknown escape \(describe(index + 1, after: "\\"))")
            }
            index += 1
            var scalar = try hexQuad()
            if (0xD800..<0xDC00).contains(scalar), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                bytes[index + 1] == UInt8(ascii: "u")
            {
                index += 2
                let low = try hexQuad()
                guard (0xDC00..<0xE000).contains(low) else { throw problem("a lone surrogate in a \\u escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let character = Unicode.Scalar(scalar) else { throw problem("a lone surrogate in a \\u escape") }
            if decoding { decoded.append(contentsOf: Array(String(Character(character)).utf8)) }
        }

        private mutating func hexQuad() throws(Problem) -> UInt32 {
            guard index + 4 <= bytes.count else { throw problem("a \\u escape needs four hex digits") }
            var value: UInt32 = 0
            for byte in bytes[index..<index + 4] {
                guard let digit = Self.hexValue(byte) else { throw problem("a \\u escape needs four hex digits") }
                value = value << 4 | digit
            }
            index += 4
            return value
        }

        private static func hexValue(_ byte: UInt8) -> UInt32? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
            default: nil
            }
        }

        /// The length of the well-formed UTF-8 sequence at `index` (RFC 3629: no overlong
        /// forms, no surrogates, nothing above U+10FFFF).
        private func utf8Sequence() throws(Problem) -> Int {
            let lead = bytes[index]
            let (length, low, high): (Int, UInt8, UInt8) =
                switch lead {
                case 0xC2...0xDF: (2, 0x80, 0xBF)
                case 0xE0: (3, 0xA0, 0xBF)
                case 0xE1...0xEC, 0xEE...0xEF: (3, 0x80, 0xBF)
                case 0xED: (3, 0x80, 0x9F)
                case 0xF0: (4, 0x90, 0xBF)
                case 0xF1...0xF3: (4, 0x80, 0xBF)
                case 0xF4: (4, 0x80, 0x8F)
                default: (0, 0, 0)
                }
            guard length > 0, index + length <= bytes.count, (low...high).contains(bytes[index + 1]),
                bytes[index + 2..<index + length].allSatisfy({ (0x80...0xBF).contains($0) })
            else { throw problem("bytes that are not UTF-8 inside a string") }
            return length
        }

        private mutating func number() throws(Problem) {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else {
                index = start
                throw problem("a number needs a digit after '-'")
            }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
                if index < bytes.count, isDigit(bytes[index]) {
                    index = start
                    throw problem("a number with a leading zero")
                }
            } else {
                skipDigits()
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard index < bytes.count, isDigit(bytes[index]) else { throw problem("a number needs digits after '.'") }
                skipDigits()
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard index < bytes.count, isDigit(bytes[index]) else {
                    throw problem("a number needs digits in its exponent")
                }
                skipDigits()
            }
        }

        private mutating func literal(_ word: StaticString) throws(Problem) {
            let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
            guard index + expected.count <= bytes.count, bytes[index..<index + expected.count].elementsEqual(expected) else {
                throw problem("expected a value, found \(describe(index)) (JSON's words are true, false and null)")
            }
            index += expected.count
        }

        private mutating func skipWhitespace() {
            while index < bytes.count,
                bytes[index] == 0x20 || bytes[index] == 0x0a || bytes[index] == 0x0d || bytes[index] == 0x09
            {
                index += 1
            }
        }

        private mutating func skipDigits() {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }

        private func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

        /// `the body` at the top, else the path of the container: `'server'`, `'server.networks[0]'`.
        private func location(_ level: Int) -> String {
            guard level > 0 else { return stack[0].isObject ? "the body's object" : "the body's array" }
            var path = ""
            for container in stack[0..<level] {
                path += container.key.hasPrefix("[") || path.isEmpty ? container.key : "." + container.key
            }
            return "'\(path.prefix(128))'"
        }

        /// What is at `offset`, for messages: a printable character in quotes, else its code.
        private func describe(_ offset: Int, after prefix: String = "") -> String {
            guard offset < bytes.count else { return "the end of the body" }
            let byte = bytes[offset]
            if (0x21..<0x7f).contains(byte) { return "'\(prefix)\(Character(Unicode.Scalar(byte)))'" }
            return "the byte 0x\(hex(byte))"
        }

        private func hex(_ byte: UInt8) -> String {
            let digits = Array("0123456789ABCDEF")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
        }

        func problem(_ message: String) -> Problem { Problem(message: message, offset: index) }

        /// 1-based line and column (in characters) of a byte offset.
        func position(of offset: Int) -> (line: Int, column: Int) {
            var line = 1
            var column = 1
            for byte in bytes[origin..<max(origin, min(offset, bytes.count))] {
                if byte == 0x0a {
                    line += 1
                    column = 1
                } else if byte & 0xC0 != 0x80 {
                    column += 1
                }
            }
            return (line, column)
        }
    }
}
