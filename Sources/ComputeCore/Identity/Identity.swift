import CoreMetrics

/// How a sign-in names its user, project or domain (Keystone's `{"id": …}` or `{"name": …,
/// "domain": {…}}`).
public enum IdentityReference: Sendable, Equatable {
    case id(String)
    case name(String, domain: DomainReference)
}

public enum DomainReference: Sendable, Equatable {
    case id(String)
    case name(String)
}

/// One way of proving who one is, as `POST /v3/auth/tokens` offers them.
public enum SignInMethod: Sendable, Equatable {
    case password(user: IdentityReference, password: String)
    /// By id, or by name and the user it belongs to.
    case applicationCredential(id: String?, name: String?, user: IdentityReference?, secret: String)
    case token(String)

    public var name: String {
        switch self {
        case .password: "password"
        case .applicationCredential: "application_credential"
        case .token: "token"
        }
    }
}

/// What a token should be scoped to: a project, explicitly nothing, or (`nil`) the user's
/// default project if it has a role there.
public enum SignInScope: Sendable, Equatable {
    case project(IdentityReference)
    case unscoped
}

/// A token just issued, with the records it was issued for (what the response shows).
public struct IssuedToken: Sendable {
    public var token: String
    public var details: TokenDetails
}

/// A valid token and who and what it stands for, as `GET /v3/auth/tokens` shows it.
public struct TokenDetails: Sendable {
    public var record: TokenRecord
    public var user: UserRecord
    /// Nil for an unscoped token.
    public var project: ProjectRecord?
    public var applicationCredential: ApplicationCredentialRecord?
}

/// Keystone's rules over an `IdentityStore`: signing in (password, application credential,
/// token), issuing, validating and revoking tokens, and the users, projects, role grants and
/// application credentials behind them (IdentityAdministration.swift). It is the worker's
/// `Authenticator` too: a token the CLI made stands on its own; one issued here only while its
/// user exists, is enabled and has not changed password since, and its application
/// credential (if any) still exists.
public final class Identity: Authenticator {
    public struct Settings: Sendable {
        /// How long an issued token lasts.
        public var tokenLifetimeSeconds: Int
        /// Failed sign-ins of one user before each further attempt must wait (doubling from
        /// 1 s), and before it is locked out for `lockoutSeconds`.
        public var slowAfterFailures: Int
        public var lockoutAfterFailures: Int
        public var lockoutSeconds: Int
        public var passwordIterations: Int

        public init(
            tokenLifetimeSeconds: Int = 3600, slowAfterFailures: Int = 3, lockoutAfterFailures: Int = 6,
            lockoutSeconds: Int = 300, passwordIterations: Int = PasswordHash.defaultIterations
        ) {
            self.tokenLifetimeSeconds = tokenLifetimeSeconds
            self.slowAfterFailures = slowAfterFailures
            self.lockoutAfterFailures = lockoutAfterFailures
            self.lockoutSeconds = lockoutSeconds
            self.passwordIterations = passwordIterations
        }
    }

    public let store: any IdentityStore
    let settings: Settings
    let clock: any Clock
    let throttle: SignInThrottle
    /// Checked instead when a sign-in names no user with a password (at the same work factor).
    let decoy: PasswordHash
    /// Serialises this host's read-modify-write changes of identity records.
    let writer = Locked(())
    private let lastPurge = Locked(Timestamp(microsecondsSinceEpoch: 0))

    /// `report` hears of failed sign-ins and lockouts (the worker logs them as warnings).
    public init(
        store: any IdentityStore, settings: Settings = Settings(), clock: any Clock = SystemClock(),
        report: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.store = store
        self.settings = settings
        self.clock = clock
        throttle = SignInThrottle(settings: settings, report: report)
        decoy = PasswordHash.unmatchable(iterations: settings.passwordIterations)
    }

    /// Failed sign-ins and lockouts since start (reported by `/healthz`).
    public var signInStatistics: SignInThrottle.Statistics { throttle.statistics(at: clock.now()) }

    // MARK: Authenticator

    /// The caller a valid, project-scoped token stands for (its secret checked once, in
    /// `details`); an unscoped token reaches no project.
    public func caller(forToken token: String) throws(ComputeError) -> Caller? {
        guard let record = try details(ofToken: token)?.record, !record.project.isEmpty else { return nil }
        return Caller(projectID: record.project, userID: record.user, role: record.role)
    }

