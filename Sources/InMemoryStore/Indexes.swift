import ComputeCore

/// A server name within a project.
struct NameKey: Hashable, Sendable {
    var projectID: String
    var name: String
}

/// Which ordered index: every server, or those a filter value selects.
enum IndexKey: Hashable, Sendable {
    case all
    case project(String)
    case status(ServerStatus)
    /// A flavor id or name, as in the server's flavor snapshot.
    case flavor(String)
    case reservation(String)
}

/// Every server and flavor, and the indexes derived from them (never stored: rebuilt from the
/// records at start-up, so the two cannot disagree).
struct Indexes: Sendable {
    var servers = ServerTable()
    /// Listing order (ascending; listings walk it backwards, newest first), per index key.
    var indexes: [IndexKey: OrderedIndex<StoredServer>] = [:]
    var names = ServerNames()
    var pools: [String: AddressPool] = [:]
    var networkNames: [String]
    var flavors: [String: Flavor] = [:]
    var flavorIDsByName: [String: String] = [:]
    /// Each distinct flavor snapshot once, shared by the servers that hold it (a few per
    /// flavor: a new one only when a flavor's properties change).
    var flavorSnapshots: Set<FlavorSnapshot> = []
    /// Per project: what its servers use, for quotas.
    var usage: [String: QuotaUsage] = [:]
    /// Deleted servers kept for a while (outside every other index: they hold no name,
    /// address or quota).
    var deleted = DeletedServers()

    init(networks: [NetworkConfig]) {
        networkNames = networks.map(\.name)
        for network in networks { pools[network.name] = AddressPool(config: network) }
    }

    /// Indexes loaded records: oldest first, so the server that had a name or an address first
    /// keeps it; what breaks a rule is reported.
    static func load(_ records: LoadedRecords, networks: [NetworkConfig], images: [Image]) -> (Indexes, warnings: [String]) {
        var indexes = Indexes(networks: networks)
        var warnings: [String] = []
        for flavor in records.flavors.sorted(by: { $0.created < $1.created }) {
            if indexes.flavors[flavor.id] != nil || indexes.flavorIDsByName[flavor.name] != nil {
                warnings.append("flavor \(flavor.id) (\(flavor.name)) duplicates another flavor's id or name; ignored")
                continue
            }
            indexes.insert(flavor)
        }
        // Sorted by their keys, not moved: a sorted copy of 100,000 servers is 30 MB more at
        // start-up.
        let servers = records.servers
        let oldestFirst = servers.indices.map { (key: servers[$0].order, at: $0) }.sorted { $0.key < $1.key }
        var compaction = LoadCompaction()
        for (_, at) in oldestFirst {
            var server = servers[at]
            compaction.compact(&server)
            if server.deleted != nil {
                indexes.deleted.keep(server)
                continue
            }
            // A format-1 record kept the image's name only. Either way the server takes the
            // catalog's own strings, which every server of an image then shares instead of
            // holding a copy read from its record.
            let format1 = server.imageID.isEmpty
            if let image = images.first(where: { format1 ? $0.name == server.image : $0.id == server.imageID }) {
                server.imageID = image.id
                if server.image == image.name { server.image = image.name }
            } else if format1 {
                warnings.append("server \(server.id): image \(server.image) is not in the image catalog")
            }
            warnings += indexes.insert(server)
        }
        indexes.deleted.sortByDeletion()
        return (indexes, warnings)
    }

    // MARK: Reading

    /// The stored server at `version`: `.notFound` when gone, `.staleVersion` when changed.
    func current(_ id: String, version: Int) throws(ComputeError) -> Server {
        guard let server = servers[id] else { throw .notFound("Server \(id) could not be found.") }
        guard server.version == version else { throw .serverChanged(id) }
        return server
    }

