/// Where servers and flavors live: the one contract every store implements (in-memory indexes
/// over JSON files, PostgreSQL). Operations are at the level of the domain, and a store
/// enforces, atomically, every rule that spans records: unique names per project, unique
/// addresses (lowest free first), quota against usage, all-or-nothing multi-creates, and a
/// change only over the version it was made from. The rules that need no other record
/// (validation, reference resolution, naming, quota arithmetic, state transitions, filters)
/// live in `Inventory` and `CreationPlan`, and run the same over every store.
///
/// Every error is a `ComputeError`: `.conflict` for a name or address in use, `.staleVersion`
/// for a change over an older version, `.forbidden` for a quota, `.unavailable` when the store
/// cannot save, with the constructors `ComputeError` offers, never a backend's own error.
/// `Tests/InventoryStoreTests` is the contract's test suite: a new store is correct when it
/// passes it.
public protocol InventoryStore: Sendable {
    /// The server with this id, in any project; nil when there is none.
    func server(id: String) throws(ComputeError) -> Server?
    /// The server of a project with this name; nil when there is none.
    func server(projectID: String, name: String) throws(ComputeError) -> Server?
    /// At most `limit` servers that pass `filter` (every condition but its name pattern),
    /// newest first, after `after` in the listing order. `resumeAfter` is where the next call
    /// continues, nil when nothing is left: a store may return fewer than `limit` with a
    /// cursor, to bound the time it holds a lock.
    func servers(matching filter: ServerFilter, after: ServerOrderKey?, limit: Int) throws(ComputeError) -> ServerPage
    /// Creates as many of the plan's servers as its quota and the network's free addresses
    /// allow, from `plan.minCount` to `plan.maxCount`, all or none: checks the project's usage
    /// with `plan.fittingCount`, gives each server the lowest free addresses, refuses names in
    /// use (`ComputeError.serverNameInUse`), and stores them durably in one step.
    func create(_ plan: CreationPlan) throws(ComputeError) -> [Server]
    /// Stores `server` over the stored version `version` (its own version must be one more);
    /// `.staleVersion` when the stored one is another, `.notFound` when it is gone,
    /// `.conflict` when its new name is in use.
    func replace(_ server: Server, expecting version: Int) throws(ComputeError)
    /// Deletes the server at version `version`, freeing its address and quota. With a
    /// `tombstone` (the server as deleted: `deleted` set, one version on), the store keeps it
    /// among the deleted servers in the same step, until `purgeDeletedServers` forgets it: a
    /// deletion is never acknowledged without its tombstone, nor a tombstone kept of a live server.
    func deleteServer(id: String, expecting version: Int, keeping tombstone: Server?) throws(ComputeError)

    /// A deleted server kept by `deleteServer(id:expecting:keeping:)`, nil when none is.
    func deletedServer(id: String) throws(ComputeError) -> Server?
    /// As `servers(matching:after:limit:)`, among the deleted servers kept (whose `updated` is
    /// when they were deleted, which `changedSince` and `changedBefore` compare).
    func deletedServers(matching filter: ServerFilter, after: ServerOrderKey?, limit: Int) throws(ComputeError) -> ServerPage
    /// Forgets at most `limit` deleted servers deleted before `cutoff`; returns how many.
    func purgeDeletedServers(deletedBefore cutoff: Timestamp, limit: Int) throws(ComputeError) -> Int

    /// Every flavor, in no particular order.
    func flavors() throws(ComputeError) -> [Flavor]
    func flavor(id: String) throws(ComputeError) -> Flavor?
    func flavor(name: String) throws(ComputeError) -> Flavor?
    /// Stores a new flavor; `.conflict` when its id or name is in use.
    func create(_ flavor: Flavor) throws(ComputeError)
    /// As `replace(_:expecting:)` for servers; a flavor's id and name never change.
    func replace(_ flavor: Flavor, expecting version: Int) throws(ComputeError)
    func deleteFlavor(id: String, expecting version: Int) throws(ComputeError)

    /// What a project's servers use now.
    func usage(projectID: String) throws(ComputeError) -> QuotaUsage
    /// Numbers for `/healthz`.
    func counts() throws(ComputeError) -> InventoryCounts
    /// Whether writes work, for `/healthz`.
    var health: StoreHealth { get }
}

/// A page of a listing, and where the listing goes on.
public struct ServerPage: Sendable, Equatable {
    public var servers: [Server]
    /// Nil when the listing is exhausted.
    public var resumeAfter: ServerOrderKey?

    public init(servers: [Server], resumeAfter: ServerOrderKey?) {
        self.servers = servers
        self.resumeAfter = resumeAfter
    }
}

/// How a store is doing, for `/healthz`.
public struct StoreHealth: Sendable, Equatable {
    /// Why writes fail right now (`"storage is full"`, `"database is unreachable"`), nil when
    /// they work.
    public var problem: String?
    /// Store-specific numbers shown beside it (`damaged_files` for the JSON-file store).
    public var counters: [String: Int]

    public var writable: Bool { problem == nil }

    public init(problem: String?, counters: [String: Int] = [:]) {
        self.problem = problem
        self.counters = counters
    }
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

        public init(name: String, cidr: String, used: Int, free: Int) {
            self.name = name
            self.cidr = cidr
            self.used = used
            self.free = free
        }
    }

    public init(servers: Int, flavors: Int, networks: [NetworkUsage]) {
        self.servers = servers
        self.flavors = flavors
        self.networks = networks
    }
}
