public import ComputeCore
import JSONFileStore
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Flavors, usage, counts and health of the PostgreSQL store.
extension PostgresStore {
    // MARK: Flavors

    public func flavors() throws(ComputeError) -> [Flavor] {
        try allFlavors.value("") { () throws(ComputeError) in
            try run("read flavors") { c throws(PostgresError) in
                try Self.flavors(try c.execute("SELECT record::text FROM flavors"))
            }
        }
    }

    public func flavor(id: String) throws(ComputeError) -> Flavor? {
        try flavors().first { $0.id == id }
    }

    public func flavor(name: String) throws(ComputeError) -> Flavor? {
        try flavors().first { $0.name == name }
    }

    public func create(_ flavor: Flavor) throws(ComputeError) {
        defer { feed.changed("flavors") }
        let key = UUID().uuidString.lowercased()
        _ = try run("create a flavor", writing: true) { c throws(PostgresError) in
            let record = try Self.record(flavor, key: key)
            return try c.execute(
                "INSERT INTO flavors (id, name, record_key, version, record) VALUES ($1, $2, $3, $4, $5::jsonb)",
                [flavor.id, flavor.name, key, "\(flavor.version)", record])
        } onStatement: { error in
            guard error.isUniqueViolation else { return nil }
            return error.constraint == "flavors_name_unique" ? .flavorNameInUse(flavor.name) : .flavorIDInUse(flavor.id)
        }
    }

    public func replace(_ flavor: Flavor, expecting version: Int) throws(ComputeError) {
        defer { feed.changed("flavors") }
        let changed = try run("change a flavor", writing: true) { c throws(PostgresError) -> Int in
            guard let key = try c.execute("SELECT record_key FROM flavors WHERE id = $1", [flavor.id]).string(0, 0) else {
                return 0
            }
            return try c.execute(
                "UPDATE flavors SET version = $3, record = $4::jsonb WHERE id = $1 AND version = $2",
                [flavor.id, "\(version)", "\(flavor.version)", try Self.record(flavor, key: key)]
            ).affected
        }
        if changed == 0 { try explainMissedChange(ofFlavor: flavor.id) }
    }

    public func deleteFlavor(id: String, expecting version: Int) throws(ComputeError) {
        defer { feed.changed("flavors") }
        let deleted = try run("delete a flavor", writing: true) { c throws(PostgresError) in
            try c.execute("DELETE FROM flavors WHERE id = $1 AND version = $2", [id, "\(version)"]).affected
        }
        if deleted == 0 { try explainMissedChange(ofFlavor: id) }
    }

    private func explainMissedChange(ofFlavor id: String) throws(ComputeError) {
        // From the database, not the cache: another host's change may not be announced yet.
        let exists = try run("read a flavor") { c throws(PostgresError) in
            try c.execute("SELECT 1 FROM flavors WHERE id = $1", [id]).count == 1
        }
        guard exists else { throw .notFound("Flavor \(id) could not be found.") }
        throw .flavorChanged(id)
    }

    // MARK: Usage, counts, health

    public func usage(projectID: String) throws(ComputeError) -> QuotaUsage {
        try run("count a project's usage") { c throws(PostgresError) in try Self.usage(projectID, c) }
    }

    static func usage(_ projectID: String, _ c: PostgresConnection) throws(PostgresError) -> QuotaUsage {
        let rows = try c.execute(
            "SELECT count(*), coalesce(sum(vcpus), 0), coalesce(sum(ram), 0) FROM servers WHERE project_id = $1", [projectID])
        return QuotaUsage(instances: rows.int(0, 0) ?? 0, cores: rows.int(0, 1) ?? 0, ram: rows.int(0, 2) ?? 0)
    }

    public func counts() throws(ComputeError) -> InventoryCounts {
        try run("count the inventory") { c throws(PostgresError) in
            let servers = try c.execute("SELECT count(*) FROM servers").int(0, 0) ?? 0
            let flavors = try c.execute("SELECT count(*) FROM flavors").int(0, 0) ?? 0
            let used = try c.execute(
                "SELECT network, count(*) FROM servers WHERE network IS NOT NULL GROUP BY network")
            var usedByNetwork: [String: Int] = [:]
            for row in 0..<used.count { usedByNetwork[used.string(row, 0) ?? ""] = used.int(row, 1) }
            return InventoryCounts(
                servers: servers, flavors: flavors,
                networks: networks.map { network in
                    let inUse = usedByNetwork[network.name] ?? 0
                    return .init(name: network.name, cidr: network.cidr, used: inUse, free: network.capacity - inUse)
                })
        }
    }

    /// Whether a write would work: a statement that changes nothing on `servers`, in a
    /// transaction rolled back (a read-only database, a standby, refuses it). Probed at most
    /// once a second, however often `/healthz` is asked; a write that works clears the last
    /// answer.
    public var health: StoreHealth {
        let now = ContinuousClock.now
        if let (at, health) = lastHealth.withLock({ $0 }), now - at < .seconds(1) { return health }
        let health: StoreHealth
        do {
            try pool.withConnection { c throws(PostgresError) in
                try c.run("BEGIN")
                defer { try? c.run("ROLLBACK") }
                try c.execute("DELETE FROM servers WHERE false")
            }
            health = StoreHealth(problem: nil)
        } catch {
            health = StoreHealth(
                problem: error.sqlState == "25006"
                    ? "database is read-only"
                    : error.kind == .statement ? "database refuses writes (\(error.message))" : "database is unreachable")
        }
        lastHealth.withLock { $0 = (now, health) }
        return health
    }

}
