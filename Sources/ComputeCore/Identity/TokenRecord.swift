/// A token as stored: never the token itself, only the SHA-256 of its secret part. Made by
/// the CLI (`token create`: static, no user record behind it) or issued by the identity API
/// (`POST /identity/v3/auth/tokens`: `methods` set, a user record behind it, expiring).
public struct TokenRecord: Codable, Sendable, Equatable {
    public var format = 1
    /// The public half of the token (`<id>.<secret>`), which names it in `token list/revoke`.
    public var id: String
    public var sha256: String
    /// The project it is scoped to; empty for an unscoped token (identity API only).
    public var project: String
    public var user: String
    public var role: Role
    public var created: String
    public var expires: String?
    /// How it was obtained (`password`, `application_credential`, `token`); nil for the CLI's.
    public var methods: [String]?
    /// Keystone's audit id, shared by a token and the ones re-scoped from it.
    public var audit: String?
    /// The application credential it was obtained with: deleting that revokes the token.
    public var applicationCredential: String?
    /// `sha256` and `expires` as the worker compares them, decoded once when the record is
    /// read rather than on every request; a record where either does not parse is refused.
    let digest: [UInt8]
    let expiry: Timestamp?

    enum CodingKeys: String, CodingKey {
        case format, id, sha256, project, user, role, created, expires, methods, audit
        case applicationCredential = "application_credential"
    }

    init(
        id: String, sha256: [UInt8], project: String, user: String, role: Role, created: Timestamp, expires: Timestamp?
    ) {
        self.id = id
        self.sha256 = Secrets.hex(sha256)
        self.digest = sha256
        self.project = project
        self.user = user
        self.role = role
        self.created = created.iso8601Seconds
        self.expires = expires?.iso8601Seconds
        self.expiry = expires.flatMap { Timestamp(canonical: $0.iso8601Seconds) }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(Int.self, forKey: .format)
        id = try c.decode(String.self, forKey: .id)
        sha256 = try c.decode(String.self, forKey: .sha256)
        project = try c.decode(String.self, forKey: .project)
        user = try c.decode(String.self, forKey: .user)
        role = try c.decode(Role.self, forKey: .role)
        created = try c.decode(String.self, forKey: .created)
        expires = try c.decodeIfPresent(String.self, forKey: .expires)
        methods = try c.decodeIfPresent([String].self, forKey: .methods)
        audit = try c.decodeIfPresent(String.self, forKey: .audit)
        applicationCredential = try c.decodeIfPresent(String.self, forKey: .applicationCredential)
        guard let digest = Secrets.bytes(hex: sha256), digest.count == 32 else {
            throw DecodingError.dataCorruptedError(forKey: .sha256, in: c, debugDescription: "not 64 hex digits")
        }
        self.digest = digest
        expiry = try expires.map { text in
            guard let instant = Timestamp(canonical: text) else {
                throw DecodingError.dataCorruptedError(forKey: .expires, in: c, debugDescription: "not an ISO 8601 time")
            }
            return instant
        }
    }

    public func isExpired(at now: Timestamp) -> Bool {
        expiry.map { !(now < $0) } ?? false
    }

    /// When it stops working, if ever.
    public var expiresAt: Timestamp? { expiry }
    public var createdAt: Timestamp? { Timestamp(canonical: created) }
    /// Whether the identity API issued it (and so a user record stands behind it).
    public var isIssued: Bool { methods != nil }

    /// A new token and its record: `<id>.<secret>`, 48 bits of id and 256 of secret. The token
    /// is returned once and kept nowhere; the record holds the SHA-256 of the secret.
    public static func make(
        project: String, user: String, role: Role, expires: Timestamp?, clock: any Clock = SystemClock()
    ) throws(ComputeError) -> (token: String, record: TokenRecord) {
        try Validation.principal(project, field: "project")
        try Validation.principal(user, field: "user")
        return unchecked(project: project, user: user, role: role, created: clock.now(), expires: expires)
    }

    /// A token the identity API issues (its user and project come from records, already
    /// checked; `project` is empty for an unscoped token).
    public static func issue(
        project: String, user: String, role: Role, methods: [String], audit: String?, applicationCredential: String?,
        created: Timestamp, expires: Timestamp
    ) -> (token: String, record: TokenRecord) {
        var (token, record) = unchecked(project: project, user: user, role: role, created: created, expires: expires)
        // To the microsecond: a password set earlier in the same second must not outlive it.
        record.created = created.iso8601Microseconds
        record.methods = methods
        record.audit = audit ?? Secrets.hex(Secrets.random(8))
        record.applicationCredential = applicationCredential
        return (token, record)
    }

    private static func unchecked(
        project: String, user: String, role: Role, created: Timestamp, expires: Timestamp?
    ) -> (token: String, record: TokenRecord) {
        let id = Secrets.hex(Secrets.random(6))
        let secret = Secrets.hex(Secrets.random(32))
        let record = TokenRecord(
            id: id, sha256: Secrets.sha256(secret.utf8), project: project, user: user, role: role, created: created,
            expires: expires)
        return ("\(id).\(secret)", record)
    }

    /// Whether `token` is this record's id and secret (the SHA-256 compared in constant time)
    /// and it has not expired at `now`.
    public func admits(_ token: PresentedToken, at now: Timestamp) -> Bool {
        token.id == id && !isExpired(at: now) && Secrets.equal(Secrets.sha256(token.secret.utf8), digest)
    }
}

/// A token as a request presents it (`X-Auth-Token: <id>.<secret>`), split; nil when it does
/// not have the shape tokens have.
public struct PresentedToken: Sendable {
    public let id: String
    let secret: Substring

    public init?(_ token: String) {
        let parts = token.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, Secrets.isHex(parts[0], count: 12) else { return nil }
        id = String(parts[0])
        secret = parts[1]
    }

    /// Whether `id` can be a token's id (what `token revoke` takes).
    public static func isID(_ id: String) -> Bool { Secrets.isHex(id, count: 12) }
}
