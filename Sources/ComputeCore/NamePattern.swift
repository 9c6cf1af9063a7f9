import CPCRE2

/// Nova's `?name=` filter: a regular expression matched anywhere in a server name (`?name=web`
/// lists `web-1` and `old-web`), in PCRE2's syntax, which is close to Python's `re` that Nova
/// uses; and its `?ip=` filter, one matched from the start of a server's address (Python's
/// `re.match`, as Nova does: `?ip=10.0.0.1` lists `10.0.0.1` and `10.0.0.12`).
///
/// Safe by construction against hostile patterns. glibc's `regexec`, used before, overflowed
/// a thread's stack on `(|)(\1\1)*` (killing the process), took seconds per name on
/// back-references and 3.5 s and 1.1 GB to compile `((a{1,100}){1,100}){1,100}`. Here:
/// - a pattern is at most 255 bytes with at most 32 nested groups, and PCRE2's compiled form is
///   at most 64 KiB (Debian's build), so compiling is bounded: the last pattern is refused in
///   16 µs ("regular expression is too large");
/// - back-references are refused: they are what makes matching exponential, and Nova's users
///   write `^web-` or `db[0-9]+`;
/// - matching runs PCRE2's interpreter, whose backtracking frames live on the heap (not on the
///   thread's stack), under a limit of 10,000 steps and 256 KiB per name: measured here, a
///   pathological `(a+)+$` on a 250-character name stops at the limit after about 0.2 ms, and
///   the request gets a 400 that says why, instead of a stall;
/// - over a whole listing, `Evaluation` stops after half a second of matching (a 400), so a
///   pattern that stays just under the per-name limit cannot hold a thread for long either.
public final class NamePattern: @unchecked Sendable, Equatable {
    // @unchecked: `code` and `matchContext` are created in init, freed in deinit and never
    // changed between; PCRE2 documents both as safe to share between threads while matching.
    public let pattern: String
    /// The query parameter it came from (`name`, `ip`), as messages name it.
    public let filter: String
    private let code: OpaquePointer
    private let matchContext: OpaquePointer

    public static let maxLength = 255
    static let maxNesting: UInt32 = 32
    static let matchLimit: UInt32 = 10_000
    static let heapLimitKiB: UInt32 = 256
    /// How long one listing may spend matching names.
    static let evaluationBudget = Duration.milliseconds(500)

    /// `anchored`: matched from the subject's start only (else anywhere in it).
    public init(_ pattern: String, filter: String = "name", anchored: Bool = false) throws(ComputeError) {
        let quoted = "'\(pattern.prefix(64))\(pattern.utf8.count > 64 ? "…" : "")'"
        guard pattern.utf8.count <= Self.maxLength, !pattern.utf8.contains(0) else {
            throw .invalidInput("The \(filter) filter must be at most \(Self.maxLength) bytes long, without NUL.")
        }
        let options = PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C | (anchored ? PCRE2_ANCHORED : 0)
        guard let compileContext = pcre2_compile_context_create_8(nil) else {
            throw .unavailable("The service is out of memory; try again later.")
        }
        defer { pcre2_compile_context_free_8(compileContext) }
        pcre2_set_max_pattern_length_8(compileContext, Self.maxLength)
        pcre2_set_parens_nest_limit_8(compileContext, Self.maxNesting)
        var errorCode: Int32 = 0
        var errorOffset = 0
        let compiled = pattern.utf8.withContiguousStorageIfAvailable { bytes in
            pcre2_compile_8(
                bytes.baseAddress, bytes.count, options, &errorCode, &errorOffset,
                compileContext)
        }
        guard let compiled, let code = compiled else {
            throw .invalidInput(
                "The \(filter) filter \(quoted) is not a valid regular expression: \(Self.message(errorCode)) at offset \(errorOffset)."
            )
        }
        var backReferences: UInt32 = 0
        pcre2_pattern_info_8(code, UInt32(PCRE2_INFO_BACKREFMAX), &backReferences)
        guard backReferences == 0 else {
            pcre2_code_free_8(code)
            throw .invalidInput(
                "The \(filter) filter \(quoted) uses a back-reference (such as \\1); back-references are not supported.")
        }
        guard let matchContext = pcre2_match_context_create_8(nil) else {
            pcre2_code_free_8(code)
            throw .unavailable("The service is out of memory; try again later.")
        }
        pcre2_set_match_limit_8(matchContext, Self.matchLimit)
        pcre2_set_depth_limit_8(matchContext, Self.matchLimit)
        pcre2_set_heap_limit_8(matchContext, Self.heapLimitKiB)
        self.pattern = pattern
        self.filter = filter
        self.code = code
        self.matchContext = matchContext
    }

    deinit {
        pcre2_match_context_free_8(matchContext)
        pcre2_code_free_8(code)
    }

    /// Whether `name` contains a match; a 400 when the pattern needs more than the limits
    /// allow on this name.
    public func matches(_ name: String) throws(ComputeError) -> Bool {
        guard let matchData = pcre2_match_data_create_8(1, nil) else {
            throw .unavailable("The service is out of memory; try again later.")
        }
        defer { pcre2_match_data_free_8(matchData) }
        var name = name
        let result = name.withUTF8 { bytes in
            // Swift strings are valid UTF-8: PCRE2's own check of every subject is skipped.
            pcre2_match_8(code, bytes.baseAddress, bytes.count, 0, PCRE2_NO_UTF_CHECK, matchData, matchContext)
        }
        if result >= 0 { return true }
        switch result {
        case PCRE2_ERROR_NOMATCH: return false
        case PCRE2_ERROR_MATCHLIMIT, PCRE2_ERROR_DEPTHLIMIT, PCRE2_ERROR_HEAPLIMIT:
            throw .invalidInput(
                "The \(filter) filter '\(pattern.prefix(64))' is too complex: matching it against a server \(filter == "ip" ? "address" : "name") exceeded the limit of \(Self.matchLimit) steps. Use a simpler pattern."
            )
        default:
            throw .invalidInput("The \(filter) filter '\(pattern.prefix(64))' cannot be matched: \(Self.message(result)).")
        }
    }

    /// Matching for one listing, which gives up (a 400) once it has spent `evaluationBudget`
    /// matching. Only the matching counts, not the time the listing waits for its store (a
    /// database under load made a simple pattern fail over 64 servers).
    public final class Evaluation {
        public let pattern: NamePattern
        private var spent = Duration.zero
        private var checked = 0

        public init(_ pattern: NamePattern) { self.pattern = pattern }

        public func matches(_ name: String) throws(ComputeError) -> Bool {
            checked += 1
            if spent > NamePattern.evaluationBudget {
                throw .invalidInput(
                    "The \(pattern.filter) filter '\(pattern.pattern.prefix(64))' took too long to evaluate over \(checked) servers. Use a simpler pattern, or narrow the listing with other filters."
                )
            }
            let started = ContinuousClock.now
            defer { spent += ContinuousClock.now - started }
            return try pattern.matches(name)
        }
    }

    private static func message(_ code: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 160)
        let length = pcre2_get_error_message_8(code, &buffer, buffer.count)
        return length > 0 ? String(decoding: buffer.prefix(Int(length)), as: UTF8.self) : "error \(code)"
    }

    public static func == (a: NamePattern, b: NamePattern) -> Bool { a.pattern == b.pattern }
}
