public import ComputeCore
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Tokens and quota overrides in the database, so every API host sees one set at once: what
/// the worker checks tokens against (through `PostgresIdentity`) and takes quotas from when
/// PostgreSQL is its store, and what the CLI's `token` and `quota` commands change with
/// `--database`.
///
/// Checking a token and reading a project's quota happen on every request: both are cached,
/// and dropped when the database's notification of a change reaches this host (the store's
/// `ChangeFeed`), so a revoke made on any host is refused here milliseconds after its commit
/// (the notification's trip; the host that made the change drops its cache before it commits).
/// Made with `PostgresStore.access()`.
public final class PostgresAccess: QuotaSource {
    private let pool: ConnectionPool
    private let logger: Logger
    private let tokens: ChangeCache<TokenRecord?>
    private let overrides: ChangeCache<QuotaOverride?>
    private let feed: ChangeFeed

    init(pool: ConnectionPool, feed: ChangeFeed, logger: Logger) {
        self.pool = pool
        self.feed = feed
        self.logger = logger
        tokens = ChangeCache(table: "tokens", feed: feed)
        overrides = ChangeCache(table: "quota_overrides", feed: feed)
    }

    // MARK: Tokens

    /// The token record with `id`, cached until the table changes.
    func token(id: String) throws(ComputeError) -> TokenRecord? {
        do {
            return try tokens.value(id) { () throws(PostgresError) in try tokenRecord(id) }
        } catch {
            logger.error("check a token: \(error)")
            throw .unavailable("The service cannot reach its database to check the token right now. Try again later.")
        }
    }

    private func tokenRecord(_ id: String) throws(PostgresError) -> TokenRecord? {
        let rows = try pool.withConnection { c throws(PostgresError) in
            try c.execute("SELECT record::text FROM tokens WHERE id = $1", [id])
        }
        guard let text = rows.string(0, 0) else { return nil }
        return try? JSONDecoder().decode(TokenRecord.self, from: Data(text.utf8))
    }

    /// Makes a token and stores its hash (`alliance-compute token create --database`).
    public static func createToken(
        url: String, project: String, user: String, role: Role, expires: Timestamp?
    ) throws -> (token: String, record: TokenRecord) {
        let (token, record) = try TokenRecord.make(project: project, user: user, role: role, expires: expires)
        let json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        try administering {
            try connect(url).execute("INSERT INTO tokens (id, record) VALUES ($1, $2::jsonb)", [record.id, json])
        }
        return (token, record)
    }

    public static func listTokens(url: String) throws -> [TokenRecord] {
        let rows = try administering { try connect(url).execute("SELECT record::text FROM tokens") }
        return try (0..<rows.count).map { row in
            try JSONDecoder().decode(TokenRecord.self, from: Data((rows.string(row, 0) ?? "").utf8))
        }.sorted { ($0.created, $0.id) < ($1.created, $1.id) }
    }

    /// Deletes a token's record; false when there is no such token.
    public static func revokeToken(url: String, id: String) throws -> Bool {
        guard PresentedToken.isID(id) else { return false }
        return try administering { try connect(url).execute("DELETE FROM tokens WHERE id = $1", [id]).affected == 1 }
    }

