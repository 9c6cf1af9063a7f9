import Synchronization

/// Which servers a listing returns.
public struct ServerFilter: Sendable, Equatable {
    /// Nil: every project's servers.
    public var projectID: String?
    /// Exact name.
    public var name: String?
    /// A regular expression the name contains a match of (Nova's `?name=`).
    public var namePattern: NamePattern?
    public var status: ServerStatus?
    /// A flavor id or name, matched against each server's flavor snapshot.
    public var flavor: String?
    public var imageID: String?
    public var reservationID: String?
    /// Changed (`updated`) at or after this instant (Nova's `changes-since`).
    public var changedSince: Timestamp?
    /// Changed at or before this instant (Nova's `changes-before`).
    public var changedBefore: Timestamp?

    public init(
        projectID: String?, name: String? = nil, status: ServerStatus? = nil, flavor: String? = nil, reservationID: String? = nil
    ) {
        self.projectID = projectID
        self.name = name
        self.status = status
        self.flavor = flavor
        self.reservationID = reservationID
    }

    /// The ordered indexes that hold every server this filter can match; a listing walks the
    /// smallest of them instead of every server.
    var indexKeys: [IndexKey] {
        var keys: [IndexKey] = []
        if let projectID { keys.append(.project(projectID)) }
        if let status { keys.append(.status(status)) }
        if let flavor { keys.append(.flavor(flavor)) }
        if let reservationID { keys.append(.reservation(reservationID)) }
        return keys.isEmpty ? [.all] : keys
    }

    /// Every condition but `namePattern`, which the listing matches outside the state lock.
    func matches(_ server: Server) -> Bool {
        if let projectID, server.projectID != projectID { return false }
        if let name, server.name != name { return false }
        if let status, server.status != status { return false }
        if let flavor, server.flavor.id != flavor, server.flavor.name != flavor { return false }
        if let reservationID, server.reservationID != reservationID { return false }
        if let imageID, server.imageID != imageID { return false }
        if let changedSince, server.updated < changedSince { return false }
        if let changedBefore, changedBefore < server.updated { return false }
        return true
    }
}

/// Bytes derived from a server (its encoded API view), made when the server is stored or
/// changed, so that reads copy them instead of encoding again.
public typealias ServerRenderer = @Sendable (Server) -> [UInt8]

/// A server and its rendered view. A class, so that handing a page of them out of the lock
/// copies references, not every field; immutable, so a reader never sees it change (a view
/// added or dropped means a new entry in the inventory).
public final class ServerEntry: Sendable {
    public let server: Server
    /// Nil until the server is first read (and after the view cache was emptied).
    let renderedView: [UInt8]?

    init(server: Server, view: [UInt8]? = nil) {
        self.server = server
        self.renderedView = view
    }

    /// The rendered view; entries handed out by reads always have it (empty without a renderer).
    public var view: [UInt8] { renderedView ?? [] }
}

/// Numbers `/healthz` reports.
public struct InventoryCounts: Sendable, Equatable {
    public var servers: Int
    public var flavors: Int
    public var networks: [NetworkUsage]

    public struct NetworkUsage: Sendable, Equatable {
        public var name: String
        public var cidr: String
        public var used: Int
        public var free: Int
    }
}

/// The servers and flavors, with every rule that spans records: unique names, unique
/// addresses, references that resolve. The single source of truth while the process runs.
///
/// Reads take a short lock on the in-memory state. Changes are serialised by a second lock
/// held across the durable write, so each one validates against the state it will change,
/// and memory only changes after persistence has made the change durable.
public final class Inventory: Sendable {
    private let persistence: any RecordPersistence
    private let clock: any Clock
    private let identifiers: any IdentifierSource
    private let defaultNetwork: String?
    private let quotas: any QuotaSource
    /// The images servers may be created from (configuration, not records).
    public let images: [Image]
    /// The networks servers get addresses on, the default first.
    public let networks: [NetworkConfig]
    private let writer = Mutex(())
    private let state: Mutex<State>
    /// Problems found in the loaded records (duplicate names or addresses, unknown networks).
    public let loadWarnings: [String]

