import ComputeCore
import HTTPTypes

/// Nova's quotas and limits (Neutron's are at the network endpoint: ServiceEndpoints).
extension NovaAPI {
    func registerQuotas(into router: inout Router<RequestContext>) {
        route(&router, .get, "/os-quota-sets/{project}", .quotaShow) { n, p in try quotaSet(n, p["project"], form: .limits) }
        route(&router, .get, "/os-quota-sets/{project}/detail", .quotaDetail) { n, p in
            try quotaSet(n, p["project"], form: .detail)
        }
        route(&router, .get, "/os-quota-sets/{project}/defaults", .quotaDefaults) { n, p in
            try quotaSet(n, p["project"], form: .defaults)
        }
        route(&router, .put, "/os-quota-sets/{project}", .quotaUpdate) { n, p in
            var change = try n.decodeBody(QuotaSetUpdate.self).change
            change.project = p["project"]
            let limits = try inventory.setQuota(change)
            let usage = try inventory.quota(projectID: p["project"]).usage
            return try quotaDocument(n, nil, limits, usage, form: .limits)
        }
        route(&router, .delete, "/os-quota-sets/{project}", .quotaDelete) { _, p in
            try inventory.resetQuota(projectID: p["project"])
            return .empty(.accepted)
        }
        // Quota classes: only `default` is kept (what every project without limits of its own
        // gets); another class shows the same, as Nova's does, and cannot be changed.
        route(&router, .get, "/os-quota-class-sets/{class}", .quotaClassShow) { n, p in
            try quotaClassDocument(n, p["class"], try inventory.defaultLimits())
        }
        route(&router, .put, "/os-quota-class-sets/{class}", .quotaClassUpdate) { n, p in
            guard p["class"] == "default" else {
                throw ComputeError.invalidInput("Only the quota class 'default' is kept by this service.")
            }
            let change = try n.decodeBody(QuotaClassSetUpdate.self).change
            return try quotaClassDocument(n, nil, try inventory.setDefaultLimits(change))
        }
        route(&router, .get, "/limits", .limits) { n, _ in try limits(n) }
    }

    /// Nova's other quota resources, each until the microversion that dropped it: metadata
    /// items, key pairs and server groups (and their members) are enforced here; there are no
    /// floating or fixed IPs, injected files or Nova security groups to count, so their limits
    /// are kept and shown only. Server groups in use are counted (`serverGroupsInUse`); the
    /// rest show 0.
    static let reportedQuotas: [(resource: QuotaResource, until: Microversion?)] = [
        (.metadataItems, nil), (.keyPairs, nil), (.serverGroups, nil), (.serverGroupMembers, nil),
        (.floatingIPs, Microversion(36)), (.fixedIPs, Microversion(36)), (.securityGroups, Microversion(36)),
        (.securityGroupRules, Microversion(36)), (.injectedFiles, Microversion(57)),
        (.injectedFileContentBytes, Microversion(57)), (.injectedFilePathBytes, Microversion(57)),
    ]

    /// The resources a quota set shows and takes at `version`.
    static func quotaResources(at version: Microversion) -> [QuotaResource] {
        reportedQuotas.filter { $0.until.map { version < $0 } ?? true }.map(\.resource)
    }

    /// The resources a quota class set takes at `version`: Nova's class API kept the network
    /// ones until 2.50 (not 2.36) and dropped the injected files at 2.57; it shows server groups
    /// and their members only from 2.50.
    static func quotaClassResources(at version: Microversion) -> [QuotaResource] {
        let network: Set<QuotaResource> = [.floatingIPs, .fixedIPs, .securityGroups, .securityGroupRules]
        return reportedQuotas.map(\.resource).filter { resource in
            if network.contains(resource) { return version < Microversion(50) }
            return resource.rawValue.hasPrefix("injected_file") ? version < Microversion(57) : true
        }
    }

    /// The same in `limits.absolute`, under its own names (and usage that is always 0 here).
    static let reportedLimits: [(name: String, resource: QuotaResource?, until: Microversion?)] = [
        ("maxServerMeta", .metadataItems, nil), ("maxTotalKeypairs", .keyPairs, nil), ("maxServerGroups", .serverGroups, nil),
        ("maxServerGroupMembers", .serverGroupMembers, nil), ("maxTotalFloatingIps", .floatingIPs, Microversion(36)),
        ("totalFloatingIpsUsed", nil, Microversion(36)), ("maxSecurityGroups", .securityGroups, Microversion(36)),
        ("maxSecurityGroupRules", .securityGroupRules, Microversion(36)), ("totalSecurityGroupsUsed", nil, Microversion(36)),
        ("maxImageMeta", .metadataItems, Microversion(39)), ("maxPersonality", .injectedFiles, Microversion(57)),
        ("maxPersonalitySize", .injectedFileContentBytes, Microversion(57)),
    ]