    /// Runs a CLI command's statements; what fails is a `ComputeError` (a rule refused) or a
    /// `DatabaseError` (the database), worded for the operator.
    @discardableResult
    static func administering<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PostgresError {
            if let refusal = error.refusal { throw refusal }
            throw DatabaseError(description: "\(error)")
        }
    }

    // MARK: Quotas

    public func limits(for projectID: String, defaults: QuotaLimits) throws(ComputeError) -> QuotaLimits {
        let override: QuotaOverride?
        do {
            override = try overrides.value(projectID) { () throws(PostgresError) -> QuotaOverride? in
                let rows = try pool.withConnection { c throws(PostgresError) in
                    try c.execute("SELECT \(QuotaOverride.columns) FROM quota_overrides WHERE project_id = $1", [projectID])
                }
                return rows.count == 1 ? QuotaOverride(rows, 0) : nil
            }
        } catch {
            logger.error("read a project's quota: \(error)")
            throw .unavailable("The service cannot reach its database right now. Try again later.")
        }
        return override?.applied(to: defaults) ?? defaults
    }

    public func setOverride(_ change: QuotaOverride) throws(ComputeError) -> QuotaOverride {
        defer { feed.changed("quota_overrides") }
        return try changingQuotas { c throws(PostgresError) in try Self.setQuota(c, change) }
    }

    public func removeOverride(project: String) throws(ComputeError) {
        defer { feed.changed("quota_overrides") }
        try changingQuotas { c throws(PostgresError) in
            try c.execute("DELETE FROM quota_overrides WHERE project_id = $1", [project])
        }
    }

    /// A change of the overrides on a pooled connection; a rule's refusal as it is, anything
    /// else a 503 (logged).
    @discardableResult
    private func changingQuotas<T>(_ body: (PostgresConnection) throws(PostgresError) -> T) throws(ComputeError) -> T {
        do {
            return try pool.withConnection(body)
        } catch {
            if let refusal = error.refusal { throw refusal }
            logger.error("change a quota: \(error)")
            throw .unavailable("The service cannot reach its database right now. Try again later.")
        }
    }

    /// Stores a project's override, merged with the one it had (`quota set --database`).
    public static func setQuota(url: String, _ change: QuotaOverride) throws -> QuotaOverride {
        try administering { try setQuota(connect(url), change) }
    }

    private static func setQuota(
        _ connection: PostgresConnection, _ change: QuotaOverride
    ) throws(PostgresError) -> QuotaOverride {
        try connection.transaction { c throws(PostgresError) -> QuotaOverride in
            let rows = try c.execute(
                "SELECT \(QuotaOverride.columns) FROM quota_overrides WHERE project_id = $1 FOR UPDATE", [change.project])
            let current = rows.count == 1 ? QuotaOverride(rows, 0) : QuotaOverride(project: change.project)
            let merged: QuotaOverride
            do throws(ComputeError) {
                merged = try current.merging(change)
            } catch {
                throw .refused(error)
            }
            try c.execute(
                """
                INSERT INTO quota_overrides (\(QuotaOverride.columns)) VALUES ($1, $2, $3, $4, $5::jsonb)
                ON CONFLICT (project_id) DO UPDATE SET instances = $2, cores = $3, ram = $4, others = $5::jsonb
                """, merged.parameters)
            return merged
        }
    }

    public static func quotaOverrides(url: String) throws -> [QuotaOverride] {
        let rows = try administering {
            try connect(url).execute("SELECT \(QuotaOverride.columns) FROM quota_overrides ORDER BY project_id")
        }
        return (0..<rows.count).map { row in QuotaOverride(rows, row) }
    }

    /// A connection for one CLI command, at the schema this release serves.
    static func connect(_ url: String) throws -> PostgresConnection {
        let connection = try PostgresConnection(url: url, timeoutSeconds: 10)
        let version = try Schema.currentVersion(connection)
        guard version == Schema.version else {
            throw DatabaseError(
                description:
                    "the database schema is version \(version); this release serves \(Schema.version): run `alliance-compute db upgrade --database URL`"
            )
        }
        return connection
    }
}

extension QuotaOverride {
    /// The columns of `quota_overrides`, in the order `init(_:_:)` and `parameters` use.
    static let columns = "project_id, instances, cores, ram, others"

    /// Row `row` of a `SELECT` of `columns`.
    init(_ rows: Rows, _ row: Int) {
        let others = rows.string(row, 4).flatMap { try? JSONDecoder().decode([String: Int].self, from: Data($0.utf8)) }
        self.init(
            project: rows.string(row, 0) ?? "", instances: rows.int(row, 1), cores: rows.int(row, 2),
            ram: rows.int(row, 3), others: others)
    }

    /// The values of `columns`, as `$1`…`$5` (the last one JSON).
    var parameters: [String?] {
        let others = self.others.flatMap { try? JSONEncoder().encode($0) }.map { String(decoding: $0, as: UTF8.self) }
        return [project, instances.map(String.init), cores.map(String.init), ram.map(String.init), others]
    }
}
