import ComputeCore

/// The deleted servers a store keeps for a while (their tombstones: `Server.deleted` set), in
/// listing order for `changes-since`, and in the order they were deleted for the purge.
struct DeletedServers: Sendable {
    private(set) var servers = ServerTable()
    private var order = OrderedIndex<StoredServer>()
    /// The same per project: a member's poll walks its own project's alone.
    private var orderByProject: [String: OrderedIndex<StoredServer>] = [:]
    /// Ids by deletion time, about oldest first (tombstones arrive in the order deletes are
    /// published, so a late one waits at most a purge longer).
    private var byDeletion: [(deleted: Timestamp, id: String)] = []

    /// Keeps a tombstone; the loader sorts them by deletion time afterwards (`sortByDeletion`).
    mutating func keep(_ server: Server) {
        guard let deleted = server.deleted, servers[server.id] == nil else { return }
        let stored = servers.insert(server)
        _ = order.insert(stored)
        _ = orderByProject[server.projectID, default: OrderedIndex()].insert(stored)
        byDeletion.append((deleted, server.id))
    }

    mutating func sortByDeletion() { byDeletion.sort { $0.deleted < $1.deleted } }

    /// The tombstones deleted before `cutoff`, at most `limit`, oldest first.
    func expired(before cutoff: Timestamp, limit: Int) -> [Server] {
        var found: [Server] = []
        for entry in byDeletion {
            guard entry.deleted < cutoff, found.count < limit else { break }
            if let server = servers[entry.id] { found.append(server) }
        }
        return found
    }

    mutating func forget(_ ids: [String]) {
        let forgotten = Set(ids)
        for id in ids {
            guard let server = servers.removeValue(forKey: id) else { continue }
            _ = order.remove(server.order)
            _ = orderByProject[server.projectID]?.remove(server.order)
            if orderByProject[server.projectID]?.isEmpty == true { orderByProject[server.projectID] = nil }
        }
        byDeletion.removeAll { forgotten.contains($0.id) }
    }

    /// As `Indexes.page`: the next tombstones that pass `filter` below `after`, walking at
    /// most `walking` keys of the listing order.
    func page(_ filter: ServerFilter, after: ServerOrderKey?, limit: Int, walking: Int) -> ServerPage {
        let index = filter.projectID.map { orderByProject[$0] ?? OrderedIndex() } ?? order
        return Indexes.walk(index, below: after, limit: limit, walking: walking, matching: filter.matches)
    }
}
