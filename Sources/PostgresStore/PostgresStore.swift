public import ComputeCore
import JSONFileStore
public import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Why a database could not be used at start-up.
public struct DatabaseError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// The inventory in PostgreSQL: every rule that spans records is enforced by the database in
/// one transaction, so it holds across any number of API hosts sharing it. Unique names and
/// addresses are constraints; the lowest free address comes from a partial index, taken with
/// `FOR UPDATE SKIP LOCKED`; a quota-checked create locks its project's row while it counts the
/// project's usage; a change is an `UPDATE … WHERE version = $read`. Nothing is held in memory
/// but connections, so start-up is instant whatever the size of the inventory.
public final class PostgresStore: InventoryStore {
    let pool: ConnectionPool
    let feed: ChangeFeed
    private let logger: Logger
    let networks: [NetworkConfig]
    /// Every flavor, read whole (there are few) and kept until one changes on any host.
    let allFlavors: ChangeCache<[Flavor]>
    let lastHealth = Locked<(ContinuousClock.Instant, StoreHealth)?>(nil)
    /// Servers as last decoded, by id (see `servers(_:)`); at most `decodedLimit`.
    let decoded = Locked<[String: Server]>([:])
    static let decodedLimit = 20_000
    /// How often a transaction that lost to another (serialization failure, deadlock, an
    /// address taken in between) is run again before the client gets a 503.
    static let attempts = 4

    /// Connects, checks that the schema is the one this release serves, and records the
    /// configured networks' addresses (once per network). `url` is a libpq connection string.
    public init(url: String, networks: [NetworkConfig], logger: Logger, timeoutSeconds: Int = 5) throws(DatabaseError) {
        self.pool = ConnectionPool(url: url, timeoutSeconds: timeoutSeconds)
        self.logger = logger
        self.networks = networks
        feed = ChangeFeed(url: url, timeoutSeconds: timeoutSeconds, logger: logger)
        allFlavors = ChangeCache(table: "flavors", feed: feed)
        do {
            try pool.withConnection { c throws(PostgresError) in
                let current = try Schema.currentVersion(c)
                guard current == Schema.version else { throw Self.schemaMismatch(current) }
                try Self.register(networks, c, logger: logger)
            }
        } catch {
            feed.stop()
            if error.kind == .statement, error.sqlState == "ALLIANCE" { throw DatabaseError(description: error.message) }
            throw DatabaseError(description: "cannot use the database: \(error)")
        }
    }

    deinit { feed.stop() }

    /// Tokens and quota overrides of this database, for the worker: sharing the store's
    /// connections and change feed.
    public func access() -> PostgresAccess {
        PostgresAccess(pool: pool, feed: feed, logger: logger)
    }

    private static func schemaMismatch(_ current: Int) -> PostgresError {
        PostgresError(
            kind: .statement, sqlState: "ALLIANCE",
            message: current < Schema.version
                ? "the database schema is version \(current); this release serves version \(Schema.version): run `alliance-compute db upgrade --database URL` first"
                : "the database schema is version \(current), newer than this release serves (\(Schema.version)): run a release that serves it"
        )
    }

    /// Applies pending migrations (`alliance-compute db upgrade`); the versions applied.
    public static func upgrade(url: String) throws(DatabaseError) -> (from: Int, applied: [Int]) {
        do {
            let connection = try PostgresConnection(url: url, timeoutSeconds: 10)
            let from = try Schema.currentVersion(connection)
            return (from, try Schema.upgrade(connection))
        } catch {
            throw DatabaseError(description: "cannot upgrade the database: \(error)")
        }
    }

