/// One create request, resolved against the catalogs and ready for a store: everything but
/// what only the store knows at the moment it commits (how much of the project's quota is
/// used, which addresses are free, which names are taken). The store calls `fittingCount`
/// and `servers(count:addresses:)` inside its atomic step, so Nova's rules and words are the
/// same over every store.
public struct CreationPlan: Sendable {
    public var projectID: String
    public var userID: String
    public var name: String
    public var flavor: FlavorSnapshot
    public var image: Image
    public var description: String?
    public var keyName: String?
    /// The network to take addresses from, nil for none.
    public var network: String?
    public var access: ServerAccess
    public var metadata: [String: String]
    public var tags: [String]
    public var securityGroups: [String]?
    /// The instance action each server starts with (`create`).
    public var firstAction: InstanceAction?
    public var minCount: Int
    public var maxCount: Int
    /// The project's limits when the request came in (configuration, not records).
    public var limits: QuotaLimits
    /// Whether the caller may be told how many addresses are free.
    public var callerIsAdmin: Bool
    /// One per server that may be made (`maxCount`).
    public var ids: [String]
    public var reservationID: String
    public var created: Timestamp

    public init(
        projectID: String, userID: String, name: String, flavor: FlavorSnapshot, image: Image, description: String?,
        keyName: String?, network: String?, access: ServerAccess = .unset, metadata: [String: String],
        tags: [String] = [], securityGroups: [String]? = nil, firstAction: InstanceAction? = nil, minCount: Int,
        maxCount: Int,
        limits: QuotaLimits, callerIsAdmin: Bool, ids: [String], reservationID: String, created: Timestamp
    ) {
        precondition(ids.count == maxCount && 1 <= minCount && minCount <= maxCount, "a plan has an id per server")
        self.projectID = projectID
        self.userID = userID
        self.name = name
        self.flavor = flavor
        self.image = image
        self.description = description
        self.keyName = keyName
        self.access = access
        self.tags = tags
        self.securityGroups = securityGroups
        self.firstAction = firstAction
        self.network = network
        self.metadata = metadata
        self.minCount = minCount
        self.maxCount = maxCount
        self.limits = limits
        self.callerIsAdmin = callerIsAdmin
        self.ids = ids
        self.reservationID = reservationID
        self.created = created
    }

    /// How many of the servers the project's quota allows given what it uses now (at most
    /// `maxCount`); a 403 naming the first exceeded resource when not even `minCount` fit, in
    /// Nova's words, then how an operator raises the limit.
    public func fittingCount(usage used: QuotaUsage) throws(ComputeError) -> Int {
        var count = maxCount
        for (resource, limit, inUse, each) in [
            ("instances", limits.instances, used.instances, 1), ("cores", limits.cores, used.cores, flavor.vcpus),
            ("ram", limits.ram, used.ram, flavor.ram),
        ] where limit >= 0 {
            let fits = each == 0 ? Int.max : max(0, limit - inUse) / each
            if fits < minCount {
                throw .forbidden(
                    "Quota exceeded for \(resource): Requested \(minCount * each), but already used \(inUse) of \(limit) \(resource). "
                        + "The operator raises it with `alliance-compute quota set --project \(projectID) --\(resource) \(inUse + minCount * each)` "
                        + "(-1: unlimited)."
                )
            }
            count = min(count, fits)
        }
        return count
    }

    /// The names of `count` servers: the name itself for one, `NAME-1` … `NAME-N` for more.
    public func names(count: Int) throws(ComputeError) -> [String] {
        let names = count == 1 ? [name] : (1...count).map { "\(name)-\($0)" }
        for name in names { try Validation.serverName(name, field: "server.name") }
        return names
    }

    /// The network has fewer free addresses than `minCount` (Nova's 409).
    public func networkFull(free: Int) -> ComputeError {
        .networkFull(network ?? "-", free: free, needed: minCount, callerIsAdmin: callerIsAdmin)
    }

    /// The first `count` servers of the plan, with `addresses[i]` for the i-th (none when the
    /// plan has no network).
    public func servers(count: Int, addresses: [IPv4Address?]) throws(ComputeError) -> [Server] {
        precondition(count <= maxCount && addresses.count == count, "an address for each server")
        return try names(count: count).enumerated().map { index, name in
            Server(
                id: ids[index], name: name, projectID: projectID, userID: userID, flavor: flavor, image: image.name,
                imageID: image.id, description: description, keyName: keyName, network: network,
                address: addresses[index], access: access, metadata: metadata, tags: tags, securityGroups: securityGroups,
                actions: firstAction.map { [$0] } ?? [], reservationID: reservationID,
                launchIndex: index,
                created: created, updated: created)
        }
    }
}
