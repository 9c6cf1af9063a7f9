#if canImport(Glibc)
    import Glibc
#endif

/// A POSIX extended regular expression matched anywhere in a server name: Nova's `?name=`
/// filter (`?name=web` lists `web-1` and `old-web`).
///
/// glibc's matcher runs in time polynomial in the name for patterns without back-references;
/// names are at most 255 characters and patterns at most 255, which bounds the rest.
public final class NamePattern: @unchecked Sendable, Equatable {
    // @unchecked: `compiled` is set up in init and freed in deinit, never changed between;
    // glibc's regexec takes the pattern's own lock, so concurrent matching is safe.
    public let pattern: String
    private let compiled: UnsafeMutablePointer<regex_t>

    public static let maxLength = 255

    public init(_ pattern: String) throws(ComputeError) {
        guard pattern.utf8.count <= Self.maxLength, !pattern.utf8.contains(0) else {
            throw .invalidInput("The name filter must be at most \(Self.maxLength) bytes long, without NUL.")
        }
        let compiled = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        compiled.initialize(to: regex_t())
        let status = regcomp(compiled, pattern, REG_EXTENDED | REG_NOSUB)
        guard status == 0 else {
            var message = [CChar](repeating: 0, count: 128)
            regerror(status, compiled, &message, message.count)
            // regcomp frees what it allocated when it fails.
            compiled.deallocate()
            let reason = String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw .invalidInput("The name filter '\(pattern.prefix(64))' is not a valid regular expression: \(reason).")
        }
        self.pattern = pattern
        self.compiled = compiled
    }

    deinit {
        regfree(compiled)
        compiled.deallocate()
    }

    public func matches(_ name: String) -> Bool {
        regexec(compiled, name, 0, nil, 0) == 0
    }

    public static func == (a: NamePattern, b: NamePattern) -> Bool { a.pattern == b.pattern }
}
