import CoreMetrics

/// The business rules over any `InventoryStore`: reference resolution (an id of a server the
/// caller may reach, else a name in its project), create plans (flavor, image and network
/// resolved, `NAME-1…N`, quota limits), state transitions, flavor visibility, the name pattern
/// of listings, and retrying a change that lost a race on a record's version.
///
/// It keeps no state of its own but configuration (catalogs, default quota limits), so any
/// number of them, in any number of processes, may share one store.
public final class Inventory: Sendable {
    /// The configuration an operator may change while the worker runs (`serve` re-reads it on
    /// SIGHUP): requests made after `reconfigure` see the new values.
    public struct Settings: Sendable, Equatable {
        /// The images servers may be created from (configuration, not records).
        public var images: [Image]
        /// The limits of a project without an override of its own.
        public var quotaDefaults: QuotaLimits
        /// How long a deleted server stays listed (as `DELETED`, to `changes-since` and to
        /// admins asking for `deleted=true`) before it is forgotten; 0: not kept.
        public var keepDeletedServersSeconds: Int

        public init(images: [Image] = Image.defaults, quotaDefaults: QuotaLimits = .unlimited, keepDeletedServersSeconds: Int = 0)
        {
            self.images = images
            self.quotaDefaults = quotaDefaults
            self.keepDeletedServersSeconds = keepDeletedServersSeconds
        }
    }

    public let store: any InventoryStore
    /// The networks servers get addresses on, the default first (fixed for the worker's life:
    /// addresses are records on them).
    public let networks: [NetworkConfig]
    private let settings: Locked<Settings>
    let quotas: any QuotaSource
    let clock: any Clock
    private let identifiers: any IdentifierSource

    /// How often a change that lost a race on a record's version is made again on the new
    /// version before the client gets the 409.
    static let attempts = 5
    /// How many servers a listing asks the store for at a time when it matches names itself.
    static let scanChunk = 1024

    public init(
        store: any InventoryStore, networks: [NetworkConfig], settings: Settings = Settings(),
        quotas: any QuotaSource = MemoryQuotaOverrides(), clock: any Clock = SystemClock(),
        identifiers: any IdentifierSource = RandomIdentifiers()
    ) {
        self.store = store
        self.networks = networks
        self.settings = Locked(settings)
        self.quotas = quotas
        self.clock = clock
        self.identifiers = identifiers
    }

    /// The settings requests see now.
    public var currentSettings: Settings { settings.withLock { $0 } }

    /// The images servers may be created from.
    public var images: [Image] { settings.withLock { $0.images } }

    /// The configured limits (the `default` quota class goes over them: `defaultLimits()`).
    public var quotaDefaults: QuotaLimits { settings.withLock { $0.quotaDefaults } }

    /// Replaces the settings; requests already past their use of them finish with the old ones.
    public func reconfigure(_ settings: Settings) {
        self.settings.withLock { $0 = settings }
    }

    // MARK: Servers, reading

    /// The server `reference` names, if the caller may reach it: an id of a server in the
    /// caller's project (any project for an admin), else a name in the caller's project.
    /// Anything else is a 404, so ids of other projects' servers do not leak.
    public func server(_ reference: Reference, caller: Caller) throws(ComputeError) -> Server {
        if let server = try store.server(id: reference.text), caller.canReach(projectID: server.projectID) {
            return server
        }
        if case .idOrName(let name) = reference, let server = try store.server(projectID: caller.projectID, name: name) {
            return server
        }
        switch reference {
        case .id(let id): throw .notFound("Instance \(id) could not be found.")
        case .idOrName(let text): throw .notFound("Server \(text) could not be found.")
        }
    }

    /// Whether a server with this id exists, in any project.
    public func serverExists(id: String) throws(ComputeError) -> Bool { try store.server(id: id) != nil }

    public var storeHealth: StoreHealth { store.health }

    public func counts() throws(ComputeError) -> InventoryCounts { try store.counts() }

    // MARK: Servers, changing