    func currentFlavor(_ id: String, version: Int) throws(ComputeError) -> Flavor {
        guard let flavor = flavors[id] else { throw .notFound("Flavor \(id) could not be found.") }
        guard flavor.version == version else { throw .flavorChanged(id) }
        return flavor
    }

    /// The next servers that pass `filter` below `after`, at most `limit`, walking at most
    /// `walking` keys of the smallest index that holds every match.
    func page(_ filter: ServerFilter, after: ServerOrderKey?, limit: Int, walking: Int) -> ServerPage {
        if let name = filter.name, let projectID = filter.projectID {
            // A name is unique in a project: at most one server, found without a walk.
            guard let server = names[NameKey(projectID: projectID, name: name)]?.server,
                filter.matches(server), after.map({ server.order < $0 }) ?? true
            else { return ServerPage(servers: [], resumeAfter: nil) }
            return ServerPage(servers: [server], resumeAfter: nil)
        }
        // A missing index means no match.
        var smallest: OrderedIndex<StoredServer>? = nil
        for key in Self.indexKeys(of: filter) {
            guard let index = indexes[key] else { return ServerPage(servers: [], resumeAfter: nil) }
            if smallest == nil || index.count < smallest!.count { smallest = index }
        }
        guard let index = smallest else { return ServerPage(servers: [], resumeAfter: nil) }
        return Self.walk(index, below: after, limit: limit, walking: walking, matching: filter.matches)
    }

    /// The servers of `index` below `after` (newest first) that `matching` accepts, until
    /// `limit` are found or `walking` were walked; the page resumes after the last one walked.
    static func walk(
        _ index: OrderedIndex<StoredServer>, below after: ServerOrderKey?, limit: Int, walking: Int,
        matching: (Server) -> Bool
    ) -> ServerPage {
        var found: [Server] = []
        found.reserveCapacity(min(limit, walking))
        var walked = 0
        var last: ServerOrderKey? = nil
        var entries = index.descending(below: after)
        while found.count < limit {
            guard walked < walking else { return ServerPage(servers: found, resumeAfter: last) }
            guard let server = entries.next()?.server else { return ServerPage(servers: found, resumeAfter: nil) }
            walked += 1
            last = server.order
            if matching(server) { found.append(server) }
        }
        return ServerPage(servers: found, resumeAfter: last)
    }

    /// The ordered indexes that hold every server `filter` can match.
    static func indexKeys(of filter: ServerFilter) -> [IndexKey] {
        var keys: [IndexKey] = []
        if let projectID = filter.projectID { keys.append(.project(projectID)) }
        if let status = filter.status { keys.append(.status(status)) }
        if let flavor = filter.flavor { keys.append(.flavor(flavor)) }
        if let reservationID = filter.reservationID { keys.append(.reservation(reservationID)) }
        return keys.isEmpty ? [.all] : keys
    }

    /// The indexes a server appears in.
    static func indexKeys(of server: Server) -> [IndexKey] {
        var keys: [IndexKey] = [
            .all, .project(server.projectID), .status(server.status), .flavor(server.flavor.id),
            .reservation(server.reservationID),
        ]
        if server.flavor.name != server.flavor.id { keys.append(.flavor(server.flavor.name)) }
        return keys
    }

    // MARK: Planning

    /// The servers of `plan` that can be made now: the quota against the project's usage and
    /// what `reserved` holds for changes on their way, the lowest free addresses, names in use
    /// by no server or reservation. Nothing is claimed here.
    func plan(_ plan: CreationPlan, reserved: Reservations) throws(ComputeError) -> [Server] {
        var used = usage[plan.projectID] ?? QuotaUsage()
        if let pending = reserved.usage[plan.projectID] {
            (used.instances, used.cores, used.ram) =
                (used.instances + pending.instances, used.cores + pending.cores, used.ram + pending.ram)
        }
        var count = try plan.fittingCount(usage: used)
        var addresses: [IPv4Address?] = Array(repeating: nil, count: count)
        if let network = plan.network, let pool = pools[network] {
            count = min(count, pool.free)
            guard count >= plan.minCount, let free = pool.lowestFree(count) else { throw plan.networkFull(free: pool.free) }
            addresses = free
        }
        let servers = try plan.servers(count: count, addresses: addresses)
        for server in servers where isInUse(NameKey(projectID: server.projectID, name: server.name), reserved) {
            throw .serverNameInUse(server.name)
        }
        return servers
    }