    /// The token's record and what stands behind it, if it is valid now; nil when it is
    /// unknown, expired, revoked, or its user or application credential no longer allows it.
    public func details(ofToken token: String) throws(ComputeError) -> TokenDetails? {
        guard let presented = PresentedToken(token), let record = try store.token(id: presented.id),
            record.admits(presented, at: clock.now())
        else { return nil }
        guard record.isIssued else {
            // A static token of the CLI: its user and project are names, not records.
            let user = UserRecord(id: record.user, name: record.user, roles: [record.project: record.role], created: .zero)
            let project = ProjectRecord(id: record.project, name: record.project, created: .zero)
            return TokenDetails(record: record, user: user, project: project)
        }
        guard let user = try store.record(UserRecord.self, id: record.user), user.enabled,
            !user.outlives(tokenIssuedAt: record.createdAt)
        else { return nil }
        var credential: ApplicationCredentialRecord? = nil
        if let id = record.applicationCredential {
            guard let found = try store.record(ApplicationCredentialRecord.self, id: id) else { return nil }
            credential = found
        }
        var project: ProjectRecord? = nil
        if !record.project.isEmpty {
            // The role is the one held when the token was issued (as Keystone's tokens carry
            // it); the role held now must still imply it (and a revoke ended it anyway: see
            // `UserRecord.tokensRevoked`), and the project must be enabled.
            guard user.roles[record.project]?.implied.contains(record.role) == true else { return nil }
            project = try store.record(ProjectRecord.self, id: record.project) ?? Self.implicitProject(record.project)
            guard project?.enabled == true else { return nil }
        }
        return TokenDetails(record: record, user: user, project: project, applicationCredential: credential)
    }

    /// A project servers and tokens name without a record (made before projects were
    /// records, or only by `token create`): its id is its name.
    static func implicitProject(_ id: String) -> ProjectRecord {
        ProjectRecord(id: id, name: id, created: .zero)
    }

    /// Revokes an issued or static token; false when it was not valid anyway.
    public func revoke(token: String) throws(ComputeError) -> Bool {
        guard let presented = PresentedToken(token), try details(ofToken: token) != nil else { return false }
        return try store.revoke(tokenID: presented.id)
    }

    // MARK: Signing in

    /// Checks every method given (Keystone requires all of them to succeed, for the same
    /// user), then issues a token for `scope`. Wrong secrets, unknown users and locked-out
    /// users are all `.unauthorized`, worded so as not to tell which.
    public func signIn(_ methods: [SignInMethod], scope: SignInScope?) throws(IdentityError) -> IssuedToken {
        guard !methods.isEmpty else { throw .badRequest("Expecting to find identity.methods in the request.") }
        let now = clock.now()
        var proven: (user: UserRecord, credential: ApplicationCredentialRecord?, from: TokenRecord?)? = nil
        for method in methods {
            let (user, credential, from) = try prove(method, at: now)
            if let earlier = proven, earlier.user.id != user.id {
                throw .unauthorized("The methods of this request prove different users.")
            }
            proven = (user, credential ?? proven?.credential, from ?? proven?.from)
        }
        let (user, credential, from) = proven!
        let project = try scopedProject(scope, user: user, credential: credential, from: from)
        var role = Role.reader
        if let project {
            guard let held = user.roles[project.id] else {
                throw .unauthorized("User \(user.id) has no access to project \(project.id).")
            }
            role = credential.map { Role.weakest([$0.role, held])! } ?? held
        }
        // Never past the application credential's expiry, nor the token it was re-scoped from.
        var expires = now.adding(seconds: settings.tokenLifetimeSeconds)
        for limit in [credential?.expiresAt, from?.expiresAt].compactMap({ $0 }) where limit < expires { expires = limit }
        let (token, record) = TokenRecord.issue(
            project: project?.id ?? "", user: user.id, role: role, methods: methods.map(\.name), audit: from?.audit,
            applicationCredential: credential?.id, created: now, expires: expires)
        do {
            try purgeExpiredTokens(at: now)
            try store.issue(record)
        } catch {
            throw .store(error)
        }
        Counter(label: "alliance_tokens_issued_total").increment()
        return IssuedToken(
            token: token, details: TokenDetails(record: record, user: user, project: project, applicationCredential: credential))
    }

    private func prove(
        _ method: SignInMethod, at now: Timestamp
    ) throws(IdentityError) -> (UserRecord, ApplicationCredentialRecord?, TokenRecord?) {
        switch method {
        case .password(let reference, let password):
            let user = try throttle.guarded(userID: find(reference), at: now) { () throws(IdentityError) -> UserRecord in
                let user = try lookUp(UserRecord.self, reference)
                // A user that does not exist (or has no password) costs the same hashing as one
                // that does, so the time taken does not tell which names exist.
                let hash = user?.password ?? decoy
                guard hash.matches(password), let user, user.enabled, user.password != nil else {
                    throw .unauthorized("The request you have made requires authentication.")
                }
                return user
            }
            return (user, nil, nil)
        case .applicationCredential(let id, let name, let userReference, let secret):
            var credential: ApplicationCredentialRecord? = nil
            if let id {
                credential = try stored { () throws(ComputeError) in try store.record(ApplicationCredentialRecord.self, id: id) }
            } else if let name, let userReference, let owner = try lookUp(UserRecord.self, userReference) {
                credential = try stored { () throws(ComputeError) in
                    try store.all(ApplicationCredentialRecord.self).first { $0.user == owner.id && $0.name == name }
                }
            } else if id == nil, name == nil || userReference == nil {
                throw .badRequest("An application credential is named by its id, or by its name and its user.")
            }
            guard let credential, credential.admits(secret: secret, at: now),
                let user = try stored({ () throws(ComputeError) in try store.record(UserRecord.self, id: credential.user) }),
                user.enabled
            else { throw .unauthorized("The request you have made requires authentication.") }
            return (user, credential, nil)
        case .token(let token):
            let details = try stored { () throws(ComputeError) in try self.details(ofToken: token) }
            guard let details, details.record.isIssued else {
                throw .unauthorized("The request you have made requires authentication.")
            }
            return (details.user, details.applicationCredential, details.record)
        }
    }