    /// Creates between `minCount` and `maxCount` servers (as many as the quota and addresses
    /// allow), all or none. More than one get names `NAME-1` … `NAME-N`.
    public func createServers(_ draft: ServerDraft, caller: Caller) throws(ComputeError) -> [Server] {
        guard let flavor = try flavor(resolving: draft.flavorReference), flavor.isVisible(to: caller) else {
            throw .invalidInput(
                "Flavor \(draft.flavorReference.text) could not be found."
                    + draft.flavorReference.choices(try flavors(visibleTo: caller), of: "flavor", id: \.id, name: \.name))
        }
        let image = try resolveImage(draft.image)
        let network: String?
        switch draft.network {
        case .none: network = nil
        case .automatic: network = networks.first?.name
        case .reference(let reference):
            guard let found = reference.resolve(in: networks, id: \.id, name: \.name) else {
                throw .invalidInput(
                    "Network \(reference.text) could not be found."
                        + reference.choices(networks, of: "network", id: \.id, name: \.name))
            }
            network = found.name
        }
        let limits = try limits(projectID: caller.projectID)
        try checkMetadataQuota(draft.metadata, projectID: caller.projectID)
        let now = clock.now()
        let plan = CreationPlan(
            projectID: caller.projectID, userID: caller.userID, name: draft.name, flavor: flavor.snapshot, image: image,
            description: draft.description, keyName: draft.keyName, network: network, access: draft.access,
            metadata: draft.metadata, tags: draft.tags, securityGroups: draft.securityGroups,
            firstAction: InstanceAction(
                action: "create", requestID: requestID(of: caller), userID: caller.userID, projectID: caller.projectID,
                started: now),
            minCount: draft.minCount, maxCount: draft.maxCount, limits: limits,
            callerIsAdmin: caller.isAdmin, ids: (0..<draft.maxCount).map { _ in identifiers.uuid() },
            reservationID: identifiers.reservationID(), created: now)
        return try committing("create_servers") { () throws(ComputeError) in try store.create(plan) }
    }

    /// Renames a server, replaces its metadata, sets its description or what Nova's clients keep
    /// on it (access addresses, disk configuration).
    public func updateServer(_ reference: Reference, caller: Caller, with update: ServerUpdate) throws(ComputeError) -> Server {
        try changeServer(reference, caller: caller) { server throws(ComputeError) in
            update.apply(to: &server)
            if let metadata = update.metadata { try checkMetadataQuota(metadata, projectID: server.projectID) }
        }
    }

    /// Rebuilds a server from an image in the catalog (Nova's table: from ACTIVE, SHUTOFF or
    /// ERROR; a stopped server stays stopped, one in ERROR is ACTIVE again), with the rebuild's
    /// other changes. There is no disk to write: the server records its new image.
    public func rebuildServer(_ reference: Reference, caller: Caller, with rebuild: ServerRebuild) throws(ComputeError) -> Server
    {
        let image = try resolveImage(rebuild.image)
        return try changeServer(reference, caller: caller) { server throws(ComputeError) in
            guard [.active, .shutoff, .error].contains(server.status) else {
                throw .conflict("Cannot 'rebuild' instance \(server.id) while it is in vm_state \(server.status.vmState)")
            }
            rebuild.update.apply(to: &server)
            if let keyName = rebuild.keyName { server.keyName = keyName }
            if let metadata = rebuild.update.metadata { try checkMetadataQuota(metadata, projectID: server.projectID) }
            server.record("rebuild", by: caller, at: clock.now(), requestID: requestID(of: caller))
            server.image = image.name
            server.imageID = image.id
            if server.status == .error { server.status = .active }
        }
    }

    /// An image of the catalog, or the client's 400 listing the choices.
    private func resolveImage(_ reference: Reference) throws(ComputeError) -> Image {
        let images = self.images
        guard let image = reference.resolve(in: images, id: \.id, name: \.name) else {
            throw .invalidInput(
                "Image \(reference.text) could not be found." + reference.choices(images, of: "image", id: \.id, name: \.name))
        }
        return image
    }

