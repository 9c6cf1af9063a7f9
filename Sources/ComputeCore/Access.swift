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
    func caller(forToken token: String) -> Caller?
}

/// Per-project limits (Nova's `instances`, `cores`, `ram` in MiB); -1 means unlimited.
public struct QuotaLimits: Sendable, Equatable, Codable {
    public var instances: Int
    public var cores: Int
    public var ram: Int

    public init(instances: Int, cores: Int, ram: Int) {
        self.instances = instances
        self.cores = cores
        self.ram = ram
    }

    /// Nova's defaults.
    public static let novaDefaults = QuotaLimits(instances: 10, cores: 20, ram: 51_200)
    public static let unlimited = QuotaLimits(instances: -1, cores: -1, ram: -1)
}

/// What a project's servers use, in the units of `QuotaLimits`.
public struct QuotaUsage: Sendable, Equatable {
    public var instances = 0
    public var cores = 0
    public var ram = 0

    public init(instances: Int = 0, cores: Int = 0, ram: Int = 0) {
        self.instances = instances
        self.cores = cores
        self.ram = ram
    }

    mutating func add(_ server: Server, sign: Int = 1) {
        instances += sign
        cores += sign * server.flavor.vcpus
        ram += sign * server.flavor.ram
    }
}

/// Where the inventory learns each project's limits (configuration, not records).
public protocol QuotaSource: Sendable {
    /// What a project without an override of its own gets.
    var defaults: QuotaLimits { get }
    func limits(for projectID: String) -> QuotaLimits
}

/// The same limits for every project.
public struct FixedQuotas: QuotaSource {
    public var limits: QuotaLimits

    public init(_ limits: QuotaLimits) { self.limits = limits }

    public var defaults: QuotaLimits { limits }

    public func limits(for projectID: String) -> QuotaLimits { limits }
}

extension Validation {
    /// A project or user id: 1–64 of `[A-Za-z0-9._-]`.
    public static func principal(_ value: String, field: String) throws(ComputeError) {
        guard value.utf8.count <= 64 else { throw .invalidField(field, "must be at most 64 characters long.") }
        try identifier(value, field: field)
    }
}

/// A fixed table of tokens: for in-process tests, the fuzzer and benchmarks, where tokens are
/// not files (the worker uses the data directory's token store).
public struct StaticAuthenticator: Authenticator {
    public var callers: [String: Caller]

    public init(_ callers: [String: Caller]) { self.callers = callers }

    public func caller(forToken token: String) -> Caller? { callers[token] }
}