    /// `{"quota_class_set": …}`: the class's limits at the request's microversion, with `id`
    /// unless it answers a change; server groups and their members show from 2.50, as in Nova.
    func quotaClassDocument(_ n: NovaContext, _ name: String?, _ limits: QuotaLimits) throws -> APIResponse {
        APIResponse.document("quota_class_set", capacity: 512) { w in
            w.beginObject()
            if let name { w.field("id", name) }
            w.field("instances", limits.instances)
            w.field("cores", limits.cores)
            w.field("ram", limits.ram)
            for resource in Self.quotaClassResources(at: n.version)
            where n.version >= Microversion(50) || (resource != .serverGroups && resource != .serverGroupMembers) {
                w.key(resource.rawValue)
                w.int(limits.limit(resource))
            }
            w.endObject()
        }
    }

    enum QuotaForm {
        /// The project's limits.
        case limits
        /// Limit, use and reserved (0) per resource.
        case detail
        /// The limits a project without an override gets.
        case defaults
    }

    /// `GET /os-quota-sets/{project}[/detail|/defaults]` (the route's policy: a member reads
    /// its own project's).
    func quotaSet(_ n: NovaContext, _ projectID: String, form: QuotaForm) throws -> APIResponse {
        var (limits, usage) = try inventory.quota(projectID: projectID)
        if form == .defaults { limits = try inventory.defaultLimits() }
        return try quotaDocument(n, projectID, limits, usage, form: form)
    }

    /// `{"quota_set": …}` at the request's microversion; with `id` unless it answers a change.
    func quotaDocument(
        _ n: NovaContext, _ projectID: String?, _ limits: QuotaLimits, _ usage: QuotaUsage, form: QuotaForm
    ) throws -> APIResponse {
        let groups = try form == .detail ? serverGroupsInUse(projectID ?? n.caller.projectID) : 0
        return APIResponse.document("quota_set", capacity: 512) { w in
            w.beginObject()
            if let projectID { w.field("id", projectID) }
            let enforced = [
                ("instances", limits.instances, usage.instances), ("cores", limits.cores, usage.cores),
                ("ram", limits.ram, usage.ram),
            ]
            let reported = Self.quotaResources(at: n.version).map {
                ($0.rawValue, limits.limit($0), $0 == .serverGroups ? groups : 0)
            }
            for (name, limit, used) in enforced + reported {
                w.key(name)
                switch form {
                case .limits, .defaults: w.int(limit)
                case .detail:
                    w.beginObject()
                    w.field("limit", limit)
                    w.field("in_use", used)
                    w.field("reserved", 0)
                    w.endObject()
                }
            }
            w.endObject()
        }
    }

    /// `GET /limits`: the caller's project (an admin may ask for another with `?tenant_id=`).
    func limits(_ n: NovaContext) throws -> APIResponse {
        let projectID = try n.query().value("tenant_id") ?? n.caller.projectID
        if projectID != n.caller.projectID { try n.context.authorize(.limitsOtherProject) }
        let (limits, usage) = try inventory.quota(projectID: projectID)
        let groups = try serverGroupsInUse(projectID)
        return APIResponse.document("limits", capacity: 256) { w in
            w.beginObject()
            w.key("rate")
            w.beginArray()
            w.endArray()
            w.key("absolute")
            w.beginObject()
            w.field("maxTotalInstances", limits.instances)
            w.field("maxTotalCores", limits.cores)
            w.field("maxTotalRAMSize", limits.ram)
            w.field("totalInstancesUsed", usage.instances)
            w.field("totalCoresUsed", usage.cores)
            w.field("totalRAMUsed", usage.ram)
            w.field("totalServerGroupsUsed", groups)
            for limit in Self.reportedLimits where limit.until.map({ n.version < $0 }) ?? true {
                w.key(limit.name)
                w.int(limit.resource.map(limits.limit) ?? 0)
            }
            w.endObject()
            w.endObject()
        }
    }

    func serverGroupsInUse(_ projectID: String) throws -> Int {
        try identity?.serverGroups(projectID: projectID).count ?? 0
    }
}