    /// Changes a server's metadata in one read-modify-write (Nova's metadata API: merge, replace,
    /// set or delete one key); `change` sees the metadata as stored now, and runs again if the
    /// server changed meanwhile, so concurrent changes of different keys are all kept. Growing
    /// past the project's `metadata_items` is Nova's 403 (a server over a lowered quota can
    /// still shed pairs).
    public func changeMetadata(
        of reference: Reference, caller: Caller, _ change: (inout [String: String]) throws(ComputeError) -> Void
    ) throws(ComputeError) -> Server {
        try changeServer(reference, caller: caller) { server throws(ComputeError) in
            let before = server.metadata.count
            try change(&server.metadata)
            if server.metadata.count > before { try checkMetadataQuota(server.metadata, projectID: server.projectID) }
            try Validation.metadata(server.metadata, field: "metadata")
        }
    }

    /// Changes a server's tags in one read-modify-write (Nova's tags API: replace, add, remove
    /// one or all); `change` sees the tags as stored now and runs again if the server changed
    /// meanwhile. More than `ServerTags.maxCount` is a 400.
    public func changeTags(
        of reference: Reference, caller: Caller, _ change: (inout Set<String>) throws(ComputeError) -> Void
    ) throws(ComputeError) -> Server {
        try changeServer(reference, caller: caller) { server throws(ComputeError) in
            var tags = Set(server.tags)
            try change(&tags)
            try ServerTags.checkCount(tags.count)
            server.tags = tags.sorted()
        }
    }

    /// Stops, starts or reboots a server; 409 when its status does not allow the action.
    public func perform(_ action: ServerAction, on reference: Reference, caller: Caller) throws(ComputeError) -> Server {
        try changeServer(reference, caller: caller) { server throws(ComputeError) in
            guard let status = action.outcome(from: server.status) else {
                throw .conflict(
                    "Cannot '\(action.name)' instance \(server.id) while it is in vm_state \(server.status.vmState)")
            }
            server.status = status
            server.record(action.name, by: caller, at: clock.now(), requestID: requestID(of: caller))
        }
    }

    /// The request id an instance action names: the caller's, or a new one outside a request.
    private func requestID(of caller: Caller) -> String { caller.requestID ?? "req-\(identifiers.uuid())" }

    /// Reads the server, applies `change` and stores the result over the version read; made
    /// again on the new version when another change came first.
    func changeServer(
        _ reference: Reference, caller: Caller, _ change: (inout Server) throws(ComputeError) -> Void
    ) throws(ComputeError) -> Server {
        try retryingStaleVersions { () throws(ComputeError) -> Server in
            let old = try server(reference, caller: caller)
            var new = old
            try change(&new)
            new.updated = clock.now()
            new.version = old.version + 1
            try committing("replace_server") { () throws(ComputeError) in try store.replace(new, expecting: old.version) }
            return new
        }
    }

    /// Deletes a server and frees its address; what is kept of it for a while (`Settings.keepDeletedServersSeconds`)
    /// records the deletion as an instance action.
    @discardableResult
    public func deleteServer(_ reference: Reference, caller: Caller) throws(ComputeError) -> Server {
        try retryingStaleVersions { () throws(ComputeError) -> Server in
            let server = try server(reference, caller: caller)
            var tombstone: Server? = nil
            if keepDeletedServersSeconds > 0 {
                let now = clock.now()
                var kept = server
                kept.record("delete", by: caller, at: now, requestID: requestID(of: caller))
                kept.updated = now
                kept.deleted = now
                kept.version = server.version + 1
                tombstone = kept
            }
            try committing("delete_server") { () throws(ComputeError) in
                try store.deleteServer(id: server.id, expecting: server.version, keeping: tombstone)
            }
            return server
        }
    }

    private func retryingStaleVersions<T>(_ body: () throws(ComputeError) -> T) throws(ComputeError) -> T {
        var attempt = 1
        while true {
            do {
                return try body()
            } catch .staleVersion where attempt < Self.attempts {
                attempt += 1
            }
        }
    }

    // MARK: Flavors

    /// All flavors, ordered by id (numeric ids numerically, first).
    public func flavors() throws(ComputeError) -> [Flavor] {
        try store.flavors().sorted(by: Self.flavorOrder)
    }

    /// The flavors `caller` may see and use: public ones, and non-public ones its project was
    /// given access to (every one for an admin).
    public func flavors(visibleTo caller: Caller) throws(ComputeError) -> [Flavor] {
        try flavors().filter { $0.isVisible(to: caller) }
    }

