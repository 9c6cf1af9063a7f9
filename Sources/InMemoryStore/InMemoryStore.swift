public import ComputeCore

/// The inventory held in memory, every rule that spans records enforced against indexes
/// (unique names, the address bitmaps, per-project usage), and each change made durable by a
/// `RecordPersistence` (the JSON files) before memory shows it.
///
/// Reads take a short lock on the state; a listing walks at most `walkBudget` index keys per
/// call. Changes are written concurrently (group commit): each is planned under a second lock
/// against the state and what the changes already on their way reserve (names, addresses,
/// quota usage; a server with a change on its way is not changed again until it lands), then
/// made durable without holding any lock, then applied to memory in the order they were
/// planned, once durable. A single process owns the data (the persistence's lock), so the
/// indexes are the truth while it runs. Addresses are taken when planned, so `counts` include
/// those of servers being created.
public final class InMemoryStore: InventoryStore {
    private let persistence: any RecordPersistence
    /// What changes on their way to the disk hold, and whose turn it is to reach memory.
    private let reservations = Monitor(Reservations())
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
        state.withLock { $0.names[NameKey(projectID: projectID, name: name)]?.server }
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
        let (servers, turn) = try reservations.withLock(
            when: { !$0.holdsServerChanges },
            { r throws(ComputeError) in
                let servers = try state.withLock { s throws(ComputeError) in
                    let servers = try s.plan(plan, reserved: r)
                    s.claimAddresses(of: servers)
                    return servers
                }
                return (servers, r.reserve(creating: servers))
            })
        try commit(
            servers.map { .put(.server($0)) }, turn: turn, release: { r in r.release(creating: servers) },
            undo: { s in s.releaseAddresses(of: servers) },
            apply: { s in for server in servers { _ = s.insert(server, addressClaimed: true) } })
        return servers
    }

    public func replace(_ server: Server, expecting version: Int) throws(ComputeError) {
        let (old, newName, turn) = try reservations.withLock(
            when: { $0.mayChange(server.id) },
            { r throws(ComputeError) in
                let key = NameKey(projectID: server.projectID, name: server.name)
                let old = try state.withLock { s throws(ComputeError) -> Server in
                    let old = try s.current(server.id, version: version)
                    precondition(server.version == version + 1 && server.projectID == old.projectID, "a change is one version on")
                    if server.name != old.name, s.isInUse(key, r) { throw .serverNameInUse(server.name) }
                    return old
                }
                let newName = server.name != old.name ? key : nil
                return (old, newName, r.reserve(changing: server.id, newName: newName))
            })
        try commit(
            [.put(.server(server))], turn: turn, release: { r in r.release(changing: server.id, newName: newName) },
            apply: { s in
                s.remove(old)
                _ = s.insert(server)
            })
    }

    /// A tombstone takes the server's file (one write either way, so the deletion and what is
    /// kept of it cannot part).
    public func deleteServer(id: String, expecting version: Int, keeping tombstone: Server?) throws(ComputeError) {
        let (server, turn) = try reservations.withLock(
            when: { $0.mayChange(id) },
            { r throws(ComputeError) in
                let server = try state.withLock { s throws(ComputeError) in try s.current(id, version: version) }
                return (server, r.reserve(changing: id))
            })
        let reference = RecordReference(kind: .server, key: id)
        let failure = commitReturningFailure(
            [tombstone.map { .put(.server($0)) } ?? .delete(reference)], turn: turn, release: { r in r.release(changing: id) },
            apply: { s in
                s.remove(server)
                if let tombstone { s.deleted.keep(tombstone) }
            })
        guard let failure else { return }
        // On a full disk a delete is how room is made: it goes ahead without its tombstone (a
        // poll with changes-since then does not see it go).
        if tombstone != nil, failure.reason == .storageFull, !failure.changeIsOnDisk {
            return try deleteServer(id: id, expecting: version, keeping: nil)
        }
        throw .cannotSave(failure.reason.rawValue)
    }

    public func deletedServer(id: String) -> Server? {
        state.withLock { $0.deleted.servers[id] }
    }

    public func deletedServers(matching filter: ServerFilter, after: ServerOrderKey?, limit: Int) -> ServerPage {
        state.withLock { s in s.deleted.page(filter, after: after, limit: limit, walking: Self.walkBudget) }
    }

    /// One tombstone at a time, each its own single-record commit (concurrent ones share the
    /// directory fsync, as deletes do).
    public func purgeDeletedServers(deletedBefore cutoff: Timestamp, limit: Int) throws(ComputeError) -> Int {
        let expired = state.withLock { s in s.deleted.expired(before: cutoff, limit: limit) }
        var forgotten = 0
        for server in expired {
            let turn: Int? = reservations.withLock(
                when: { $0.mayChange(server.id) },
                { r in state.withLock { $0.deleted.servers[server.id] } == nil ? nil : r.reserve(changing: server.id) })
            guard let turn else { continue }  // another purge forgot it meanwhile
            try commit(
                [.delete(RecordReference(kind: .server, key: server.id))], turn: turn,
                release: { r in r.release(changing: server.id) }, apply: { s in s.deleted.forget([server.id]) })
            forgotten += 1
        }
        return forgotten
    }

    public func create(_ flavor: Flavor) throws(ComputeError) {
        let (_, turn) = try flavorTurn { s throws(ComputeError) in
            if s.flavors[flavor.id] != nil { throw .flavorIDInUse(flavor.id) }
            if s.flavorIDsByName[flavor.name] != nil { throw .flavorNameInUse(flavor.name) }
        }
        try commitFlavor(.put(.flavor(flavor)), turn: turn) { s in s.insert(flavor) }
    }

    public func replace(_ flavor: Flavor, expecting version: Int) throws(ComputeError) {
        let (_, turn) = try flavorTurn { s throws(ComputeError) in
            let old = try s.currentFlavor(flavor.id, version: version)
            precondition(flavor.version == version + 1 && flavor.name == old.name, "a change is one version on")
        }
        try commitFlavor(.put(.flavor(flavor)), turn: turn) { s in s.insert(flavor) }
    }

    public func deleteFlavor(id: String, expecting version: Int) throws(ComputeError) {
        let (flavor, turn) = try flavorTurn { s throws(ComputeError) in try s.currentFlavor(id, version: version) }
        try commitFlavor(.delete(RecordReference(kind: .flavor, key: id)), turn: turn) { s in s.remove(flavor) }
    }

    private func commitFlavor(_ change: RecordChange, turn: Int, apply: (inout Indexes) -> Void) throws(ComputeError) {
        try commit([change], turn: turn, release: { r in r.releaseFlavorChange() }, apply: apply)
    }

    /// A flavor change waits until no other change is on its way, and holds every later one
    /// until it is published: flavors change rarely, and one at a time. `check` runs on the
    /// state it will change; what it returns comes back with the turn.
    private func flavorTurn<Checked: Sendable>(
        _ check: (Indexes) throws(ComputeError) -> Checked
    ) throws(ComputeError) -> (Checked, turn: Int) {
        reservations.withLock { r in r.flavorChangesWaiting += 1 }
        return try reservations.withLock(
            when: { !$0.flavorChange && $0.inFlight == 0 },
            { r throws(ComputeError) in
                r.flavorChangesWaiting -= 1
                let checked = try state.withLock { s throws(ComputeError) in try check(s) }
                return (checked, r.reserveFlavorChange())
            })
    }

    /// Makes `changes` durable (concurrently with other commits), then, in the order changes
    /// were planned (`turn`), applies them to memory and gives back what they reserved. On
    /// failure memory is left as it was (`undo` gives back what planning took from it), unless
    /// the change reached the disk anyway, in which case memory follows the disk.
    private func commit(
        _ changes: [RecordChange], turn: Int, release: (inout Reservations) -> Void, undo: (inout Indexes) -> Void = { _ in },
        apply: (inout Indexes) -> Void
    ) throws(ComputeError) {
        if let failure = commitReturningFailure(changes, turn: turn, release: release, undo: undo, apply: apply) {
            throw .cannotSave(failure.reason.rawValue)
        }
    }

    /// `commit`, giving back what failed.
    private func commitReturningFailure(
        _ changes: [RecordChange], turn: Int, release: (inout Reservations) -> Void, undo: (inout Indexes) -> Void = { _ in },
        apply: (inout Indexes) -> Void
    ) -> PersistenceFailure? {
        var failure: PersistenceFailure? = nil
        do {
            try persistence.commit(changes)
        } catch {
            failure = error
        }
        reservations.withLock(
            when: { $0.publishedTurns == turn },
            { r in
                state.withLock { s in
                    if let failure, !failure.changeIsOnDisk {
                        undo(&s)
                    } else {
                        apply(&s)
                    }
                }
                release(&r)
                r.publishedTurns += 1
            })
        return failure
    }
}
