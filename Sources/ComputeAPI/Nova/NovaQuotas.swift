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
            let change = try n.decodeBody(QuotaSetUpdate.self)
            let limits = try inventory.setQuota(
                QuotaOverride(project: p["project"], instances: change.instances, cores: change.cores, ram: change.ram))
            let usage = try inventory.quota(projectID: p["project"]).usage
            return try quotaDocument(n, nil, limits, usage, form: .limits)
        }
        route(&router, .delete, "/os-quota-sets/{project}", .quotaDelete) { _, p in
            try inventory.resetQuota(projectID: p["project"])
            return .empty(.accepted)
        }
        route(&router, .get, "/limits", .limits) { n, _ in try limits(n) }
    }

    /// What Nova reports in every quota set beside the three resources enforced here, at its
    /// defaults, until the microversion that dropped each: metadata items, key pairs and server
    /// groups (and their members) are this service's real limits; there are no floating or
    /// fixed IPs, injected files or security groups to count. Server groups in use are counted
    /// (`serverGroupsInUse`); the rest show 0.
    static let reportedQuotas: [(name: String, value: Int, until: Microversion?)] = [
        ("metadata_items", Validation.maxMetadataPairs, nil), ("key_pairs", 100, nil), ("server_groups", 10, nil),
        ("server_group_members", 10, nil), ("floating_ips", 10, Microversion(36)), ("fixed_ips", -1, Microversion(36)),
        ("security_groups", 10, Microversion(36)), ("security_group_rules", 20, Microversion(36)),
        ("injected_files", 5, Microversion(57)), ("injected_file_content_bytes", 10_240, Microversion(57)),
        ("injected_file_path_bytes", 255, Microversion(57)),
    ]

    /// The same in `limits.absolute`, under its own names.
    static let reportedLimits: [(name: String, value: Int, until: Microversion?)] = [
        ("maxServerMeta", Validation.maxMetadataPairs, nil), ("maxTotalKeypairs", 100, nil), ("maxServerGroups", 10, nil),
        ("maxServerGroupMembers", 10, nil), ("maxTotalFloatingIps", 10, Microversion(36)),
        ("totalFloatingIpsUsed", 0, Microversion(36)), ("maxSecurityGroups", 10, Microversion(36)),
        ("maxSecurityGroupRules", 20, Microversion(36)), ("totalSecurityGroupsUsed", 0, Microversion(36)),
        ("maxImageMeta", 128, Microversion(39)), ("maxPersonality", 5, Microversion(57)),
        ("maxPersonalitySize", 10_240, Microversion(57)),
    ]

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
        if form == .defaults { limits = inventory.quotaDefaults }
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
            let reported = Self.reportedQuotas.filter { $0.until.map { n.version < $0 } ?? true }.map {
                ($0.name, $0.value, $0.name == "server_groups" ? groups : 0)
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
                w.int(limit.value)
            }
            w.endObject()
            w.endObject()
        }
    }

    func serverGroupsInUse(_ projectID: String) throws -> Int {
        try identity?.serverGroups(projectID: projectID).count ?? 0
    }
}