    /// Records each network's range and all its addresses, unless the database has them: in
    /// chunks (a /12 has a million), each a statement well within the statement timeout and
    /// safe to repeat, so a start-up cut short (or two hosts starting at once) leaves nothing
    /// wrong; the `networks` row, written last, says the addresses are complete.
    private static func register(
        _ networks: [NetworkConfig], _ c: PostgresConnection, logger: Logger
    ) throws(PostgresError) {
        let chunk: UInt32 = 1 << 16
        for network in networks {
            let (first, last) = (network.firstHost.value, network.lastHost.value)
            let known = try c.execute("SELECT first_address, last_address FROM networks WHERE name = $1", [network.name])
            if known.count == 1, known.string(0, 0) == "\(first)", known.string(0, 1) == "\(last)" { continue }
            try c.execute(
                "INSERT INTO networks (name, first_address, last_address) VALUES ($1, 0, -1) ON CONFLICT (name) DO NOTHING",
                [network.name])
            logger.info("network \(network.name) (\(network.cidr)): recording its \(network.capacity) addresses in the database")
            var start = first
            while start <= last {
                let end = last - start < chunk ? last : start + chunk - 1
                try c.execute(
                    """
                    INSERT INTO addresses (network, address)
                    SELECT $1, a FROM generate_series($2::bigint, $3::bigint) AS a
                    ON CONFLICT (network, address) DO NOTHING
                    """, [network.name, "\(start)", "\(end)"])
                guard end < last else { break }
                start = end + 1
            }
            try c.transaction { c throws(PostgresError) in
                // Servers that were there before their addresses (an import, a changed range).
                try c.execute(
                    """
                    UPDATE addresses a SET server_id = s.id FROM servers s
                    WHERE s.network = $1 AND a.network = $1 AND a.address = s.address AND a.server_id IS DISTINCT FROM s.id
                    """, [network.name])
                try c.execute(
                    "DELETE FROM addresses WHERE network = $1 AND (address < $2 OR address > $3)",
                    [network.name, "\(first)", "\(last)"])
                try c.execute(
                    "UPDATE networks SET first_address = $2, last_address = $3 WHERE name = $1",
                    [network.name, "\(first)", "\(last)"])
            }
        }
    }

    // MARK: Running statements

    /// Runs `body` on a pooled connection (which replaces a connection that broke while idle);
    /// a lost race is run again, and whatever remains becomes the domain's error.
    func run<T>(
        _ what: String, writing: Bool = false, _ body: (PostgresConnection) throws(PostgresError) -> T,
        onStatement: (PostgresError) -> ComputeError? = { _ in nil }
    ) throws(ComputeError) -> T {
        var attempt = 1
        while true {
            do {
                let value = try pool.withConnection(body)
                if writing { lastHealth.withLock { $0 = nil } }
                return value
            } catch {
                if let refusal = error.refusal { throw refusal }
                if error.kind == .statement, let meaning = onStatement(error) { throw meaning }
                let lostARace = error.isRetryable || error.constraint == "servers_address_unique"
                switch error.kind {
                case .statement where lostARace && attempt < Self.attempts:
                    break
                case .commitOutcomeUnknown:
                    logger.error("\(what): the connection broke during COMMIT: \(error)")
                    throw .unavailable(
                        "The service lost its database connection while saving the change: it may or may not have been made. Check before trying again."
                    )
                case .connection:
                    logger.error("\(what): \(error)")
                    throw .unavailable("The service cannot reach its database right now. Try again later.")
                case .statement:
                    throw translate(error, what)
                }
            }
            attempt += 1
        }
    }

    /// A statement the database refused, as the domain words it.
    private func translate(_ error: PostgresError, _ what: String) -> ComputeError {
        switch error.sqlState {
        case "57014":
            logger.error("\(what): \(error)")
            return .unavailable("The database did not answer in time. Try again later.")
        case "25006":
            logger.error("\(what): \(error)")
            return .cannotSave("database is read-only")
        case let state? where state.hasPrefix("22"):
            return .invalidInput("The request holds a value the database cannot store (\(error.message)).")
        case "ALLIANCE":
            logger.error("\(what): \(error)")
            return .unavailable("The service cannot use its database: \(error.message).")
        default:
            logger.error("\(what): \(error)")
            return .unavailable("The database refused the change. Try again later.")
        }
    }

    // MARK: Servers

    /// One server by id. When this host has decoded the server before, the database is asked
    /// for the record only if it changed since (the common read sends back the version and
    /// time alone: no `jsonb` rendered, nothing decoded).
    public func server(id: String) throws(ComputeError) -> Server? {
        let known = decoded.withLock { $0[id] }
        return try run("read a server") { c throws(PostgresError) in
            try servers(
                try c.execute(
                    """
                    SELECT id, version, updated_us,
                           CASE WHEN version = $2 AND updated_us = $3 THEN NULL ELSE record::text END
                    FROM servers WHERE id = $1
                    """,
                    [id, known.map { "\($0.version)" }, known.map { "\($0.updated.microsecondsSinceEpoch)" }]),
                known: known
            ).first
        }
    }

    public func server(projectID: String, name: String) throws(ComputeError) -> Server? {
        try run("read a server") { c throws(PostgresError) in
            try servers(
                try c.execute(
                    "SELECT \(Self.serverColumns) FROM servers WHERE project_id = $1 AND name = $2", [projectID, name])
            ).first
        }
    }

    public func servers(matching filter: ServerFilter, after: ServerOrderKey?, limit: Int) throws(ComputeError)
        -> ServerPage
    {
        try page(of: "servers", matching: filter, after: after, limit: limit)
    }