    public init(
        records: LoadedRecords, networks: [NetworkConfig], images: [Image] = Image.defaults,
        persistence: any RecordPersistence, clock: any Clock = SystemClock(),
        identifiers: any IdentifierSource = RandomIdentifiers(), quotas: any QuotaSource = FixedQuotas(.unlimited),
        renderer: ServerRenderer? = nil
    ) {
        self.persistence = persistence
        self.quotas = quotas
        self.clock = clock
        self.identifiers = identifiers
        self.defaultNetwork = networks.first?.name
        self.images = images
        self.networks = networks
        var state = State(networks: networks, renderer: renderer)
        var warnings: [String] = []
        for flavor in records.flavors.sorted(by: { $0.created < $1.created }) {
            if state.flavors[flavor.id] != nil || state.flavorIDsByName[flavor.name] != nil {
                warnings.append("flavor \(flavor.id) (\(flavor.name)) duplicates another flavor's id or name; ignored")
                continue
            }
            state.insert(flavor)
        }
        // Oldest first, so the server that had a name or an address first keeps it.
        for var server in records.servers.sorted(by: { $0.order < $1.order }) {
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
            warnings += state.insert(server)
        }
        self.state = Mutex(state)
        self.loadWarnings = warnings
    }

    // MARK: Servers, reading

    /// The server `reference` names, if the caller may reach it: an id of a server in the
    /// caller's project (any project for an admin), else a name in the caller's project.
    /// Anything else is a 404, so ids of other projects' servers do not leak.
    public func server(_ reference: Reference, caller: Caller) throws(ComputeError) -> Server {
        try state.withLock { s throws(ComputeError) in try s.entry(reference, caller: caller).server }
    }

    /// The same, with its rendered view.
    public func entry(_ reference: Reference, caller: Caller) throws(ComputeError) -> ServerEntry {
        try state.withLock { s throws(ComputeError) in s.withView(try s.entry(reference, caller: caller)) }
    }

    /// The limits of a project without an override of its own.
    public var quotaDefaults: QuotaLimits { quotas.defaults }

    /// What a project's servers use, and its limits.
    public func quota(projectID: String) -> (limits: QuotaLimits, usage: QuotaUsage) {
        (quotas.limits(for: projectID), state.withLock { s in s.usage[projectID] ?? QuotaUsage() })
    }

    /// A page of servers, newest first, starting after `marker` (a server id).
    public func servers(matching filter: ServerFilter, limit: Int, marker: String?) throws(ComputeError) -> [Server] {
        try page(filter, limit: limit, marker: marker).map(\.server)
    }

    /// The same, with their rendered views.
    public func entries(matching filter: ServerFilter, limit: Int, marker: String?) throws(ComputeError) -> [ServerEntry] {
        let page = try page(filter, limit: limit, marker: marker)
        return state.withLock { s in page.map { s.withView($0) } }
    }

    /// How many index keys a listing walks per hold of the state lock: a listing that matches
    /// few of 100,000 servers lets writers in between chunks instead of holding them all off.
    static let scanChunk = 1024

    private func page(_ filter: ServerFilter, limit: Int, marker: String?) throws(ComputeError) -> [ServerEntry] {
        guard let pattern = filter.namePattern else { return try page(filter, limit: limit, marker: marker, nameMatches: nil) }
        let evaluation = NamePattern.Evaluation(pattern)
        return try page(filter, limit: limit, marker: marker, nameMatches: evaluation.matches)
    }