    /// The flavor `reference` names, whoever asks (admins' changes, internal use).
    public func flavor(_ reference: Reference) throws(ComputeError) -> Flavor {
        guard let flavor = try flavor(resolving: reference) else {
            throw .notFound("Flavor \(reference.text) could not be found.")
        }
        return flavor
    }

    /// The flavor `reference` names, if `caller` may see it; else the same 404 as for none.
    public func flavor(_ reference: Reference, visibleTo caller: Caller) throws(ComputeError) -> Flavor {
        let flavor = try flavor(reference)
        guard flavor.isVisible(to: caller) else { throw .notFound("Flavor \(reference.text) could not be found.") }
        return flavor
    }

    /// By id first, then (if the reference allows) by name.
    private func flavor(resolving reference: Reference) throws(ComputeError) -> Flavor? {
        if let flavor = try store.flavor(id: reference.text) { return flavor }
        guard case .idOrName(let name) = reference else { return nil }
        return try store.flavor(name: name)
    }

    /// Changes a flavor's description, extra specs or access (its size never changes: servers
    /// keep the snapshot they were created with).
    public func updateFlavor(_ reference: Reference, _ change: (inout Flavor) throws(ComputeError) -> Void)
        throws(ComputeError) -> Flavor
    {
        try retryingStaleVersions { () throws(ComputeError) -> Flavor in
            let old = try flavor(reference)
            var new = old
            try change(&new)
            precondition(new.id == old.id && new.name == old.name, "a flavor update must not change its id or name")
            guard new.extraSpecs.count <= Validation.maxExtraSpecs else {
                throw .invalidInput("A flavor has at most \(Validation.maxExtraSpecs) extra specs.")
            }
            new.version = old.version + 1
            try committing("replace_flavor") { () throws(ComputeError) in try store.replace(new, expecting: old.version) }
            return new
        }
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

    public func createFlavor(_ draft: FlavorDraft) throws(ComputeError) -> Flavor {
        let flavor = Flavor(
            id: draft.id ?? identifiers.uuid(), name: draft.name, vcpus: draft.vcpus, ram: draft.ram, disk: draft.disk,
            swap: draft.swap, ephemeral: draft.ephemeral, isPublic: draft.isPublic, description: draft.description,
            created: clock.now())
        try committing("create_flavor") { () throws(ComputeError) in try store.create(flavor) }
        return flavor
    }

    public func deleteFlavor(_ reference: Reference) throws(ComputeError) {
        try retryingStaleVersions { () throws(ComputeError) in
            let flavor = try flavor(reference)
            try committing("delete_flavor") { () throws(ComputeError) in
                try store.deleteFlavor(id: flavor.id, expecting: flavor.version)
            }
        }
    }

    /// Adds the contract's default flavors whose id and name are both free. Run once, when the
    /// store is new.
    public func seedDefaultFlavors() throws(ComputeError) {
        for flavor in Flavor.defaults(created: clock.now()) {
            guard try store.flavor(id: flavor.id) == nil, try store.flavor(name: flavor.name) == nil else { continue }
            do {
                try committing("create_flavor") { () throws(ComputeError) in try store.create(flavor) }
            } catch .conflict {
                // Another process seeded it first.
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
}

extension Inventory {
    /// Runs one write of the store, timed as `alliance_store_commit_duration_seconds{operation}`;
    /// one the store could not make (it was unavailable: a full disk, a database down) counts in
    /// `alliance_store_commit_failures_total{operation}`. A refusal by the rules (a name in use,
    /// a stale version) is an answer, not a failure. No-ops until a metrics backend is set up.
    func committing<T>(_ operation: String, _ write: () throws(ComputeError) -> T) throws(ComputeError) -> T {
        let started = ContinuousClock.now
        defer {
            let elapsed = ContinuousClock.now - started
            Timer(label: "alliance_store_commit_duration_seconds", dimensions: [("operation", operation)])
                .recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        }
        do {
            return try write()
        } catch {
            if case .unavailable = error {
                Counter(label: "alliance_store_commit_failures_total", dimensions: [("operation", operation)]).increment()
            }
            throw error
        }
    }
}
