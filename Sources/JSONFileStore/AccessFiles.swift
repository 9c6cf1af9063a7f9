import CLibCrypto
public import ComputeCore
import Logging

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
///
/// The CLI often runs as root in a directory the worker's user owns, so nothing in it is
/// trusted: the subdirectory and its files are opened relative to the data directory's
/// descriptor without following symbolic links, and only a directory and regular files of at
/// most `POSIX.maxFileBytes` are used. A symlinked `tokens` pointing at `/etc` is refused, never
/// written through (and never `fchown`ed to the worker's user).
enum ControlDirectory {
    static func path(_ dataDirectory: String, _ subdirectory: String) -> String { "\(dataDirectory)/\(subdirectory)" }

    /// The data directory's descriptor; a clear error when it does not exist.
    static func openDataDirectory(_ dataDirectory: String, posix: POSIX) throws -> Int32 {
        do {
            return try posix.openDirectory(path: dataDirectory)
        } catch {
            guard error.errno == ENOENT || error.errno == ENOTDIR else { throw error }
            throw ComputeError.invalidInput(
                "There is no data directory at \(dataDirectory): give the --data-dir the worker serves.")
        }
    }

    /// The subdirectory's descriptor (nil when it does not exist and `create` is false). A new
    /// one is made mode 0700, owned like the data directory, and its creation made durable.
    private static func openSubdirectory(
        _ dataFD: Int32, dataDirectory: String, subdirectory: String, create: Bool, posix: POSIX
    ) throws -> Int32? {
        let directory = path(dataDirectory, subdirectory)
        let fd: Int32
        let created: Bool
        do {
            (fd, created) = try posix.openDirectory(
                parent: dataFD, name: subdirectory, path: directory, create: create, mode: 0o700)
        } catch {
            if error.errno == ENOENT && !create { return nil }
            guard error.errno == ELOOP || error.errno == ENOTDIR else { throw error }
            throw ComputeError.invalidInput(
                "\(directory) is a symbolic link or not a directory; refusing to use it. Move it away and try again.")
        }
        do {
            if created {
                if let (uid, gid) = try owner(of: dataFD, path: dataDirectory, posix: posix) {
                    try posix.call(.fchown, directory) { fchown(fd, uid, gid) }
                }
                try posix.fsync(fd, path: directory)
                try posix.fsync(dataFD, path: dataDirectory)
            }
        } catch {
            posix.close(fd)
            throw error
        }
        return fd
    }

    /// The data directory's owner, when running as root: what the CLI's files must belong to,
    /// so the worker's user can read them.
    private static func owner(of dataFD: Int32, path: String, posix: POSIX) throws -> (uid_t, gid_t)? {
        guard getuid() == 0 else { return nil }
        var status = stat()
        try posix.call(.fstat, path) { fstat(dataFD, &status) }
        return (status.st_uid, status.st_gid)
    }