    /// Walks the smallest index that holds every match, newest first, a chunk at a time under
    /// the state lock; `nameMatches` (the name pattern, whose cost the client chooses) runs
    /// between chunks with no lock held.
    func page(
        _ filter: ServerFilter, limit: Int, marker: String?, nameMatches: ((String) throws(ComputeError) -> Bool)?
    ) throws(ComputeError) -> [ServerEntry] {
        var cursor = try state.withLock { s throws(ComputeError) in try s.cursor(filter, marker: marker) }
        var page: [ServerEntry] = []
        while page.count < limit && !cursor.exhausted {
            let wanted = nameMatches == nil ? limit - page.count : Self.scanChunk
            let chunk = state.withLock { s in s.scan(filter, from: &cursor, upTo: wanted, walking: Self.scanChunk) }
            for entry in chunk where page.count < limit {
                if let nameMatches, try !nameMatches(entry.server.name) { continue }
                page.append(entry)
            }
        }
        return page
    }

    public var storeHealth: StoreHealth { persistence.health }

    public var counts: InventoryCounts {
        state.withLock { s in
            InventoryCounts(
                servers: s.servers.count, flavors: s.flavors.count,
                networks: s.networkNames.compactMap { name in
                    s.pools[name].map { .init(name: name, cidr: $0.config.cidr, used: $0.used, free: $0.free) }
                })
        }
    }

    // MARK: Servers, changing

    /// Creates between `minCount` and `maxCount` servers (as many as addresses allow), all or
    /// none. More than one get names `NAME-1` … `NAME-N`.
    public func createServers(_ draft: ServerDraft, caller: Caller) throws(ComputeError) -> [Server] {
        try writer.withLock { _ throws(ComputeError) in
            let planned = try state.withLock { s throws(ComputeError) in try plan(draft, caller: caller, in: s) }
            try persist(planned.map { .put(.server($0)) }) { s in
                for server in planned { _ = s.insert(server) }
            }
            return planned
        }
    }

    private func plan(_ draft: ServerDraft, caller: Caller, in s: State) throws(ComputeError) -> [Server] {
        guard let flavor = s.flavor(draft.flavorReference), flavor.isVisible(to: caller) else {
            throw .invalidInput("Flavor \(draft.flavorReference.text) could not be found.")
        }
        guard let image = draft.image.resolve(in: images, id: \.id, name: \.name) else {
            throw .invalidInput("Image \(draft.image.text) could not be found.")
        }
        let networkName: String?
        switch draft.network {
        case .none: networkName = nil
        case .automatic: networkName = defaultNetwork
        case .reference(let reference):
            guard let network = reference.resolve(in: networks, id: \.id, name: \.name) else {
                throw .invalidInput("Network \(reference.text) could not be found.")
            }
            networkName = network.name
        }
        var count = try quotaFit(draft, flavor: flavor, projectID: caller.projectID, in: s)
        var addresses: [IPv4Address?] = Array(repeating: nil, count: count)
        if let networkName, let pool = s.pools[networkName] {
            count = min(count, pool.free)
            guard count >= draft.minCount, let free = pool.lowestFree(count) else {
                // How many addresses are free tells of every project's servers: admins only.
                throw .conflict(
                    caller.isAdmin
                        ? "Network \(networkName) has \(pool.free) free addresses; \(draft.minCount) needed."
                        : "Network \(networkName) has not enough free addresses for \(draft.minCount) more servers.")
            }
            addresses = free
        }
        let names = count == 1 ? [draft.name] : (1...count).map { "\(draft.name)-\($0)" }
        for name in names {
            try Validation.name(name, field: "server.name")
            if s.serverIDsByName[NameKey(projectID: caller.projectID, name: name)] != nil {
                throw .conflict("Server name \(name) is already in use.")
            }
        }
        let now = clock.now()
        let reservationID = identifiers.reservationID()
        return names.enumerated().map { index, name in
            Server(
                id: identifiers.uuid(), name: name, projectID: caller.projectID, userID: caller.userID,
                flavor: flavor.snapshot, image: image.name, imageID: image.id, description: draft.description,
                keyName: draft.keyName, network: networkName,
                address: addresses[index], metadata: draft.metadata, reservationID: reservationID,
                launchIndex: index, created: now, updated: now)
        }
    }

