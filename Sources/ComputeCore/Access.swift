/// What a caller may do, Keystone's default roles: readers see their project's servers;
/// members also change them; admins also manage flavors and reach every project's servers.
/// Each implies the ones below it, as Keystone's implied roles do.
public enum Role: String, Sendable, CaseIterable, Codable {
    case admin
    case member
    case reader

    /// This role and those it implies, strongest first (what a token's `roles` lists).
    public var implied: [Role] {
        switch self {
        case .admin: [.admin, .member, .reader]
        case .member: [.member, .reader]
        case .reader: [.reader]
        }
    }

    /// The strongest of `roles` (nil when there are none).
    public static func strongest(_ roles: some Sequence<Role>) -> Role? { roles.min(by: isStronger) }
    /// The weakest of `roles` (nil when there are none).
    public static func weakest(_ roles: some Sequence<Role>) -> Role? { roles.max(by: isStronger) }

    private static func isStronger(_ a: Role, _ b: Role) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// Who is asking: servers belong to a project and are created by a user.
public struct Caller: Sendable, Equatable {
    public var projectID: String
    public var userID: String
    public var role: Role
    /// The request it is making (`x-openstack-request-id`), which the instance actions a change
    /// records name; nil outside a request (the command line).
    public var requestID: String?

    public init(projectID: String, userID: String, role: Role = .member) {
        self.projectID = projectID
        self.userID = userID
        self.role = role
    }

    public var isAdmin: Bool { role == .admin }
    /// Whether it may change things (a reader may only look).
    public var canWrite: Bool { role != .reader }

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
