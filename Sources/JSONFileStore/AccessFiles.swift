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

/// Small JSON files the operator's CLI keeps beside the records, one per item: `tokens/` and
/// `quotas/`. The CLI writes them (durably, owned like the data directory) while the worker
/// runs; the worker only reads them, through `WatchedDirectory`.
enum ControlDirectory {
    static func path(_ dataDirectory: String, _ subdirectory: String) -> String { "\(dataDirectory)/\(subdirectory)" }

    /// Writes `item` as `<name>.json`, creating the subdirectory (mode 0700) if needed.
    static func write<Item: Encodable>(
        _ item: Item, name: String, dataDirectory: String, subdirectory: String
    ) throws {
        var status = stat()
        guard stat(dataDirectory, &status) == 0 else {
            throw ComputeError.invalidInput(
                "There is no data directory at \(dataDirectory) (\(String(cString: strerror(errno)))).")
        }
        let owner = getuid() == 0 ? (status.st_uid, status.st_gid) : nil
        let directory = path(dataDirectory, subdirectory)
        if mkdir(directory, 0o700) == 0, let (uid, gid) = owner {
            try POSIX.call("chown", directory) { chown(directory, uid, gid) }
        }
        let fd = try POSIX.call("open", directory) { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try POSIX.writeFileDurably(
            directory: fd, name: "\(name).json", bytes: Array(try encoder.encode(item)) + [0x0a],
            path: "\(directory)/\(name).json", mode: 0o600, owner: owner)
    }

    /// Removes `<name>.json`; false when there was none.
    static func remove(name: String, dataDirectory: String, subdirectory: String) throws -> Bool {
        let file = "\(path(dataDirectory, subdirectory))/\(name).json"
        guard unlink(file) == 0 else {
            if errno == ENOENT { return false }
            throw SystemCallError(call: "unlink", path: file, errno: errno)
        }
        let fd = try POSIX.call("open", file) { open(path(dataDirectory, subdirectory), O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        try POSIX.call("fsync", file) { fsync(fd) }
        return true
    }

    /// Every `*.json` item, by name; files that do not decode are reported, not fatal.
    static func readAll<Item: Decodable>(
        _ type: Item.Type, dataDirectory: String, subdirectory: String
    ) -> (items: [String: Item], problems: [String]) {
        let directory = path(dataDirectory, subdirectory)
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            return ([:], errno == ENOENT ? [] : ["cannot open \(directory): \(String(cString: strerror(errno)))"])
        }
        defer { close(fd) }
        var items: [String: Item] = [:]
        var problems: [String] = []
        do {
            for name in try POSIX.directoryEntries(fd, path: directory) where name.hasSuffix(".json") && !name.hasPrefix(".") {
                do {
                    let bytes = try POSIX.readFile(directory: fd, name: name, path: "\(directory)/\(name)")
                    items[String(name.dropLast(5))] = try JSONDecoder().decode(Item.self, from: Data(bytes))
                } catch {
                    problems.append("\(directory)/\(name) is not a valid file: \(error)")
                }
            }
        } catch {
            problems.append("\(error)")
        }
        return (items, problems)
    }
}

/// The worker's view of a control directory: reread when the directory changes (one `stat`
/// per look), so a token the CLI creates or revokes takes effect on the next request.
///
/// The snapshot is guarded by a pthread mutex rather than `Mutex`: ThreadSanitizer does not see
/// the ordering `Mutex` gives inside this generic class (it reported a race between two
/// `withLock` bodies), and the TSan run must stay meaningful.
final class WatchedDirectory<Item: Decodable & Sendable>: @unchecked Sendable {
    // @unchecked: `snapshot` is only touched with `mutex` held.
    private struct Snapshot {
        var stamp: timespec?
        var items: [String: Item] = [:]
    }

    private let dataDirectory: String
    private let subdirectory: String
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var snapshot = Snapshot()
    private let report: @Sendable ([String]) -> Void

    init(dataDirectory: String, subdirectory: String, report: @escaping @Sendable ([String]) -> Void) {
        self.dataDirectory = dataDirectory
        self.subdirectory = subdirectory
        self.report = report
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    var items: [String: Item] {
        var status = stat()
        let exists = stat(ControlDirectory.path(dataDirectory, subdirectory), &status) == 0
        let stamp = exists ? status.st_mtim : nil
        let cached = locked { snapshot.stamp.map { Self.same($0, stamp) } == true ? snapshot.items : nil }
        if let cached { return cached }
        let (items, problems) =
            exists
            ? ControlDirectory.readAll(Item.self, dataDirectory: dataDirectory, subdirectory: subdirectory) : ([:], [])
        if !problems.isEmpty { report(problems) }
        // A directory changed within the last second may change again with the same coarse
        // timestamp: keep rereading it until it has been quiet for a second.
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let settled = stamp.map { now.tv_sec - $0.tv_sec > 1 } ?? true
        locked { snapshot = Snapshot(stamp: settled ? (stamp ?? timespec()) : nil, items: items) }
        return items
    }

    private static func same(_ a: timespec, _ b: timespec?) -> Bool {
        guard let b else { return a.tv_sec == 0 && a.tv_nsec == 0 }
        return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec
    }
}

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
        let parts = token.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, Self.isHex(parts[0], count: 12), let record = files.items[String(parts[0])],
            record.id == parts[0], !record.isExpired(at: clock.now())
        else { return nil }
        let actual = Self.sha256(Array(parts[1].utf8))
        let equal = actual.withUnsafeBytes { a in
            record.digest.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, 32) }
        }
        return equal == 0 ? Caller(projectID: record.project, userID: record.user, role: record.role) : nil
    }

    /// Makes a token and stores its hash; the token is returned once and kept nowhere.
    public static func create(
        dataDirectory: String, project: String, user: String, role: Role, expires: Timestamp?, clock: any Clock = SystemClock()
    ) throws -> (token: String, record: TokenRecord) {
        try Validation.principal(project, field: "project")
        try Validation.principal(user, field: "user")
        var generator = SystemRandomNumberGenerator()
        let id = hex((0..<6).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let secret = hex((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let record = TokenRecord(
            id: id, sha256: sha256(Array(secret.utf8)), project: project, user: user, role: role, created: clock.now(),
            expires: expires)
        try ControlDirectory.write(record, name: id, dataDirectory: dataDirectory, subdirectory: subdirectory)
        return ("\(id).\(secret)", record)
    }

    public static func list(dataDirectory: String) -> (records: [TokenRecord], problems: [String]) {
        let (items, problems) = ControlDirectory.readAll(
            TokenRecord.self, dataDirectory: dataDirectory, subdirectory: subdirectory)
        return (items.values.sorted { ($0.created, $0.id) < ($1.created, $1.id) }, problems)
    }

    /// Deletes a token's record; false when there is no such token.
    public static func revoke(dataDirectory: String, id: String) throws -> Bool {
        guard isHex(Substring(id), count: 12) else { return false }
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

/// A project's own limits, set with `alliance-compute quota set`; nil fields keep the default.
public struct QuotaOverride: Codable, Sendable, Equatable {
    public var format = 1
    public var project: String
    public var instances: Int?
    public var cores: Int?
    public var ram: Int?

    public init(project: String, instances: Int? = nil, cores: Int? = nil, ram: Int? = nil) {
        self.project = project
        self.instances = instances
        self.cores = cores
        self.ram = ram
    }

    func applied(to defaults: QuotaLimits) -> QuotaLimits {
        QuotaLimits(instances: instances ?? defaults.instances, cores: cores ?? defaults.cores, ram: ram ?? defaults.ram)
    }
}

/// Quotas: the configured defaults, and per-project overrides from `quotas/`.
public final class QuotaFiles: QuotaSource {
    static let subdirectory = "quotas"
    public let defaults: QuotaLimits
    private let files: WatchedDirectory<QuotaOverride>

    public init(
        dataDirectory: String, defaults: QuotaLimits, report: @escaping @Sendable ([String]) -> Void = { _ in }
    ) {
        self.defaults = defaults
        files = WatchedDirectory(dataDirectory: dataDirectory, subdirectory: Self.subdirectory, report: report)
    }

    public func limits(for projectID: String) -> QuotaLimits {
        files.items[projectID].map { $0.applied(to: defaults) } ?? defaults
    }

    /// Stores a project's override, merged with the one it had.
    public static func set(_ change: QuotaOverride, dataDirectory: String) throws -> QuotaOverride {
        try Validation.principal(change.project, field: "project")
        for (name, value) in [("instances", change.instances), ("cores", change.cores), ("ram", change.ram)] {
            if let value, value < -1 { throw ComputeError.invalidField(name, "must be -1 (unlimited) or more.") }
        }
        var merged = overrides(dataDirectory: dataDirectory).items[change.project] ?? QuotaOverride(project: change.project)
        merged.instances = change.instances ?? merged.instances
        merged.cores = change.cores ?? merged.cores
        merged.ram = change.ram ?? merged.ram
        try ControlDirectory.write(merged, name: change.project, dataDirectory: dataDirectory, subdirectory: subdirectory)
        return merged
    }

    public static func overrides(dataDirectory: String) -> (items: [String: QuotaOverride], problems: [String]) {
        ControlDirectory.readAll(QuotaOverride.self, dataDirectory: dataDirectory, subdirectory: subdirectory)
    }
}