    /// How many of the draft's servers the project's quota allows (at most `maxCount`); a 403
    /// naming the first exceeded resource when not even `minCount` fit (Nova's rule and words).
    private func quotaFit(_ draft: ServerDraft, flavor: Flavor, projectID: String, in s: State) throws(ComputeError) -> Int {
        let limits = quotas.limits(for: projectID)
        let used = s.usage[projectID] ?? QuotaUsage()
        var count = draft.maxCount
        for (resource, limit, inUse, each) in [
            ("instances", limits.instances, used.instances, 1), ("cores", limits.cores, used.cores, flavor.vcpus),
            ("ram", limits.ram, used.ram, flavor.ram),
        ] where limit >= 0 {
            let fits = each == 0 ? Int.max : max(0, limit - inUse) / each
            if fits < draft.minCount {
                throw .forbidden(
                    "Quota exceeded for \(resource): Requested \(draft.minCount * each), but already used \(inUse) of \(limit) \(resource)"
                )
            }
            count = min(count, fits)
        }
        return count
    }

    /// Renames a server, replaces its metadata or sets its description.
    public func updateServer(_ reference: Reference, caller: Caller, with update: ServerUpdate) throws(ComputeError) -> Server {
        try modifyServer(reference, caller: caller) { s, server throws(ComputeError) in
            if let name = update.name, name != server.name {
                if s.serverIDsByName[NameKey(projectID: server.projectID, name: name)] != nil {
                    throw .conflict("Server name \(name) is already in use.")
                }
                server.name = name
            }
            if let metadata = update.metadata { server.metadata = metadata }
            if let description = update.description { server.description = description }
        }
    }

    /// Stops, starts or reboots a server; 409 when its status does not allow the action.
    public func perform(_ action: ServerAction, on reference: Reference, caller: Caller) throws(ComputeError) -> Server {
        try modifyServer(reference, caller: caller) { _, server throws(ComputeError) in
            guard let status = action.outcome(from: server.status) else {
                throw .conflict(
                    "Cannot '\(action.name)' instance \(server.id) while it is in vm_state \(server.status.vmState)")
            }
            server.status = status
        }
    }

    /// Changes one server durably: `change` sees the state (under its lock) and edits a copy.
    private func modifyServer(
        _ reference: Reference, caller: Caller, _ change: (State, inout Server) throws(ComputeError) -> Void
    ) throws(ComputeError) -> Server {
        try writer.withLock { _ throws(ComputeError) in
            let (old, new) = try state.withLock { s throws(ComputeError) -> (Server, Server) in
                let old = try s.entry(reference, caller: caller).server
                var new = old
                try change(s, &new)
                new.updated = clock.now()
                return (old, new)
            }
            try persist([.put(.server(new))]) { s in
                s.remove(old)
                _ = s.insert(new)
            }
            return new
        }
    }

    /// Deletes a server and frees its address.
    @discardableResult
    public func deleteServer(_ reference: Reference, caller: Caller) throws(ComputeError) -> Server {
        try writer.withLock { _ throws(ComputeError) in
            let server = try state.withLock { s throws(ComputeError) in try s.entry(reference, caller: caller).server }
            try persist([.delete(RecordReference(kind: .server, key: server.id))]) { s in s.remove(server) }
            return server
        }
    }

    // MARK: Flavors

    /// All flavors, ordered by id (numeric ids numerically, first).
    public var flavors: [Flavor] {
        state.withLock { s in s.flavors.values.sorted(by: Self.flavorOrder) }
    }

    /// The flavors `caller` may see and use: public ones, and non-public ones its project was
    /// given access to (every one for an admin).
    public func flavors(visibleTo caller: Caller) -> [Flavor] {
        flavors.filter { $0.isVisible(to: caller) }
    }

