public import ComputeCore
import InMemoryStore
public import Logging

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Everything a store holds, as `alliance-compute export` writes it and `import` reads it.
public struct StoreContents: Sendable {
    public var servers: [Server]
    public var flavors: [Flavor]
    public var tokens: [TokenRecord]
    public var quotas: [QuotaOverride]
    public var users: [UserRecord]
    public var projects: [ProjectRecord]
    public var applicationCredentials: [ApplicationCredentialRecord]
    public var keypairs: [KeypairRecord]
    public var serverGroups: [ServerGroupRecord]
    public var securityGroups: [SecurityGroupRecord]

    public init(
        servers: [Server], flavors: [Flavor], tokens: [TokenRecord], quotas: [QuotaOverride], users: [UserRecord] = [],
        projects: [ProjectRecord] = [], applicationCredentials: [ApplicationCredentialRecord] = [],
        keypairs: [KeypairRecord] = [], serverGroups: [ServerGroupRecord] = [],
        securityGroups: [SecurityGroupRecord] = []
    ) {
        self.servers = servers
        self.flavors = flavors
        self.tokens = tokens
        self.quotas = quotas
        self.users = users
        self.projects = projects
        self.applicationCredentials = applicationCredentials
        self.keypairs = keypairs
        self.serverGroups = serverGroups
        self.securityGroups = securityGroups
    }

    public var recordCount: Int {
        servers.count + flavors.count + tokens.count + quotas.count + identityCount
    }

    public var identityCount: Int {
        users.count + projects.count + applicationCredentials.count + keypairs.count + serverGroups.count
            + securityGroups.count
    }

    /// What the commands print: `12 servers, 5 flavors, …`.
    public var summary: String {
        let deleted = servers.count { $0.deleted != nil }
        return "\(servers.count - deleted) servers\(deleted > 0 ? " (and \(deleted) deleted, kept for changes-since)" : ""), "
            + "\(flavors.count) flavors, \(tokens.count) tokens, \(quotas.count) quota overrides, "
            + "\(users.count) users, \(projects.count) projects, \(applicationCredentials.count) application credentials, "
            + "\(keypairs.count) key pairs, \(serverGroups.count) server groups and \(securityGroups.count) security groups"
    }
}

extension JSONFileStore {
    /// Reads a data directory whole, without taking its lock or changing it: its records (as
    /// start-up would load them), the CLI's tokens and quota overrides, and the identity
    /// records (issued tokens are not kept: they last an hour). `progress` is told how many
    /// records are read, now and then, from any thread.
    public static func contents(
        of directory: String, logger: Logger, progress: @Sendable (Int) -> Void = { _ in }
    ) throws -> StoreContents {
        let inspection = try inspect(directory: directory, logger: logger, progress: progress)
        func identity<R: IdentityRecord>(_ type: R.Type) throws -> [R] {
            try ControlDirectory.readAll(type, dataDirectory: directory, subdirectory: R.collection.rawValue).items.values
                .sorted { $0.id < $1.id }
        }
        return StoreContents(
            servers: inspection.records.servers, flavors: inspection.records.flavors,
            tokens: try TokenStore.list(dataDirectory: directory).records,
            quotas: Array(try QuotaFiles.overrides(dataDirectory: directory).items.values),
            users: try identity(UserRecord.self), projects: try identity(ProjectRecord.self),
            applicationCredentials: try identity(ApplicationCredentialRecord.self), keypairs: try identity(KeypairRecord.self),
            serverGroups: try identity(ServerGroupRecord.self), securityGroups: try identity(SecurityGroupRecord.self))
    }

    /// Writes `contents` as a new data directory at `directory` (which must not exist, or be
    /// empty): the JSON-file store's own layout, which `serve --data-dir` opens as it is. Files
    /// are written without an fsync each, and the filesystem is synced once at the end.
    /// `progress` is told how many records are written, now and then.
    public static func write(
        _ contents: StoreContents, to directory: String, progress: (Int) -> Void = { _ in }
    ) throws {
        let posix = POSIX.live
        if mkdir(directory, 0o750) != 0 {
            guard errno == EEXIST, (try? FileManager.default.contentsOfDirectory(atPath: directory).isEmpty) == true else {
                throw ComputeError.invalidInput("\(directory) exists and is not empty: export into a new directory.")
            }
        }
        let root = try posix.openDirectory(path: directory)
        defer { posix.close(root) }
        var written = 0
        func each<T>(_ items: [T], into name: String, mode: mode_t = 0o750, _ file: (T) throws -> (String, [UInt8])) throws {
            let fd = try posix.openDirectory(parent: root, name: name, path: "\(directory)/\(name)", create: true, mode: mode).fd
            defer { posix.close(fd) }
            for item in items {
                let (fileName, bytes) = try file(item)
                try posix.writeNewFile(directory: fd, name: fileName, bytes: bytes, path: "\(directory)/\(name)/\(fileName)")
                written += 1
                if written % 1000 == 0 { progress(written) }
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try each(contents.servers, into: RecordKind.server.rawValue) { ("\($0.id).json", try ServerRecord.encode($0)) }
        try each(contents.flavors, into: RecordKind.flavor.rawValue) { flavor in
            let key = UUID().uuidString.lowercased()
            return ("\(key).json", try FlavorRecord.encode(flavor, recordKey: key))
        }
        try each(contents.tokens, into: TokenStore.subdirectory, mode: 0o700) {
            ("\($0.id).json", Array(try encoder.encode($0)) + [0x0a])
        }
        try each(contents.quotas, into: QuotaFiles.subdirectory, mode: 0o700) {
            ("\($0.project).json", Array(try encoder.encode($0)) + [0x0a])
        }
        func identity<R: IdentityRecord>(_ records: [R]) throws {
            try each(records, into: R.collection.rawValue, mode: 0o700) {
                ("\($0.id).json", Array(try encoder.encode($0)) + [0x0a])
            }
        }
        try identity(contents.users)
        try identity(contents.projects)
        try identity(contents.applicationCredentials)
        try identity(contents.keypairs)
        try identity(contents.serverGroups)
        try identity(contents.securityGroups)
        for name in ["intents", "damaged"] {
            posix.close(try posix.openDirectory(parent: root, name: name, path: "\(directory)/\(name)", create: true).fd)
        }
        let meta = "{\"format\": \(directoryFormat), \"created\": \"\(SystemClock().now().iso8601Seconds)\"}\n"
        try posix.writeNewFile(directory: root, name: "store.json", bytes: Array(meta.utf8), path: "\(directory)/store.json")
        progress(written)
        // Every file at once: one sync instead of an fsync per file.
        sync()
    }
}
