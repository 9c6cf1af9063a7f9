public import ComputeCore

/// The identity store of a data directory: `users/`, `projects/`, `application_credentials/`,
/// `keypairs/`, `server_groups/` and `security_groups/` hold one JSON file per record (written durably, as the CLI's
/// tokens are, and read through a `WatchedDirectory`, so a `user delete` from the CLI takes
/// effect on the next request); `tokens/` holds the CLI's tokens, and `sessions/` the tokens
/// the identity API issues. Those are written by this worker alone, so it keeps them in
/// memory as well (loaded at start): issuing one does not make every request reread a
/// directory that changes with every sign-in.
public final class IdentityFiles: IdentityStore {
    static let sessionsSubdirectory = "sessions"
    private let dataDirectory: String
    private let collections: [IdentityCollection: any Sendable]
    private let staticTokens: WatchedDirectory<TokenRecord>
    private let sessions: Locked<[String: TokenRecord]>
    private let report: @Sendable ([String]) -> Void

    /// Opens the identity records of `dataDirectory`; `report` hears of files that are not used.
    public init(dataDirectory: String, report: @escaping @Sendable ([String]) -> Void = { _ in }) throws {
        self.dataDirectory = dataDirectory
        self.report = report
        var collections: [IdentityCollection: any Sendable] = [:]
        collections[.users] = WatchedDirectory<UserRecord>(
            dataDirectory: dataDirectory, subdirectory: IdentityCollection.users.rawValue, report: report)
        collections[.projects] = WatchedDirectory<ProjectRecord>(
            dataDirectory: dataDirectory, subdirectory: IdentityCollection.projects.rawValue, report: report)
        collections[.applicationCredentials] = WatchedDirectory<ApplicationCredentialRecord>(
            dataDirectory: dataDirectory, subdirectory: IdentityCollection.applicationCredentials.rawValue, report: report)
        collections[.keypairs] = WatchedDirectory<KeypairRecord>(
            dataDirectory: dataDirectory, subdirectory: IdentityCollection.keypairs.rawValue, report: report)
        collections[.serverGroups] = WatchedDirectory<ServerGroupRecord>(
            dataDirectory: dataDirectory, subdirectory: IdentityCollection.serverGroups.rawValue, report: report)
        collections[.securityGroups] = WatchedDirectory<SecurityGroupRecord>(
            dataDirectory: dataDirectory, subdirectory: IdentityCollection.securityGroups.rawValue, report: report)
        self.collections = collections
        staticTokens = WatchedDirectory(dataDirectory: dataDirectory, subdirectory: TokenStore.subdirectory, report: report)
        let (loaded, problems) = try ControlDirectory.readAll(
            TokenRecord.self, dataDirectory: dataDirectory, subdirectory: Self.sessionsSubdirectory)
        if !problems.isEmpty { report(problems) }
        sessions = Locked(loaded)
    }

    private func watched<Record: IdentityRecord>(_ type: Record.Type) -> WatchedDirectory<Record> {
        collections[Record.collection] as! WatchedDirectory<Record>
    }

    public func all<Record: IdentityRecord>(_ type: Record.Type) throws(ComputeError) -> [Record] {
        watched(type).items.values.sorted { $0.id < $1.id }
    }

    public func record<Record: IdentityRecord>(_ type: Record.Type, id: String) throws(ComputeError) -> Record? {
        guard Self.isName(id) else { return nil }
        return watched(type).items[id]
    }

    public func save<Record: IdentityRecord>(_ record: Record) throws(ComputeError) {
        try writing {
            try ControlDirectory.write(
                record, name: record.id, dataDirectory: dataDirectory, subdirectory: Record.collection.rawValue)
        }
    }

    /// One worker owns the directory and `Identity` serialises its changes, so looking first is enough.
    public func insert<Record: IdentityRecord>(_ record: Record) throws(ComputeError) -> Bool {
        guard Self.isName(record.id), watched(Record.self).items[record.id] == nil else { return false }
        try save(record)
        return true
    }

    /// Compared with the file as it is now (this worker's changes are serialised by
    /// `Identity`; the CLI's are seen through the directory's change time).
    public func replace<Record: IdentityRecord>(_ old: Record, with new: Record) throws(ComputeError) -> Bool {
        guard Self.isName(old.id), watched(Record.self).items[old.id] == old else { return false }
        try save(new)
        return true
    }

    public func remove<Record: IdentityRecord>(_ type: Record.Type, id: String) throws(ComputeError) -> Bool {
        guard Self.isName(id) else { return false }
        return try writing {
            try ControlDirectory.remove(name: id, dataDirectory: dataDirectory, subdirectory: Record.collection.rawValue)
        }
    }

    public func token(id: String) throws(ComputeError) -> TokenRecord? {
        sessions.withLock { $0[id] } ?? staticTokens.items[id]
    }

    public func issue(_ token: TokenRecord) throws(ComputeError) {
        try writing {
            try ControlDirectory.write(
                token, name: token.id, dataDirectory: dataDirectory, subdirectory: Self.sessionsSubdirectory)
        }
        sessions.withLock { $0[token.id] = token }
    }

    public func revoke(tokenID: String) throws(ComputeError) -> Bool {
        guard PresentedToken.isID(tokenID) else { return false }
        if sessions.withLock({ $0[tokenID] }) != nil {
            _ = try writing {
                try ControlDirectory.remove(name: tokenID, dataDirectory: dataDirectory, subdirectory: Self.sessionsSubdirectory)
            }
            sessions.withLock { _ = $0.removeValue(forKey: tokenID) }
            return true
        }
        return try writing { try TokenStore.revoke(dataDirectory: dataDirectory, id: tokenID) }
    }

    public func removeExpiredTokens(at now: Timestamp) throws(ComputeError) {
        let expired = sessions.withLock { $0.values.filter { $0.isExpired(at: now) }.map(\.id) }
        for id in expired {
            _ = try writing {
                try ControlDirectory.remove(name: id, dataDirectory: dataDirectory, subdirectory: Self.sessionsSubdirectory)
            }
            sessions.withLock { _ = $0.removeValue(forKey: id) }
        }
    }

    /// Ids are file names: `[A-Za-z0-9._-]`, not starting with a dot, so nothing can name a
    /// file outside the directory.
    private static func isName(_ id: String) -> Bool {
        guard let first = id.utf8.first, first != UInt8(ascii: "."), id.utf8.count <= 128 else { return false }
        return id.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default: false
            }
        }
    }

    /// Runs a write; a failure is told to the operator (`report`) in full and to the client
    /// as a 503 without paths.
    private func writing<T>(_ body: () throws -> T) throws(ComputeError) -> T {
        do {
            return try body()
        } catch {
            report(["identity records in \(dataDirectory) cannot be written: \(error)"])
            throw ComputeError.cannotSave("identity records cannot be written")
        }
    }
}