    /// Writes `item` as `<name>.json`, creating the subdirectory if needed.
    static func write<Item: Encodable>(
        _ item: Item, name: String, dataDirectory: String, subdirectory: String, posix: POSIX = .live
    ) throws {
        let dataFD = try openDataDirectory(dataDirectory, posix: posix)
        defer { posix.close(dataFD) }
        let fd = try openSubdirectory(
            dataFD, dataDirectory: dataDirectory, subdirectory: subdirectory, create: true, posix: posix)!
        defer { posix.close(fd) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try posix.writeFileDurably(
            directory: fd, name: "\(name).json", bytes: Array(try encoder.encode(item)) + [0x0a],
            path: "\(path(dataDirectory, subdirectory))/\(name).json", mode: 0o600,
            owner: try owner(of: dataFD, path: dataDirectory, posix: posix))
    }

    /// Removes `<name>.json`; false when there was none.
    static func remove(name: String, dataDirectory: String, subdirectory: String, posix: POSIX = .live) throws -> Bool {
        let dataFD = try openDataDirectory(dataDirectory, posix: posix)
        defer { posix.close(dataFD) }
        guard
            let fd = try openSubdirectory(
                dataFD, dataDirectory: dataDirectory, subdirectory: subdirectory, create: false, posix: posix)
        else { return false }
        defer { posix.close(fd) }
        let directory = path(dataDirectory, subdirectory)
        guard try posix.unlink(fd, "\(name).json", path: "\(directory)/\(name).json") else { return false }
        try posix.fsync(fd, path: directory)
        return true
    }

    /// Every `*.json` item, by name; files that do not decode are reported, not fatal. A data
    /// directory that does not exist is an error (the CLI says so); a missing subdirectory
    /// holds nothing.
    static func readAll<Item: Decodable>(
        _ type: Item.Type, dataDirectory: String, subdirectory: String, posix: POSIX = .live
    ) throws -> (items: [String: Item], problems: [String]) {
        let dataFD = try openDataDirectory(dataDirectory, posix: posix)
        defer { posix.close(dataFD) }
        let directory = path(dataDirectory, subdirectory)
        guard
            let fd = try openSubdirectory(
                dataFD, dataDirectory: dataDirectory, subdirectory: subdirectory, create: false, posix: posix)
        else { return ([:], []) }
        defer { posix.close(fd) }
        var items: [String: Item] = [:]
        var problems: [String] = []
        for entry in try posix.directoryEntries(fd, path: directory) {
            guard let name = entry.name, name.hasSuffix(".json"), !POSIX.isTemporary(name) else { continue }
            do {
                let bytes = try posix.readFile(directory: fd, name: name, path: "\(directory)/\(name)")
                items[String(name.dropLast(5))] = try JSONDecoder().decode(Item.self, from: Data(bytes))
            } catch let failure as POSIX.ReadFailure {
                problems.append("\(directory)/\(name) is not used: \(failure.reason)")
            } catch {
                problems.append("\(directory)/\(name) is not a valid file: \(error)")
            }
        }
        return (items, problems)
    }

    /// How old a temporary file must be before start-up takes it for a leftover of a CLI that
    /// died mid-write (a younger one may be a write in progress).
    static let leftoverAge: Int = 60

    /// Deletes the temporary files of writes that never finished in every control directory.
    /// Run by the worker at start-up, which owns the data directory.
    static func removeLeftovers(dataDirectory dataFD: Int32, path: String, logger: Logger, posix: POSIX) {
        for subdirectory in [TokenStore.subdirectory, QuotaFiles.subdirectory] {
            let directory = "\(path)/\(subdirectory)"
            guard let fd = try? posix.openDirectory(parent: dataFD, name: subdirectory, path: directory, create: false).fd
            else { continue }
            defer { posix.close(fd) }
            var removed = 0
            for entry in (try? posix.directoryEntries(fd, path: directory)) ?? [] {
                guard let name = entry.name, POSIX.isTemporary(name), let age = posix.age(of: name, in: fd),
                    age >= leftoverAge, (try? posix.unlink(fd, name, path: "\(directory)/\(name)")) == true
                else { continue }
                removed += 1
            }
            if removed > 0 {
                _ = try? posix.fsync(fd, path: directory)
                logger.notice("removed \(removed) temporary files of unfinished writes from \(directory)")
            }
        }
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
        let stamp = POSIX.live.modificationTime(ControlDirectory.path(dataDirectory, subdirectory))
        let exists = stamp != nil
        let cached = locked { snapshot.stamp.map { Self.same($0, stamp) } == true ? snapshot.items : nil }
        if let cached { return cached }
        var (items, problems): ([String: Item], [String]) = ([:], [])
        if exists {
            do {
                (items, problems) = try ControlDirectory.readAll(
                    Item.self, dataDirectory: dataDirectory, subdirectory: subdirectory)
            } catch {
                problems = ["cannot read \(ControlDirectory.path(dataDirectory, subdirectory)): \(error)"]
            }
        }
        if !problems.isEmpty { report(problems) }
        // A directory changed within the last second may change again with the same coarse
        // timestamp: keep rereading it until it has been quiet for a second.
        let settled = stamp.map { POSIX.now().tv_sec - $0.tv_sec > 1 } ?? true
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

    public static func list(dataDirectory: String) throws -> (records: [TokenRecord], problems: [String]) {
        let (items, problems) = try ControlDirectory.readAll(
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
        var merged = try overrides(dataDirectory: dataDirectory).items[change.project] ?? QuotaOverride(project: change.project)
        merged.instances = change.instances ?? merged.instances
        merged.cores = change.cores ?? merged.cores
        merged.ram = change.ram ?? merged.ram
        try ControlDirectory.write(merged, name: change.project, dataDirectory: dataDirectory, subdirectory: subdirectory)
        return merged
    }

    public static func overrides(dataDirectory: String) throws -> (items: [String: QuotaOverride], problems: [String]) {
        try ControlDirectory.readAll(QuotaOverride.self, dataDirectory: dataDirectory, subdirectory: subdirectory)
    }
}

// Part of the POSIX layer, kept in this file: only the control directories look at times, and
// `timespec` resolves here (libcrypto's headers declare it too, and this file imports them).
extension POSIX {
    /// When `path` last changed (the link itself for a symlink); nil when there is nothing.
    func modificationTime(_ path: String) -> timespec? {
        var status = stat()
        return lstat(path, &status) == 0 ? status.st_mtim : nil
    }

    /// Seconds since `name` in `directory` last changed (not following a symlink); nil when
    /// there is nothing.
    func age(of name: String, in directory: Int32) -> Int? {
        var status = stat()
        guard fstatat(directory, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return Int(Self.now().tv_sec - status.st_mtim.tv_sec)
    }

    static func now() -> timespec {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return now
    }
}