    /// The flavor `reference` names, whoever asks (admins' changes, internal use).
    public func flavor(_ reference: Reference) throws(ComputeError) -> Flavor {
        try state.withLock { s throws(ComputeError) in
            guard let flavor = s.flavor(reference) else { throw .notFound("Flavor \(reference.text) could not be found.") }
            return flavor
        }
    }

    /// The flavor `reference` names, if `caller` may see it; else the same 404 as for none.
    public func flavor(_ reference: Reference, visibleTo caller: Caller) throws(ComputeError) -> Flavor {
        let flavor = try flavor(reference)
        guard flavor.isVisible(to: caller) else { throw .notFound("Flavor \(reference.text) could not be found.") }
        return flavor
    }

    /// Shares a non-public flavor with a project (Nova's `addTenantAccess`): 409 for a public
    /// flavor or a project that already has access.
    public func addFlavorAccess(_ reference: Reference, projectID: String) throws(ComputeError) -> Flavor {
        try Validation.principal(projectID, field: "addTenantAccess.tenant")
        return try updateFlavor(reference) { flavor throws(ComputeError) in
            guard !flavor.isPublic else { throw .conflict("Can not add access to a public flavor.") }
            guard flavor.accessProjects.insert(projectID).inserted else {
                throw .conflict(
                    "Flavor access already exists for flavor \(flavor.id) and project \(projectID) combination.")
            }
            guard flavor.accessProjects.count <= Validation.maxFlavorAccessProjects else {
                throw .invalidInput("A flavor is shared with at most \(Validation.maxFlavorAccessProjects) projects.")
            }
        }
    }

    /// Takes a project's access to a flavor away (Nova's `removeTenantAccess`).
    public func removeFlavorAccess(_ reference: Reference, projectID: String) throws(ComputeError) -> Flavor {
        try updateFlavor(reference) { flavor throws(ComputeError) in
            guard flavor.accessProjects.remove(projectID) != nil else {
                throw .notFound("Flavor access not found for \(flavor.id) / \(projectID) combination.")
            }
        }
    }

    /// Changes a flavor's description or extra specs (its size never changes: servers keep
    /// the snapshot they were created with).
    public func updateFlavor(_ reference: Reference, _ change: (inout Flavor) throws(ComputeError) -> Void)
        throws(ComputeError) -> Flavor
    {
        try writer.withLock { _ throws(ComputeError) in
            var flavor = try self.flavor(reference)
            let id = flavor.id
            let name = flavor.name
            try change(&flavor)
            precondition(flavor.id == id && flavor.name == name, "a flavor update must not change its id or name")
            guard flavor.extraSpecs.count <= Validation.maxExtraSpecs else {
                throw .invalidInput("A flavor has at most \(Validation.maxExtraSpecs) extra specs.")
            }
            try persist([.put(.flavor(flavor))]) { s in s.insert(flavor) }
            return flavor
        }
    }

    public func createFlavor(_ draft: FlavorDraft) throws(ComputeError) -> Flavor {
        try writer.withLock { _ throws(ComputeError) in
            let flavor = Flavor(
                id: draft.id ?? identifiers.uuid(), name: draft.name, vcpus: draft.vcpus, ram: draft.ram,
                disk: draft.disk, swap: draft.swap, ephemeral: draft.ephemeral, isPublic: draft.isPublic,
                description: draft.description, created: clock.now(), recordKey: identifiers.uuid())
            try state.withLock { s throws(ComputeError) in
                if s.flavors[flavor.id] != nil { throw .conflict("Flavor with ID \(flavor.id) already exists.") }
                if s.flavorIDsByName[flavor.name] != nil { throw .conflict("Flavor with name \(flavor.name) already exists.") }
            }
            try persist([.put(.flavor(flavor))]) { s in s.insert(flavor) }
            return flavor
        }
    }

    public func deleteFlavor(_ reference: Reference) throws(ComputeError) {
        try writer.withLock { _ throws(ComputeError) in
            let flavor = try self.flavor(reference)
            try persist([.delete(RecordReference(kind: .flavor, key: flavor.recordKey))]) { s in s.remove(flavor) }
        }
    }