    /// Whether a server or a change on its way holds the name.
    func isInUse(_ name: NameKey, _ reserved: Reservations) -> Bool {
        names[name] != nil || reserved.names.contains(name)
    }

    /// Takes the addresses of servers about to be written, so no later plan takes them; they
    /// are the servers' once inserted (`addressesClaimed`), or given back (`releaseAddresses`).
    mutating func claimAddresses(of servers: [Server]) {
        for server in servers {
            if let address = server.address, let network = server.network, pools[network] != nil {
                _ = pools[network]!.claim(address)
                pools[network]!.advanceHint()
            }
        }
    }

    mutating func releaseAddresses(of servers: [Server]) {
        for server in servers {
            if let address = server.address, let network = server.network, pools[network] != nil {
                pools[network]!.release(address)
            }
        }
    }

    // MARK: Changing

    /// Indexes a server; returns what was wrong with it (only loaded records can be wrong).
    /// `addressClaimed`: its address was taken for it already (`claimAddresses`).
    mutating func insert(_ server: Server, addressClaimed: Bool = false) -> [String] {
        var warnings: [String] = []
        var server = server
        if let shared = flavorSnapshots.firstIndex(of: server.flavor) {
            server.flavor = flavorSnapshots[shared]
        } else {
            flavorSnapshots.insert(server.flavor)
        }
        let stored = servers.insert(server)
        usage[server.projectID, default: QuotaUsage()].add(server)
        for key in Self.indexKeys(of: server) { indexes[key, default: OrderedIndex()].insert(stored) }
        let key = NameKey(projectID: server.projectID, name: server.name)
        if !names.claim(key, for: stored) {
            warnings.append(
                "server \(server.id): the name \(server.name) is already used by another server; reachable by id only")
        }
        if let address = server.address, !addressClaimed {
            // Mutated in place through the subscript: a copy of the pool would copy its whole
            // bitmap on write (128 KiB for a /12) for every server loaded.
            if let network = server.network, pools[network] != nil {
                if pools[network]!.claim(address) {
                    pools[network]!.advanceHint()
                } else if pools[network]!.config.contains(address) {
                    warnings.append("server \(server.id): address \(address) is also held by another server")
                } else {
                    warnings.append(
                        "server \(server.id): address \(address) is outside network \(network) (\(pools[network]!.config.cidr))")
                }
            } else {
                warnings.append(
                    "server \(server.id): network \(server.network ?? "-") is not configured; its address \(address) is kept but not managed"
                )
            }
        }
        return warnings
    }

    mutating func remove(_ server: Server) {
        servers.removeValue(forKey: server.id)
        usage[server.projectID]?.add(server, sign: -1)
        for key in Self.indexKeys(of: server) {
            indexes[key]?.remove(server.order)
            if indexes[key]?.isEmpty == true { indexes[key] = nil }
        }
        let key = NameKey(projectID: server.projectID, name: server.name)
        names.release(key, heldBy: server.id)
        if let address = server.address, let network = server.network, pools[network] != nil {
            pools[network]!.release(address)
        }
    }

    mutating func insert(_ flavor: Flavor) {
        flavors[flavor.id] = flavor
        flavorIDsByName[flavor.name] = flavor.id
    }

    mutating func remove(_ flavor: Flavor) {
        flavors[flavor.id] = nil
        if flavorIDsByName[flavor.name] == flavor.id { flavorIDsByName[flavor.name] = nil }
    }
}
