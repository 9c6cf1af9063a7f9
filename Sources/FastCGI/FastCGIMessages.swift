import Foundation

/// One request as libfcgi delivered it: the CGI parameters nginx sent and the body.
public struct FastCGIRequest: Sendable {
    public var params: [String: String]
    public var body: Body

    public enum Body: Sendable, Equatable {
        case complete([UInt8])
        /// Larger than the configured limit: not read.
        case exceedsLimit
    }

    public init(params: [String: String], body: Body) {
        self.params = params
        self.body = body
    }
}

/// What goes back: written as CGI (`Status: 404 Not Found`, headers, blank line, body).
public struct FastCGIResponse: Sendable {
    public var status: Int
    public var reason: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, reason: String, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
    }

    /// The CGI header block. `Content-Length` is the body's length unless a header gives it
    /// (HEAD); CR and LF are left out of names and values so nothing can inject a header.
    public var headerBlock: [UInt8] {
        var block: [UInt8] = []
        block.reserveCapacity(64 + headers.count * 48)
        block.append(contentsOf: "Status: ".utf8)
        Self.appendDecimal(status, to: &block)
        block.append(UInt8(ascii: " "))
        Self.appendClean(reason, to: &block)
        block.append(contentsOf: Self.crlf)
        var hasLength = false
        for (name, value) in headers {
            hasLength = hasLength || name.utf8.elementsEqual("content-length".utf8) { Self.lowercase($0) == $1 }
            Self.appendClean(name, to: &block)
            block.append(contentsOf: ": ".utf8)
            Self.appendClean(value, to: &block)
            block.append(contentsOf: Self.crlf)
        }
        if !hasLength {
            block.append(contentsOf: "Content-Length: ".utf8)
            Self.appendDecimal(body.count, to: &block)
            block.append(contentsOf: Self.crlf)
        }
        block.append(contentsOf: Self.crlf)
        return block
    }

    private static let crlf: [UInt8] = [0x0D, 0x0A]

    private static func lowercase(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }

    private static func appendClean(_ text: String, to block: inout [UInt8]) {
        for byte in text.utf8 where byte != 0x0D && byte != 0x0A { block.append(byte) }
    }

    private static func appendDecimal(_ value: Int, to block: inout [UInt8]) {
        block.append(contentsOf: String(value).utf8)
    }
}
