/// What a caller may do: members act within their project; admins also manage flavors and
/// reach every project's servers.
public enum Role: String, Sendable, CaseIterable, Codable {
    case admin
    case member
}

/// Who is asking: servers belong to a project and are created by a user.
public struct Caller: Sendable, Equatable {
    public var projectID: String
    public var userID: String
    public var role: Role

    public init(projectID: String, userID: String, role: Role = .member) {
        self.projectID = projectID
        self.userID = userID
        self.role = role
    }

    public var isAdmin: Bool { role == .admin }

    /// Whether this caller may see and change a server of `projectID`.
    public func canReach(projectID: String) -> Bool { isAdmin || projectID == self.projectID }
}

/// Turns the secret a request presents (`X-Auth-Token`) into a caller, or nil when the token
/// is unknown, expired or revoked.
public protocol Authenticator: Sendable {
    /// The caller a token stands for; nil when it is unknown, expired or revoked. Throws
    /// (`.unavailable`) only when it cannot be checked right now, as when the database that
    /// holds the tokens is down: the client is told to retry, not that its token is bad.
    func caller(forToken token: String) throws(ComputeError) -> Caller?
}

extension Validation {
    /// A project or user id: 1–64 of `[A-Za-z0-9._-]`.
    public static func principal(_ value: String, field: String) throws(ComputeError) {
        guard value.utf8.count <= 64 else { throw .invalidField(field, "must be at most 64 characters long.") }
        try identifier(value, field: field)
    }
}