    private func scopedProject(
        _ scope: SignInScope?, user: UserRecord, credential: ApplicationCredentialRecord?, from: TokenRecord?
    ) throws(IdentityError) -> ProjectRecord? {
        if let credential {
            // An application credential is always for its one project.
            if case .project(let reference) = scope, try lookUp(ProjectRecord.self, reference)?.id != credential.project {
                throw .unauthorized("An application credential can only be used for its own project.")
            }
            return try enabled(try project(id: credential.project))
        }
        switch scope {
        case .unscoped: return nil
        case .project(let reference):
            if let project = try lookUp(ProjectRecord.self, reference) {
                guard project.enabled else { throw .unauthorized("Project \(project.id) is disabled.") }
                return project
            }
            // A project without a record (only tokens and roles name it) is found by its id.
            if case .id(let id) = reference, user.roles[id] != nil { return Self.implicitProject(id) }
            throw .unauthorized("Could not find project: \(Self.describe(reference)).")
        case nil:
            if let from, !from.project.isEmpty { return try enabled(try project(id: from.project)) }
            // The default project, if the user has a role there and it is enabled; else unscoped.
            guard let id = user.defaultProject, user.roles[id] != nil else { return nil }
            let project = try project(id: id)
            return project.enabled ? project : nil
        }
    }

    private func enabled(_ project: ProjectRecord) throws(IdentityError) -> ProjectRecord {
        guard project.enabled else { throw .unauthorized("Project \(project.id) is disabled.") }
        return project
    }

    private func project(id: String) throws(IdentityError) -> ProjectRecord {
        try stored { () throws(ComputeError) in try store.record(ProjectRecord.self, id: id) } ?? Self.implicitProject(id)
    }

    /// A user id for the throttle, before the password is checked (an unknown user's name
    /// is throttled as itself, so probing names is slowed the same).
    private func find(_ reference: IdentityReference) throws(IdentityError) -> String {
        switch reference {
        case .id(let id): id
        case .name(let name, _): try lookUp(UserRecord.self, reference)?.id ?? "name:\(name)"
        }
    }

    /// The user or project `reference` names, in the one domain there is; nil when none.
    func lookUp<Record: NamedIdentityRecord>(_ type: Record.Type, _ reference: IdentityReference) throws(IdentityError) -> Record?
    {
        switch reference {
        case .id(let id):
            return try stored { () throws(ComputeError) in try store.record(type, id: id) }
        case .name(let name, let domain):
            guard domain == .id(Domain.id) || domain == .name(Domain.name) else { return nil }
            return try stored { () throws(ComputeError) in try store.all(type).first { $0.name == name } }
        }
    }

    static func describe(_ reference: IdentityReference) -> String {
        switch reference {
        case .id(let id): id
        case .name(let name, _): name
        }
    }

    func stored<T>(_ body: () throws(ComputeError) -> T) throws(IdentityError) -> T {
        do { return try body() } catch { throw .store(error) }
    }

    private func purgeExpiredTokens(at now: Timestamp) throws(ComputeError) {
        let due = lastPurge.withLock { last in
            guard !(now < last.adding(seconds: 600)) else { return false }
            last = now
            return true
        }
        if due { try store.removeExpiredTokens(at: now) }
    }
}

/// A record found by name as well as id.
public protocol NamedIdentityRecord: IdentityRecord {
    var name: String { get }
}

extension UserRecord: NamedIdentityRecord {}
extension ProjectRecord: NamedIdentityRecord {}
extension ApplicationCredentialRecord: NamedIdentityRecord {}

/// What the identity API refuses, in Keystone's terms (its error shape names the status).
public enum IdentityError: Error, Sendable, Equatable {
    case badRequest(String)
    case unauthorized(String)
    case forbidden(String)
    case notFound(String)
    case conflict(String)
    case store(ComputeError)
}

extension Timestamp {
    public static let zero = Timestamp(microsecondsSinceEpoch: 0)

    public func adding(seconds: Int) -> Timestamp {
        Timestamp(microsecondsSinceEpoch: microsecondsSinceEpoch + Int64(seconds) * 1_000_000)
    }
}
