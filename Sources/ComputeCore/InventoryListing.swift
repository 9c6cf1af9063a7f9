/// Listings, and the deleted servers kept for a while: Nova's polling clients ask for what
/// changed since their last look (`changes-since`), and a server deleted meanwhile must be in
/// the answer, as `DELETED`, or they never learn it is gone. A deletion leaves its tombstone in
/// the store in the same step (`InventoryStore.deleteServer(id:expecting:keeping:)`); it is
/// listed for `Settings.keepDeletedServersSeconds`, then forgotten (`forgetExpiredDeletedServers`,
/// which the worker runs every few seconds).
extension Inventory {
    /// How many deleted servers one call to the store forgets at most.
    public static let purgeBatch = 256

    var keepDeletedServersSeconds: Int { currentSettings.keepDeletedServersSeconds }

    /// A page of servers, newest first, starting after `marker` (a server id the listing could
    /// contain; anything else is a 400).
    public func servers(matching filter: ServerFilter, limit: Int, marker: String?) throws(ComputeError) -> [Server] {
        let names = filter.namePattern.map(NamePattern.Evaluation.init)
        let addresses = filter.addressPattern.map(NamePattern.Evaluation.init)
        guard names != nil || addresses != nil else {
            return try servers(matching: filter, limit: limit, marker: marker, patternsMatch: nil)
        }
        return try servers(matching: filter, limit: limit, marker: marker) { server throws(ComputeError) in
            if let names, try !names.matches(server.name) { return false }
            if let addresses {
                guard let address = server.address, try addresses.matches(address.description) else { return false }
            }
            return true
        }
    }

    /// The listing, with `patternsMatch` run on each candidate between calls to the store, so
    /// no lock or transaction is held while a client's pattern is matched. With deleted servers
    /// included, each source gives its first `limit` after the marker and the two are merged.
    func servers(
        matching filter: ServerFilter, limit: Int, marker: String?, patternsMatch: ((Server) throws(ComputeError) -> Bool)?
    ) throws(ComputeError) -> [Server] {
        let deletedFilter = visibleDeleted(filter)
        var after: ServerOrderKey? = nil
        if let marker {
            var found = try store.server(id: marker)
            if found == nil, let deletedFilter { found = try store.deletedServer(id: marker).flatMap(deletedFilter.admits) }
            guard let server = found, filter.projectID.map({ $0 == server.projectID }) ?? true else {
                throw .invalidInput("Marker \(marker) could not be found.")
            }
            after = server.order
        }
        var live: [Server] = []
        if filter.deleted != .only {
            live = try collect(limit: limit, after: after, patternsMatch) { after, count throws(ComputeError) in
                try store.servers(matching: filter, after: after, limit: count)
            }
        }
        guard let deletedFilter else { return live }
        let deleted = try collect(limit: limit, after: after, patternsMatch) { after, count throws(ComputeError) in
            try store.deletedServers(matching: deletedFilter, after: after, limit: count)
        }
        guard !live.isEmpty else { return deleted }
        return Array((live + deleted).sorted { $0.order > $1.order }.prefix(limit))
    }

    /// Up to `limit` servers of one source that pass `patternsMatch`, page after page.
    private func collect(
        limit: Int, after start: ServerOrderKey?, _ patternsMatch: ((Server) throws(ComputeError) -> Bool)?,
        _ page: (ServerOrderKey?, Int) throws(ComputeError) -> ServerPage
    ) throws(ComputeError) -> [Server] {
        var servers: [Server] = []
        var after = start
        while servers.count < limit {
            let chunk = try page(after, patternsMatch == nil ? limit - servers.count : Self.scanChunk)
            for server in chunk.servers where servers.count < limit {
                if let patternsMatch, try !patternsMatch(server) { continue }
                servers.append(server)
            }
            guard let next = chunk.resumeAfter else { break }
            after = next
        }
        return servers
    }

    /// The filter the deleted servers of a listing pass (those deleted within the time they are
    /// kept), nil when the listing has none. A deleted server has no status but `DELETED`, no
    /// address and no tags (as in Nova), so a listing that filters by them lists none.
    private func visibleDeleted(_ filter: ServerFilter) -> ServerFilter? {
        let keep = keepDeletedServersSeconds
        guard filter.deleted != .excluded, keep > 0, filter.status == nil, filter.addressPattern == nil,
            filter.tags.isEmpty
        else { return nil }
        var deleted = filter
        let window = clock.now().adding(seconds: -keep)
        deleted.changedSince = max(filter.changedSince ?? window, window)
        return deleted
    }

    /// A deleted server the caller may see (its instance actions, from microversion 2.21), while
    /// it is kept.
    public func deletedServer(id: String, caller: Caller) throws(ComputeError) -> Server? {
        var any = ServerFilter(projectID: nil)
        any.deleted = .only
        guard let visible = visibleDeleted(any), let server = try store.deletedServer(id: id).flatMap(visible.admits),
            caller.canReach(projectID: server.projectID)
        else { return nil }
        return server
    }

    /// Forgets the deleted servers past their time (all of them when none are kept), a batch at
    /// a time, for at most about `budgetSeconds`; returns how many. A failure is left for the next
    /// call: what is past its time is never listed anyway.
    @discardableResult
    public func forgetExpiredDeletedServers(budgetSeconds: Double = 1) -> Int {
        let started = ContinuousClock.now
        let cutoff = clock.now().adding(seconds: -keepDeletedServersSeconds)
        var forgotten = 0
        while ContinuousClock.now - started < .seconds(budgetSeconds) {
            guard let batch = try? store.purgeDeletedServers(deletedBefore: cutoff, limit: Self.purgeBatch) else { break }
            forgotten += batch
            if batch < Self.purgeBatch { break }
        }
        return forgotten
    }
}

extension ServerFilter {
    /// `server` when it passes the filter's conditions (the patterns aside).
    func admits(_ server: Server) -> Server? { matches(server) ? server : nil }
}