    /// Adds the contract's default flavors whose id and name are both free. Run once, when the
    /// store is new.
    public func seedDefaultFlavors() throws(ComputeError) {
        try writer.withLock { _ throws(ComputeError) in
            let missing = state.withLock { s in
                Flavor.defaults(created: clock.now(), recordKey: identifiers.uuid).filter {
                    s.flavors[$0.id] == nil && s.flavorIDsByName[$0.name] == nil
                }
            }
            guard !missing.isEmpty else { return }
            try persist(missing.map { .put(.flavor($0)) }) { s in
                for flavor in missing { s.insert(flavor) }
            }
        }
    }

    static func flavorOrder(_ a: Flavor, _ b: Flavor) -> Bool {
        switch (Int(a.id), Int(b.id)) {
        case (let x?, let y?): x < y
        case (.some, nil): true
        case (nil, .some): false
        case (nil, nil): a.id < b.id
        }
    }

    // MARK: Persisting

    /// Makes `changes` durable, then applies them to memory. On failure memory is left alone,
    /// unless the change reached the disk anyway, in which case memory follows the disk.
    private func persist(_ changes: [RecordChange], apply: (inout State) -> Void) throws(ComputeError) {
        do {
            try persistence.commit(changes)
        } catch {
            let failure = error as? PersistenceFailure ?? PersistenceFailure(.ioError)
            if failure.changeIsOnDisk {
                state.withLock { s in apply(&s) }
            }
            throw .unavailable("The service cannot save changes right now: its \(failure.reason.rawValue). Try again later.")
        }
        state.withLock { s in apply(&s) }
    }
}

/// How far a listing has walked: below `bound` in the listing order.
struct ScanCursor: Sendable {
    var bound: ServerOrderKey? = nil
    var exhausted = false
}

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

/// The in-memory indexes, all derived from the records.
private struct State: Sendable {
    var servers: [String: ServerEntry] = [:]
    /// Listing order (ascending; listings walk it backwards, newest first), per index key.
    var indexes: [IndexKey: SortedKeys<ServerOrderKey>] = [:]
    var serverIDsByName: [NameKey: String] = [:]
    var pools: [String: AddressPool] = [:]
    var networkNames: [String]
    var flavors: [String: Flavor] = [:]
    var flavorIDsByName: [String: String] = [:]
    /// Per project: what its servers use, for quotas.
    var usage: [String: QuotaUsage] = [:]
    let renderer: ServerRenderer?
    /// How many entries hold a rendered view. Views are made on first read and kept up to
    /// `viewCacheLimit`; then they are all dropped and the ones in use come back. This keeps
    /// memory bounded at 100,000 servers while the pages people read stay rendered.
    var renderedViews = 0
    static let viewCacheLimit = 20_000

    init(networks: [NetworkConfig], renderer: ServerRenderer?) {
        self.renderer = renderer
        networkNames = networks.map(\.name)
        for network in networks { pools[network.name] = AddressPool(config: network) }
    }

    func entry(_ reference: Reference, caller: Caller) throws(ComputeError) -> ServerEntry {
        if let entry = servers[reference.text], caller.canReach(projectID: entry.server.projectID) { return entry }
        if case .idOrName(let name) = reference, let id = serverIDsByName[NameKey(projectID: caller.projectID, name: name)],
            let entry = servers[id]
        {
            return entry
        }
        switch reference {
        case .id(let id): throw .notFound("Instance \(id) could not be found.")
        case .idOrName(let text): throw .notFound("Server \(text) could not be found.")
        }
    }

