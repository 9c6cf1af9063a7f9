/// A record the identity store keeps: users, projects and application credentials, each a
/// small JSON document under its `collection` (a subdirectory of the data directory, a table
/// of the database), named by `id`.
public protocol IdentityRecord: Codable, Sendable, Equatable {
    static var collection: IdentityCollection { get }
    var id: String { get }
}

public enum IdentityCollection: String, Sendable, CaseIterable {
    case users
    case projects
    case applicationCredentials = "application_credentials"
    /// Nova's key pairs (`/os-keypairs`): a user's own, like application credentials.
    case keypairs
    /// Nova's server groups (`/os-server-groups`): a project's own.
    case serverGroups = "server_groups"
    /// Neutron's security groups (with their rules): a project's own.
    case securityGroups = "security_groups"
}

/// The one domain: Keystone's `default`, named `Default`.
public enum Domain {
    public static let id = "default"
    public static let name = "Default"
}

/// A user who signs in with a password (`alliance-compute user create`, or an admin through
/// the identity API). Its roles are per project.
public struct UserRecord: IdentityRecord {
    public static let collection = IdentityCollection.users
    public var format = 1
    public var id: String
    public var name: String
    public var domain: String = Domain.id
    /// The project a password sign-in without a scope is scoped to.
    public var defaultProject: String?
    /// The role held on each project, by project id.
    public var roles: [String: Role]
    public var password: PasswordHash?
    /// When the password was last set: tokens issued before then no longer work.
    public var passwordSet: String?
    /// When the user was last disabled or lost a role: tokens issued before then no longer
    /// work (re-enabling or granting again does not bring them back).
    public var tokensRevoked: String?
    public var enabled: Bool = true
    public var description: String?
    public var email: String?
    public var created: String

    enum CodingKeys: String, CodingKey {
        case format, id, name, domain, roles, password, enabled, description, email, created
        case defaultProject = "default_project"
        case passwordSet = "password_set"
        case tokensRevoked = "tokens_revoked"
    }

    public init(id: String, name: String, roles: [String: Role], created: Timestamp) {
        self.id = id
        self.name = name
        self.roles = roles
        self.created = created.iso8601Seconds
    }

    /// Sets the password (hashed already: slowly, so outside any lock) and the instant that
    /// revokes older tokens.
    public mutating func setPassword(_ hash: PasswordHash, at now: Timestamp) {
        password = hash
        passwordSet = now.iso8601Microseconds
    }

    /// Ends every token issued before `now`.
    public mutating func revokeTokens(at now: Timestamp) { tokensRevoked = now.iso8601Microseconds }

    /// Whether a token issued at `issued` predates the current password, or a revocation.
    public func outlives(tokenIssuedAt issued: Timestamp?) -> Bool {
        [passwordSet, tokensRevoked].contains { instant in
            guard let instant, let cut = Timestamp(canonical: instant) else { return false }
            return issued.map { $0 < cut } ?? true
        }
    }
}

/// A project: servers, quotas and tokens belong to one. Projects made with the CLI take their
/// name as id (so the ids servers and static tokens already carry stay the same); those made
/// through the identity API get Keystone-style hex ids.
public struct ProjectRecord: IdentityRecord {
    public static let collection = IdentityCollection.projects
    public var format = 1
    public var id: String
    public var name: String
    public var domain: String = Domain.id
    public var description: String = ""
    public var enabled: Bool = true
    public var created: String

    public init(id: String, name: String, description: String = "", created: Timestamp) {
        self.id = id
        self.name = name
        self.description = description
        self.created = created.iso8601Seconds
    }
}

/// A secret a user makes for a program (Keystone's application credential): it signs in as
/// that user, on one project, with at most the user's role there. Only the SHA-256 of the
/// secret is kept (the secret is 256 random bits, shown once).
public struct ApplicationCredentialRecord: IdentityRecord {
    public static let collection = IdentityCollection.applicationCredentials
    public var format = 1
    public var id: String
    public var name: String
    public var user: String
    public var project: String
    public var role: Role
    public var sha256: String
    public var description: String?
    public var expires: String?
    public var unrestricted = false
    public var created: String

    public init(
        id: String, name: String, user: String, project: String, role: Role, secretSHA256: [UInt8], description: String?,
        expires: Timestamp?, created: Timestamp
    ) {
        self.id = id
        self.name = name
        self.user = user
        self.project = project
        self.role = role
        self.sha256 = Secrets.hex(secretSHA256)
        self.description = description
        self.expires = expires?.iso8601Seconds
        self.created = created.iso8601Seconds
    }

    public var expiresAt: Timestamp? { expires.flatMap { Timestamp(canonical: $0) } }

    public func admits(secret: String, at now: Timestamp) -> Bool {
        if let expiry = expiresAt, !(now < expiry) { return false }
        guard let expected = Secrets.bytes(hex: sha256) else { return false }
        return Secrets.equal(Secrets.sha256(secret.utf8), expected)
    }
}

/// Where users, projects, application credentials and issued tokens are kept: one
/// implementation per store (the data directory's files, the database's tables), behind one
/// contract, as the inventory is. Lookups by id are fast (the worker checks a token's user on
/// every request); listings are small.
public protocol IdentityStore: Sendable {
    func all<Record: IdentityRecord>(_ type: Record.Type) throws(ComputeError) -> [Record]
    func record<Record: IdentityRecord>(_ type: Record.Type, id: String) throws(ComputeError) -> Record?
    /// Creates or replaces the record with its id. Names are unique per domain (users,
    /// projects) or per user (application credentials): a clash is a `.conflict`.
    func save<Record: IdentityRecord>(_ record: Record) throws(ComputeError)
    /// Creates the record unless one with its id is there (on any host): false when one was,
    /// which is then left as it is.
    func insert<Record: IdentityRecord>(_ record: Record) throws(ComputeError) -> Bool
    /// Replaces `old` with `new` (same id) only while the stored record is still `old`: false
    /// when it changed or went away meanwhile (on any host), so a change made over a stale read
    /// is never written, and a deleted record is never brought back. Names as in `save`.
    func replace<Record: IdentityRecord>(_ old: Record, with new: Record) throws(ComputeError) -> Bool
    /// False when there was no such record.
    func remove<Record: IdentityRecord>(_ type: Record.Type, id: String) throws(ComputeError) -> Bool

    /// Tokens, issued or made by the CLI: stored as their hashes, durably before the token is
    /// handed out.
    func token(id: String) throws(ComputeError) -> TokenRecord?
    func issue(_ token: TokenRecord) throws(ComputeError)
    func revoke(tokenID: String) throws(ComputeError) -> Bool
    /// Forgets issued tokens that expired before `now` (their records only take room).
    func removeExpiredTokens(at now: Timestamp) throws(ComputeError)
}

extension IdentityStore {
    /// A name clash is checked by the store where it can be (the database's unique index);
    /// this is the message every store gives.
    public static func nameInUse(_ collection: IdentityCollection, _ name: String) -> ComputeError {
        switch collection {
        case .users: .conflict("Duplicate entry found with name \(name) at domain ID \(Domain.id).")
        case .projects: .conflict("Duplicate entry found with name \(name) at domain ID \(Domain.id).")
        case .applicationCredentials: .conflict("Duplicate entry found with name \(name).")
        case .keypairs: .conflict("Key pair '\(name)' already exists.")
        case .serverGroups: .conflict("Server group \(name) already exists.")
        case .securityGroups: .conflict("Security group \(name) already exists.")
        }
    }
}