    /// A page of `table` (`servers`, or `deleted_servers`: the same columns).
    func page(of table: String, matching filter: ServerFilter, after: ServerOrderKey?, limit: Int) throws(ComputeError)
        -> ServerPage
    {
        var conditions: [String] = []
        var parameters: [String?] = []
        func condition(_ sql: String, _ values: String...) {
            var text = sql
            for value in values {
                parameters.append(value)
                text = text.replacing("?", with: "$\(parameters.count)", maxReplacements: 1)
            }
            conditions.append(text)
        }
        if let projectID = filter.projectID { condition("project_id = ?", projectID) }
        if let name = filter.name { condition("name = ?", name) }
        if let status = filter.status { condition("status = ?", status.rawValue) }
        if let flavor = filter.flavor { condition("(flavor_id = ? OR flavor_name = ?)", flavor, flavor) }
        if let reservationID = filter.reservationID { condition("reservation_id = ?", reservationID) }
        if let imageID = filter.imageID { condition("image_id = ?", imageID) }
        if let since = filter.changedSince { condition("updated_us >= ?", "\(since.microsecondsSinceEpoch)") }
        if let before = filter.changedBefore { condition("updated_us <= ?", "\(before.microsecondsSinceEpoch)") }
        // Tags live only in the record: a listing filtered by them reads each candidate's jsonb.
        let hasAny =
            "EXISTS (SELECT 1 FROM jsonb_array_elements_text(?::jsonb) AS asked(tag) WHERE (record->'tags') @> jsonb_build_array(asked.tag))"
        if let all = filter.tags.all { condition("(record->'tags') @> ?::jsonb", Self.jsonArray(all)) }
        if let any = filter.tags.any { condition(hasAny, Self.jsonArray(any)) }
        if let notAll = filter.tags.notAll { condition("NOT ((record->'tags') @> ?::jsonb)", Self.jsonArray(notAll)) }
        if let notAny = filter.tags.notAny { condition("NOT " + hasAny, Self.jsonArray(notAny)) }
        if let after {
            condition(
                "(created_us, launch_index, id) < (?, ?, ?)", "\(after.created.microsecondsSinceEpoch)",
                "\(after.launchIndex)", after.id)
        }
        parameters.append("\(limit)")
        let rows = """
            FROM \(table) \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY created_us DESC, launch_index DESC, id DESC LIMIT $\(parameters.count)
            """
        // The page's ids and versions first: rendering a `jsonb` record as text is most of a
        // listing's cost in the database (1,000 rows: 7.3 ms with the records, 0.56 ms without,
        // EXPLAIN ANALYZE), and this host has usually decoded those versions already.
        let page = try run("list servers") { c throws(PostgresError) in
            let listed = try c.execute("SELECT id, version, updated_us " + rows, parameters)
            if let servers = try servers(listed, readingMissingFrom: table, c) { return servers }
            // Most of it not decoded here, or one of them changed in between: the page whole.
            return try servers(try c.execute("SELECT \(Self.serverColumns) " + rows, parameters))
        }
        return ServerPage(servers: page, resumeAfter: page.count == limit ? page.last?.order : nil)
    }

