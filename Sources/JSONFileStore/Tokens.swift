import CLibCrypto
public import ComputeCore

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A token as stored: never the token itself, only the SHA-256 of its secret part.
public struct TokenRecord: Codable, Sendable, Equatable {
    public var format = 1
    /// The public half of the token (`<id>.<secret>`), which names it in `token list/revoke`.
    public var id: String
    public var sha256: String
    public var project: String
    public var user: String
    public var role: Role
    public var created: String
    public var expires: String?
    /// `sha256` and `expires` as the worker compares them, decoded once when the file is read
    /// rather than on every request; a file where either does not parse is refused then.
    let digest: [UInt8]
    let expiry: Timestamp?

    enum CodingKeys: String, CodingKey {
        case format, id, sha256, project, user, role, created, expires
    }

    init(
        id: String, sha256: [UInt8], project: String, user: String, role: Role, created: Timestamp, expires: Timestamp?
    ) {
        self.id = id
        self.sha256 = TokenStore.hex(sha256)
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
        guard let digest = TokenStore.bytes(hex: sha256), digest.count == 32 else {
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

    /// A new token and its record: `<id>.<secret>`, 48 bits of id and 256 of secret. The token
    /// is returned once and kept nowhere; the record holds the SHA-256 of the secret.
    public static func make(
        project: String, user: String, role: Role, expires: Timestamp?, clock: any Clock = SystemClock()
    ) throws(ComputeError) -> (token: String, record: TokenRecord) {
        try Validation.principal(project, field: "project")
        try Validation.principal(user, field: "user")
        var generator = SystemRandomNumberGenerator()
        let id = TokenStore.hex((0..<6).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let secret = TokenStore.hex((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let record = TokenRecord(
            id: id, sha256: TokenStore.sha256(Array(secret.utf8)), project: project, user: user, role: role,
            created: clock.now(), expires: expires)
        return ("\(id).\(secret)", record)
    }

    /// The caller this record stands for, if `token` is its id and secret (the SHA-256 compared
    /// in constant time) and it has not expired at `now`.
    public func caller(presenting token: PresentedToken, at now: Timestamp) -> Caller? {
        guard token.id == id, !isExpired(at: now) else { return nil }
        let actual = TokenStore.sha256(Array(token.secret.utf8))
        let equal = actual.withUnsafeBytes { a in
            digest.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, 32) }
        }
        return equal == 0 ? Caller(projectID: project, userID: user, role: role) : nil
    }
}

/// A token as a request presents it (`X-Auth-Token: <id>.<secret>`), split; nil when it does
/// not have the shape tokens have.
public struct PresentedToken: Sendable {
    public let id: String
    let secret: Substring

    public init?(_ token: String) {
        let parts = token.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, TokenStore.isHex(parts[0], count: 12) else { return nil }
        id = String(parts[0])
        secret = parts[1]
    }

    /// Whether `id` can be a token's id (what `token revoke` takes).
    public static func isID(_ id: String) -> Bool { TokenStore.isHex(Substring(id), count: 12) }
}

/// The tokens of a data directory (`tokens/`): created, listed and revoked by the CLI,
/// checked by the worker.
public final class TokenStore: Authenticator {
    static let subdirectory = "tokens"
    private let files: WatchedDirectory<TokenRecord>
    private let clock: any Clock

    public init(
        dataDirectory: String, clock: any Clock = SystemClock(), report: @escaping @Sendable ([String]) -> Void = { _ in }
    ) {
        files = WatchedDirectory(dataDirectory: dataDirectory, subdirectory: Self.subdirectory, report: report)
        self.clock = clock
    }

    /// The caller a token stands for: its record exists, has not expired, and the SHA-256 of
    /// the secret matches (compared in constant time).
    public func caller(forToken token: String) -> Caller? {
        guard let presented = PresentedToken(token), let record = files.items[presented.id] else { return nil }
        return record.caller(presenting: presented, at: clock.now())
    }

    /// Makes a token and stores its hash; the token is returned once and kept nowhere.
    public static func create(
        dataDirectory: String, project: String, user: String, role: Role, expires: Timestamp?, clock: any Clock = SystemClock()
    ) throws -> (token: String, record: TokenRecord) {
        let (token, record) = try TokenRecord.make(project: project, user: user, role: role, expires: expires, clock: clock)
        try ControlDirectory.write(record, name: record.id, dataDirectory: dataDirectory, subdirectory: subdirectory)
        return (token, record)
    }

    public static func list(dataDirectory: String) throws -> (records: [TokenRecord], problems: [String]) {
        let (items, problems) = try ControlDirectory.readAll(
            TokenRecord.self, dataDirectory: dataDirectory, subdirectory: subdirectory)
        return (items.values.sorted { ($0.created, $0.id) < ($1.created, $1.id) }, problems)
    }

    /// Deletes a token's record; false when there is no such token.
    public static func revoke(dataDirectory: String, id: String) throws -> Bool {
        guard PresentedToken.isID(id) else { return false }
        return try ControlDirectory.remove(name: id, dataDirectory: dataDirectory, subdirectory: subdirectory)
    }

    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { input in
            EVP_Digest(input.baseAddress, input.count, &digest, &length, EVP_sha256(), nil)
        }
        precondition(ok == 1 && length == 32, "libcrypto's SHA-256 failed")
        return digest
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xf)]] }, as: UTF8.self)
    }

    static func bytes(hex: String) -> [UInt8]? {
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        let utf8 = Array(hex.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        for index in stride(from: 0, to: utf8.count, by: 2) {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    static func isHex(_ text: Substring, count: Int) -> Bool {
        text.utf8.count == count && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