    /// The entry with its view rendered (and kept, within the limit).
    /// A listing takes its page in chunks, so the entry may have been changed or deleted since:
    /// then its view is rendered for this reply only, never put back.
    mutating func withView(_ entry: ServerEntry) -> ServerEntry {
        guard entry.renderedView == nil, let renderer else { return entry }
        let rendered = ServerEntry(server: entry.server, view: renderer(entry.server))
        guard servers[entry.server.id] === entry else { return rendered }
        if renderedViews >= Self.viewCacheLimit {
            for (id, cached) in servers where cached.renderedView != nil { servers[id] = ServerEntry(server: cached.server) }
            renderedViews = 0
        }
        servers[entry.server.id] = rendered
        renderedViews += 1
        return rendered
    }

    func flavor(_ reference: Reference) -> Flavor? {
        if let flavor = flavors[reference.text] { return flavor }
        guard case .idOrName(let name) = reference else { return nil }
        return flavorIDsByName[name].flatMap { flavors[$0] }
    }

    /// Where a listing starts: after the marker's place in the order (a marker the caller's
    /// listing cannot contain is a 400).
    func cursor(_ filter: ServerFilter, marker: String?) throws(ComputeError) -> ScanCursor {
        guard let marker else { return ScanCursor() }
        guard let entry = servers[marker], filter.projectID == nil || entry.server.projectID == filter.projectID else {
            throw .invalidInput("Marker \(marker) could not be found.")
        }
        return ScanCursor(bound: entry.server.order)
    }

    /// The next entries that pass `filter` (all but its name pattern), at most `wanted` of
    /// them and at most `walking` index keys looked at; moves the cursor past what it walked.
    func scan(_ filter: ServerFilter, from cursor: inout ScanCursor, upTo wanted: Int, walking: Int) -> [ServerEntry] {
        if let name = filter.name, let projectID = filter.projectID {
            // A name is unique in a project: at most one server, found without a walk.
            cursor.exhausted = true
            guard let id = serverIDsByName[NameKey(projectID: projectID, name: name)], let entry = servers[id],
                filter.matches(entry.server), cursor.bound.map({ entry.server.order < $0 }) ?? true
            else { return [] }
            return [entry]
        }
        // The smallest index that holds every match; a missing index means no match.
        var smallest: SortedKeys<ServerOrderKey>? = nil
        for key in filter.indexKeys {
            guard let index = indexes[key] else {
                cursor.exhausted = true
                return []
            }
            if smallest == nil || index.count < smallest!.count { smallest = index }
        }
        guard let index = smallest else {
            cursor.exhausted = true
            return []
        }
        var found: [ServerEntry] = []
        found.reserveCapacity(min(wanted, walking))
        var walked = 0
        var keys = index.descending(below: cursor.bound)
        while found.count < wanted, walked < walking {
            guard let key = keys.next() else {
                cursor.exhausted = true
                return found
            }
            walked += 1
            cursor.bound = key
            if let entry = servers[key.id], filter.matches(entry.server) { found.append(entry) }
        }
        return found
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

    /// Indexes a server; returns what was wrong with it (only loaded records can be wrong).
    mutating func insert(_ server: Server) -> [String] {
        var warnings: [String] = []
        servers[server.id] = ServerEntry(server: server)
        usage[server.projectID, default: QuotaUsage()].add(server)
        for key in Self.indexKeys(of: server) { indexes[key, default: SortedKeys()].insert(server.order) }
        let key = NameKey(projectID: server.projectID, name: server.name)
        if serverIDsByName[key] == nil {
            serverIDsByName[key] = server.id
        } else {
            warnings.append(
                "server \(server.id): the name \(server.name) is already used by another server; reachable by id only")
        }
        if let address = server.address {
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
        if servers.removeValue(forKey: server.id)?.renderedView != nil { renderedViews -= 1 }
        usage[server.projectID]?.add(server, sign: -1)
        for key in Self.indexKeys(of: server) {
            indexes[key]?.remove(server.order)
            if indexes[key]?.isEmpty == true { indexes[key] = nil }
        }
        let key = NameKey(projectID: server.projectID, name: server.name)
        if serverIDsByName[key] == server.id { serverIDsByName[key] = nil }
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