    /// `["a","b"]`: tags as a jsonb parameter.
    private static func jsonArray(_ items: [String]) -> String {
        (try? JSONEncoder().encode(items)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }

    public func create(_ plan: CreationPlan) throws(ComputeError) -> [Server] {
        // Never run again after a broken COMMIT (`run` reports that as "may have been made");
        // a connection lost before it is safe to retry: the server rolled the transaction back.
        let created = try run("create servers", writing: true) { c throws(PostgresError) -> [Server]? in
            do throws(PostgresError) {
                return try c.transaction { c throws(PostgresError) -> [Server] in try Self.insert(plan, c) }
            } catch {
                guard error.isUniqueViolation, error.constraint == "servers_name_unique" else { throw error }
                return nil
            }
        }
        if let created { return created }
        // The unique constraint refused a name (no query checks first: the constraint holds
        // across hosts anyway). Which one, for the message: the first planned name in use.
        let names = Set(try plan.names(count: 1) + plan.names(count: plan.maxCount))
        for name in names.sorted() where try server(projectID: plan.projectID, name: name) != nil {
            throw .serverNameInUse(name)
        }
        throw .serverNameInUse(plan.name)
    }

    /// Plans and inserts the servers of `plan` in the open transaction.
    private static func insert(_ plan: CreationPlan, _ c: PostgresConnection) throws(PostgresError) -> [Server] {
        func rule<T>(_ body: () throws(ComputeError) -> T) throws(PostgresError) -> T {
            do { return try body() } catch { throw .refused(error) }
        }
        var count = plan.maxCount
        if [plan.limits.instances, plan.limits.cores, plan.limits.ram].contains(where: { $0 >= 0 }) {
            // Quota: the project's row is locked while its usage is counted and changed.
            try c.execute("INSERT INTO projects (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", [plan.projectID])
            try c.execute("SELECT id FROM projects WHERE id = $1 FOR UPDATE", [plan.projectID])
            let usage = try usage(plan.projectID, c)
            count = try rule { () throws(ComputeError) in try plan.fittingCount(usage: usage) }
        }
        var addresses: [IPv4Address?] = Array(repeating: nil, count: count)
        if let network = plan.network {
            let free = try c.execute(
                """
                SELECT address FROM addresses WHERE network = $1 AND server_id IS NULL
                ORDER BY address LIMIT $2 FOR UPDATE SKIP LOCKED
                """, [network, "\(count)"])
            guard free.count >= plan.minCount else {
                let total = try c.execute(
                    "SELECT count(*) FROM addresses WHERE network = $1 AND server_id IS NULL", [network])
                throw .refused(plan.networkFull(free: total.int(0, 0) ?? 0))
            }
            count = free.count
            addresses = (0..<count).map { free.int($0, 0).map { IPv4Address(UInt32($0)) } }
        }
        let counted = count
        let planned = addresses
        let servers = try rule { () throws(ComputeError) in try plan.servers(count: counted, addresses: planned) }
        for server in servers { try c.execute(insertServer, try columns(server)) }
        return servers
    }

    /// Inserts a server (its columns as `columns` lists them) and marks its address as held
    /// by it, in one statement.
    static let insertServer = """
        WITH inserted AS (
            INSERT INTO servers (id, project_id, name, status, flavor_id, flavor_name, image_id, reservation_id,
                network, address, vcpus, ram, created_us, launch_index, updated_us, version, record)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::jsonb)
            RETURNING id, network, address
        )
        UPDATE addresses a SET server_id = inserted.id FROM inserted
        WHERE a.network = inserted.network AND a.address = inserted.address
        """

    public func replace(_ server: Server, expecting version: Int) throws(ComputeError) {
        let record = try recordText(server)
        let changed = try run("change a server", writing: true) { c throws(PostgresError) in
            try c.execute(
                """
                UPDATE servers SET name = $3, status = $4, updated_us = $5, version = $6, record = $7::jsonb
                WHERE id = $1 AND version = $2
                """,
                [
                    server.id, "\(version)", server.name, server.status.rawValue, "\(server.updated.microsecondsSinceEpoch)",
                    "\(server.version)", record,
                ]
            ).affected
        } onStatement: { error in
            error.isUniqueViolation && error.constraint == "servers_name_unique" ? .serverNameInUse(server.name) : nil
        }
        if changed == 0 { try explainMissedChange(of: server.id) }
    }

    /// One statement: the row goes, its address is freed, and the tombstone (if any) is kept,
    /// from the deleted row's columns with its own change time, version and record.
    public func deleteServer(id: String, expecting version: Int, keeping tombstone: Server?) throws(ComputeError) {
        var parameters: [String?] = [id, "\(version)"]
        var keep = ""
        if let tombstone {
            parameters += [
                "\(tombstone.updated.microsecondsSinceEpoch)", "\(tombstone.version)",
                try recordText(tombstone),
            ]
            keep = """
                ,
                kept AS (
                    INSERT INTO deleted_servers (id, project_id, name, status, flavor_id, flavor_name, image_id,
                        reservation_id, network, address, vcpus, ram, created_us, launch_index, updated_us, version, record)
                    SELECT id, project_id, name, status, flavor_id, flavor_name, image_id, reservation_id, network, address,
                           vcpus, ram, created_us, launch_index, $3::bigint, $4::integer, $5::jsonb
                    FROM deleted
                )
                """
        }
        let deleted = try run("delete a server", writing: true) { c throws(PostgresError) in
            try c.execute(
                """
                WITH deleted AS (DELETE FROM servers WHERE id = $1 AND version = $2 RETURNING *),
                freed AS (
                    UPDATE addresses a SET server_id = NULL FROM deleted
                    WHERE a.network = deleted.network AND a.address = deleted.address AND a.server_id = deleted.id
                )\(keep)
                SELECT count(*) FROM deleted
                """, parameters
            ).int(0, 0) ?? 0
        }
        if deleted == 0 { try explainMissedChange(of: id) }
    }

    /// A change that matched no row: the server is gone, or at another version.
    func explainMissedChange(of id: String) throws(ComputeError) {
        guard try server(id: id) != nil else { throw .notFound("Server \(id) could not be found.") }
        throw .serverChanged(id)
    }
}
