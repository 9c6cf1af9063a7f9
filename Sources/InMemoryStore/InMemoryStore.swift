public import ComputeCore

/// The inventory held in memory, every rule that spans records enforced against indexes
/// (unique names, the address bitmaps, per-project usage), and each change made durable by a
/// `RecordPersistence` (the JSON files) before memory shows it.
///
/// Reads take a short lock on the state; a listing walks at most `walkBudget` index keys per
/// call. Changes are serialised by a second lock held across the durable write, so each one is
/// checked against the state it will change, and memory changes only once persistence has
/// made the change durable. A single process owns the data (the persistence's lock), so the
/// indexes are the truth while it runs.
public final class InMemoryStore: InventoryStore {
    private let persistence: any RecordPersistence
    private let writer = Locked(())
    private let state: Locked<Indexes>
    /// Problems found in the loaded records (duplicate names or addresses, unknown networks).
    public let loadWarnings: [String]

    /// How many index keys a listing walks per call (per hold of the state lock): a listing
    /// that matches few of 100,000 servers lets writers in between calls.
    static let walkBudget = 1024

    /// Builds the indexes from loaded records; records that break a rule are kept reachable
    /// where they can be and reported in `loadWarnings`.
    public init(records: LoadedRecords, networks: [NetworkConfig], images: [Image], persistence: any RecordPersistence) {
        self.persistence = persistence
        let (indexes, warnings) = Indexes.load(records, networks: networks, images: images)
        state = Locked(indexes)
        loadWarnings = warnings
    }

    /// What loading `records` would report, without a store (`alliance-compute check`).
    public static func loadWarnings(_ records: LoadedRecords, networks: [NetworkConfig], images: [Image]) -> [String] {
        Indexes.load(records, networks: networks, images: images).warnings
    }

    // MARK: Reading

    public func server(id: String) -> Server? {
        state.withLock { $0.servers[id] }
    }

    public func server(projectID: String, name: String) -> Server? {
        state.withLock { s in s.serverIDsByName[NameKey(projectID: projectID, name: name)].flatMap { s.servers[$0] } }
    }

    public func servers(matching filter: ServerFilter, after: ServerOrderKey?, limit: Int) -> ServerPage {
        state.withLock { s in s.page(filter, after: after, limit: limit, walking: Self.walkBudget) }
    }

    public func flavors() -> [Flavor] {
        state.withLock { Array($0.flavors.values) }
    }

    public func flavor(id: String) -> Flavor? {
        state.withLock { $0.flavors[id] }
    }

    public func flavor(name: String) -> Flavor? {
        state.withLock { s in s.flavorIDsByName[name].flatMap { s.flavors[$0] } }
    }

    public func usage(projectID: String) -> QuotaUsage {
        state.withLock { $0.usage[projectID] ?? QuotaUsage() }
    }

    public func counts() -> InventoryCounts {
        state.withLock { s in
            InventoryCounts(
                servers: s.servers.count, flavors: s.flavors.count,
                networks: s.networkNames.compactMap { name in
                    s.pools[name].map { .init(name: name, cidr: $0.config.cidr, used: $0.used, free: $0.free) }
                })
        }
    }

    public var health: StoreHealth { persistence.health }

    // MARK: Changing

    public func create(_ plan: CreationPlan) throws(ComputeError) -> [Server] {
        try writer.withLock { _ throws(ComputeError) in
            let servers = try state.withLock { s throws(ComputeError) in try s.plan(plan) }
            try persist(servers.map { .put(.server($0)) }) { s in
                for server in servers { _ = s.insert(server) }
            }
            return servers
        }
    }

    public func replace(_ server: Server, expecting version: Int) throws(ComputeError) {
        try writer.withLock { _ throws(ComputeError) in
            let old = try state.withLock { s throws(ComputeError) -> Server in
                let old = try s.current(server.id, version: version)
                precondition(server.version == version + 1 && server.projectID == old.projectID, "a change is one version on")
                if server.name != old.name, s.serverIDsByName[NameKey(projectID: server.projectID, name: server.name)] != nil {
                    throw .serverNameInUse(server.name)
                }
                return old
            }
            try persist([.put(.server(server))]) { s in
                s.remove(old)
                _ = s.insert(server)
            }
        }
    }

    public func deleteServer(id: String, expecting version: Int) throws(ComputeError) {
        try writer.withLock { _ throws(ComputeError) in
            let server = try state.withLock { s throws(ComputeError) in try s.current(id, version: version) }
            try persist([.delete(RecordReference(kind: .server, key: id))]) { s in s.remove(server) }
        }
    }

    public func create(_ flavor: Flavor) throws(ComputeError) {
        try writer.withLock { _ throws(ComputeError) in
            try state.withLock { s throws(ComputeError) in
                if s.flavors[flavor.id] != nil { throw .flavorIDInUse(flavor.id) }
                if s.flavorIDsByName[flavor.name] != nil { throw .flavorNameInUse(flavor.name) }
            }
            try persist([.put(.flavor(flavor))]) { s in s.insert(flavor) }
        }
    }

    public func replace(_ flavor: Flavor, expecting version: Int) throws(ComputeError) {
        try writer.withLock { _ throws(ComputeError) in
            try state.withLock { s throws(ComputeError) in
                let old = try s.currentFlavor(flavor.id, version: version)
                precondition(flavor.version == version + 1 && flavor.name == old.name, "a change is one version on")
            }
            try persist([.put(.flavor(flavor))]) { s in s.insert(flavor) }
        }
    }

    public func deleteFlavor(id: String, expecting version: Int) throws(ComputeError) {
        try writer.withLock { _ throws(ComputeError) in
            let flavor = try state.withLock { s throws(ComputeError) in try s.currentFlavor(id, version: version) }
            try persist([.delete(RecordReference(kind: .flavor, key: id))]) { s in s.remove(flavor) }
        }
    }

    /// Makes `changes` durable, then applies them to memory. On failure memory is left alone,
    /// unless the change reached the disk anyway, in which case memory follows the disk.
    private func persist(_ changes: [RecordChange], apply: (inout Indexes) -> Void) throws(ComputeError) {
        do {
            try persistence.commit(changes)
        } catch {
            if error.changeIsOnDisk {
                state.withLock { s in apply(&s) }
            }
            throw .cannotSave(error.reason.rawValue)
        }
        state.withLock { s in apply(&s) }
    }
}
