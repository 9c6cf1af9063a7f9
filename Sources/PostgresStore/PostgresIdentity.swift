public import ComputeCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The identity store in the database, so a user, project or application credential made on
/// one API host (or with the CLI's `--database`) signs in on every host: one table per
/// collection (`identity_users`, …), each record whole as `jsonb` in the JSON-file store's
/// format, names unique by index; issued tokens in `tokens` beside the CLI's. Lookups by id
/// are cached until the database's notification says the table changed (the store's
/// `ChangeFeed`), as tokens are; this host drops what it cached as it makes a change. Made with `PostgresStore.identity()`.
public final class PostgresIdentity: IdentityStore {
    private let store: PostgresStore
    private let access: PostgresAccess
    private let caches: [IdentityCollection: ChangeCache<(any IdentityRecord)?>]

    init(store: PostgresStore, access: PostgresAccess) {
        self.store = store
        self.access = access
        var caches: [IdentityCollection: ChangeCache<(any IdentityRecord)?>] = [:]
        for collection in IdentityCollection.allCases {
            caches[collection] = ChangeCache(table: Self.table(collection), feed: store.feed)
        }
        self.caches = caches
    }

    static func table(_ collection: IdentityCollection) -> String { "identity_\(collection.rawValue)" }

    public func all<Record: IdentityRecord>(_ type: Record.Type) throws(ComputeError) -> [Record] {
        let rows = try store.run("list identity records") { c throws(PostgresError) in
            try c.execute("SELECT record::text FROM \(Self.table(Record.collection)) ORDER BY id")
        }
        return (0..<rows.count).compactMap { Self.decode(type, rows.string($0, 0)) }
    }

    public func record<Record: IdentityRecord>(_ type: Record.Type, id: String) throws(ComputeError) -> Record? {
        let cached = try caches[Record.collection]!.value(id) { () throws(ComputeError) -> (any IdentityRecord)? in
            let rows = try store.run("read an identity record") { c throws(PostgresError) in
                try c.execute("SELECT record::text FROM \(Self.table(Record.collection)) WHERE id = $1", [id])
            }
            return Self.decode(type, rows.string(0, 0))
        }
        return cached as? Record
    }

    public func save<Record: IdentityRecord>(_ record: Record) throws(ComputeError) {
        let json: String
        do {
            json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        } catch {
            throw .invalidInput("The record cannot be stored: \(error).")
        }
        defer { store.feed.changed(Self.table(Record.collection)) }
        _ = try store.run("save an identity record", writing: true) { c throws(PostgresError) in
            try c.execute(
                """
                INSERT INTO \(Self.table(Record.collection)) (id, record) VALUES ($1, $2::jsonb)
                ON CONFLICT (id) DO UPDATE SET record = $2::jsonb
                """, [record.id, json])
        } onStatement: { error in
            guard error.isUniqueViolation else { return nil }
            let name = (record as? any NamedIdentityRecord)?.name ?? record.id
            return Self.nameInUse(Record.collection, name)
        }
    }

    /// `INSERT … ON CONFLICT DO NOTHING`: of two hosts inserting at once, one wins.
    public func insert<Record: IdentityRecord>(_ record: Record) throws(ComputeError) -> Bool {
        let json = try Self.json(record)
        defer { store.feed.changed(Self.table(Record.collection)) }
        return try store.run("insert an identity record", writing: true) { c throws(PostgresError) in
            try c.execute(
                "INSERT INTO \(Self.table(Record.collection)) (id, record) VALUES ($1, $2::jsonb) ON CONFLICT (id) DO NOTHING",
                [record.id, json]
            ).affected == 1
        } onStatement: { error in
            guard error.isUniqueViolation else { return nil }
            return Self.nameInUse(Record.collection, (record as? any NamedIdentityRecord)?.name ?? record.id)
        }
    }

    /// One `UPDATE … WHERE record = old`: the database compares, so a change another host made
    /// since this one read (its cache not yet told) makes it false, and the cache is dropped so
    /// the next read sees the change.
    public func replace<Record: IdentityRecord>(_ old: Record, with new: Record) throws(ComputeError) -> Bool {
        let (before, after) = (try Self.json(old), try Self.json(new))
        defer { store.feed.changed(Self.table(Record.collection)) }
        return try store.run("change an identity record", writing: true) { c throws(PostgresError) in
            try c.execute(
                "UPDATE \(Self.table(Record.collection)) SET record = $2::jsonb WHERE id = $1 AND record = $3::jsonb",
                [old.id, after, before]
            ).affected == 1
        } onStatement: { error in
            guard error.isUniqueViolation else { return nil }
            return Self.nameInUse(Record.collection, (new as? any NamedIdentityRecord)?.name ?? new.id)
        }
    }

    private static func json(_ record: some Encodable) throws(ComputeError) -> String {
        do {
            return String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        } catch {
            throw .invalidInput("The record cannot be stored: \(error).")
        }
    }

    public func remove<Record: IdentityRecord>(_ type: Record.Type, id: String) throws(ComputeError) -> Bool {
        defer { store.feed.changed(Self.table(Record.collection)) }
        return try store.run("remove an identity record", writing: true) { c throws(PostgresError) in
            try c.execute("DELETE FROM \(Self.table(Record.collection)) WHERE id = $1", [id]).affected == 1
        }
    }

    public func token(id: String) throws(ComputeError) -> TokenRecord? { try access.token(id: id) }

    public func issue(_ token: TokenRecord) throws(ComputeError) {
        let json: String
        do {
            json = String(decoding: try JSONEncoder().encode(token), as: UTF8.self)
        } catch {
            throw .invalidInput("The token cannot be stored: \(error).")
        }
        defer { store.feed.changed("tokens") }
        _ = try store.run("issue a token", writing: true) { c throws(PostgresError) in
            try c.execute("INSERT INTO tokens (id, record) VALUES ($1, $2::jsonb)", [token.id, json])
        }
    }

    public func revoke(tokenID: String) throws(ComputeError) -> Bool {
        defer { store.feed.changed("tokens") }
        return try store.run("revoke a token", writing: true) { c throws(PostgresError) in
            try c.execute("DELETE FROM tokens WHERE id = $1", [tokenID]).affected == 1
        }
    }

    /// Issued tokens only (the CLI's are the operator's to revoke); their `expires` is in one
    /// fixed ISO 8601 form, so comparing the text compares the instants.
    public func removeExpiredTokens(at now: Timestamp) throws(ComputeError) {
        defer { store.feed.changed("tokens") }
        _ = try store.run("remove expired tokens", writing: true) { c throws(PostgresError) in
            try c.execute(
                "DELETE FROM tokens WHERE record ? 'methods' AND record->>'expires' <= $1", [now.iso8601Seconds])
        }
    }

    private static func decode<Record: IdentityRecord>(_ type: Record.Type, _ text: String?) -> Record? {
        text.flatMap { try? JSONDecoder().decode(type, from: Data($0.utf8)) }
    }
}

extension PostgresStore {
    /// Users, projects, application credentials and issued tokens of this database, sharing
    /// the store's connections and change feed.
    public func identity() -> PostgresIdentity {
        PostgresIdentity(store: self, access: access())
    }
}
