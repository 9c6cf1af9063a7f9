public import ComputeCore
public import JSONFileStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension PostgresStore {
    /// Whether the database was never initialised (the default flavors not yet seeded).
    public func isNew() throws(ComputeError) -> Bool {
        try run("read the store's state") { c throws(PostgresError) in
            try c.execute("SELECT value FROM store_meta WHERE key = 'initialized'").count == 0
        }
    }

    /// Records that the defaults are seeded, so no host seeds them again.
    public func markInitialized(now: Timestamp) throws(ComputeError) {
        _ = try run("record the store's state") { c throws(PostgresError) in
            try c.execute(
                "INSERT INTO store_meta (key, value) VALUES ('initialized', $1) ON CONFLICT (key) DO NOTHING",
                [now.iso8601Seconds])
        }
    }

    /// Everything in the database (`alliance-compute export --database`), read in one
    /// repeatable-read transaction so it is one consistent state. `progress` is told how many
    /// records are decoded, now and then.
    public static func contents(url: String, progress: (Int) -> Void = { _ in }) throws -> StoreContents {
        try PostgresAccess.administering { try readContents(url: url, progress: progress) }
    }

    private static func readContents(url: String, progress: (Int) -> Void) throws -> StoreContents {
        let connection = try PostgresAccess.connect(url)
        try connection.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        defer { try? connection.run("ROLLBACK") }
        var decoded = 0
        func records<T>(_ rows: Rows, _ decode: ([UInt8]) throws -> T) throws -> [T] {
            try (0..<rows.count).map { row in
                defer {
                    decoded += 1
                    if decoded % 1000 == 0 { progress(decoded) }
                }
                return try rows.withBytes(row, 0) { try decode(Array($0)) }
            }
        }
        let servers = try records(
            connection.execute("SELECT record::text FROM servers UNION ALL SELECT record::text FROM deleted_servers")
        ) { bytes throws in
            try ServerRecord.decode(bytes)
        }
        let flavors = try records(connection.execute("SELECT record::text FROM flavors")) { bytes throws in
            try FlavorRecord.decode(bytes).flavor
        }
        let tokens = try records(connection.execute("SELECT record::text FROM tokens")) { bytes throws in
            try JSONDecoder().decode(TokenRecord.self, from: Data(bytes))
        }
        func identity<R: IdentityRecord>(_ type: R.Type) throws -> [R] {
            try records(connection.execute("SELECT record::text FROM \(PostgresIdentity.table(R.collection)) ORDER BY id")) {
                bytes throws in try JSONDecoder().decode(type, from: Data(bytes))
            }
        }
        let (users, projects, credentials, keypairs, groups, securityGroups) = (
            try identity(UserRecord.self), try identity(ProjectRecord.self), try identity(ApplicationCredentialRecord.self),
            try identity(KeypairRecord.self), try identity(ServerGroupRecord.self), try identity(SecurityGroupRecord.self)
        )
        progress(decoded)
        let quotaRows = try connection.execute("SELECT \(QuotaOverride.columns) FROM quota_overrides")
        let quotas = (0..<quotaRows.count).map { row in QuotaOverride(quotaRows, row)
        }
        return StoreContents(
            servers: servers, flavors: flavors, tokens: tokens, quotas: quotas, users: users, projects: projects,
            applicationCredentials: credentials, keypairs: keypairs, serverGroups: groups,
            securityGroups: securityGroups)
    }

    /// Writes `contents` into the database in one transaction (`alliance-compute import`): all
    /// of it or, on any error, none. A database that already holds servers or flavors is
    /// refused unless `replace` (which first deletes what is there).
    public static func importContents(
        _ contents: StoreContents, url: String, replace: Bool, progress: (Int) -> Void = { _ in }
    ) throws {
        try PostgresAccess.administering {
            try importContents(contents, connection: PostgresAccess.connect(url), replace: replace, progress: progress)
        }
    }

    private static func importContents(
        _ contents: StoreContents, connection: PostgresConnection, replace: Bool, progress: (Int) -> Void
    ) throws {
        try connection.transaction { c throws(PostgresError) in
            let held =
                try c.execute(
                    "SELECT (SELECT count(*) FROM servers) + (SELECT count(*) FROM deleted_servers) + (SELECT count(*) FROM flavors)"
                ).int(0, 0) ?? 0
            if held > 0 {
                guard replace else {
                    throw .refused(
                        .conflict(
                            "The database already holds \(held) servers and flavors; import into an empty one, or give --replace to delete them first."
                        ))
                }
                // Every identity table too (key pairs and server groups were once left behind).
                let identityTables = IdentityCollection.allCases.map { "DELETE FROM \(PostgresIdentity.table($0))" }
                try c.run(
                    ([
                        "DELETE FROM servers", "DELETE FROM deleted_servers",
                        "UPDATE addresses SET server_id = NULL WHERE server_id IS NOT NULL",
                        "DELETE FROM flavors", "DELETE FROM tokens", "DELETE FROM quota_overrides",
                    ] + identityTables)
                    .joined(separator: "; "))
            }
            var written = 0
            func step() {
                written += 1
                if written % 1000 == 0 { progress(written) }
            }
            for server in contents.servers {
                try c.execute(server.deleted == nil ? insertServer : insertDeletedServer, try columns(server))
                step()
            }
            // The addresses of the configured networks that imported servers hold.
            try c.run(
                """
                UPDATE addresses a SET server_id = s.id FROM servers s
                WHERE a.network = s.network AND a.address = s.address AND a.server_id IS DISTINCT FROM s.id
                """)
            for flavor in contents.flavors {
                let key = UUID().uuidString.lowercased()
                try c.execute(
                    "INSERT INTO flavors (id, name, record_key, version, record) VALUES ($1, $2, $3, $4, $5::jsonb)",
                    [flavor.id, flavor.name, key, "\(flavor.version)", try record(flavor, key: key)])
                step()
            }
            for token in contents.tokens {
                let json: String
                do {
                    json = String(decoding: try JSONEncoder().encode(token), as: UTF8.self)
                } catch {
                    throw PostgresError(kind: .statement, sqlState: "ALLIANCE", message: "a token does not encode: \(error)")
                }
                try c.execute("INSERT INTO tokens (id, record) VALUES ($1, $2::jsonb)", [token.id, json])
                step()
            }
            for quota in contents.quotas {
                try c.execute(
                    "INSERT INTO quota_overrides (\(QuotaOverride.columns)) VALUES ($1, $2, $3, $4, $5::jsonb)",
                    quota.parameters)
                step()
            }
            func identity<R: IdentityRecord>(_ records: [R]) throws(PostgresError) {
                for record in records {
                    let json: String
                    do {
                        json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
                    } catch {
                        throw PostgresError(kind: .statement, sqlState: "ALLIANCE", message: "a record does not encode: \(error)")
                    }
                    try c.execute(
                        "INSERT INTO \(PostgresIdentity.table(R.collection)) (id, record) VALUES ($1, $2::jsonb)",
                        [record.id, json])
                    step()
                }
            }
            try identity(contents.users)
            try identity(contents.projects)
            try identity(contents.applicationCredentials)
            try identity(contents.keypairs)
            try identity(contents.serverGroups)
            try identity(contents.securityGroups)
            try c.execute(
                "INSERT INTO store_meta (key, value) VALUES ('initialized', $1) ON CONFLICT (key) DO NOTHING",
                [SystemClock().now().iso8601Seconds])
            progress(written)
        }
    }
}
