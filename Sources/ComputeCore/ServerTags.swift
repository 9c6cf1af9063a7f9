/// Nova's server tags (microversion 2.26): short strings a client attaches to a server and
/// filters listings by. A server keeps them as a sorted set.
public enum ServerTags {
    /// Nova's per-server limit.
    public static let maxCount = 50
    public static let maxLength = 60

    /// `tag` if Nova would take it (1 to 60 characters, no `/` or `,`), else the client's 400.
    public static func checked(_ tag: String, field: String = "tag") throws(ComputeError) -> String {
        guard (1...maxLength).contains(tag.count) else {
            throw .invalidField(field, "a tag is 1 to \(maxLength) characters long.")
        }
        guard !tag.contains("/"), !tag.contains(",") else {
            throw .invalidField(field, "'\(tag)' has a '/' or a ',', which a tag may not have.")
        }
        try Validation.text(tag, field: field, maxLength: maxLength)
        return tag
    }

    /// Every tag checked, duplicates dropped, sorted; at most `maxCount`.
    public static func normalized(_ tags: [String], field: String = "tags") throws(ComputeError) -> [String] {
        var kept: Set<String> = []
        for tag in tags { kept.insert(try checked(tag, field: field)) }
        try checkCount(kept.count)
        return kept.sorted()
    }

    /// Nova's 400 for more than `maxCount` tags on one server.
    public static func checkCount(_ count: Int) throws(ComputeError) {
        guard count <= maxCount else {
            throw .invalidInput("The number of tags exceeded the per-server limit \(maxCount)")
        }
    }

    /// The listing filters: servers with all of `all`, any of `any`, not all of `notAll`, none
    /// of `notAny` (each nil when not asked for).
    public struct Filter: Sendable, Equatable {
        public var all: [String]?
        public var any: [String]?
        public var notAll: [String]?
        public var notAny: [String]?

        public init(all: [String]? = nil, any: [String]? = nil, notAll: [String]? = nil, notAny: [String]? = nil) {
            self.all = all
            self.any = any
            self.notAll = notAll
            self.notAny = notAny
        }

        public var isEmpty: Bool { all == nil && any == nil && notAll == nil && notAny == nil }

        public func matches(_ tags: [String]) -> Bool {
            let tags = Set(tags)
            if let all, !all.allSatisfy(tags.contains) { return false }
            if let any, !any.contains(where: tags.contains) { return false }
            if let notAll, notAll.allSatisfy(tags.contains) { return false }
            if let notAny, notAny.contains(where: tags.contains) { return false }
            return true
        }
    }
}
