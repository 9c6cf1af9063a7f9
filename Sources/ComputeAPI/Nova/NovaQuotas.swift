import ComputeCore
import HTTPTypes

/// Quotas and limits: Nova's, and the Neutron quotas `openstack quota show` asks for too.
extension NovaAPI {
    func registerQuotas(into router: inout Router<RequestContext>) {
        route(&router, .get, "/os-quota-sets/{project}", .quotaShow) { n, p in try quotaSet(n, p["project"], form: .limits) }
        route(&router, .get, "/os-quota-sets/{project}/detail", .quotaDetail) { n, p in
            try quotaSet(n, p["project"], form: .detail)
        }
        route(&router, .get, "/os-quota-sets/{project}/defaults", .quotaDefaults) { n, p in
            try quotaSet(n, p["project"], form: .defaults)
        }
        route(&router, .get, "/limits", .limits) { n, _ in try limits(n) }
        // Neutron's quotas: projects here create no networks, ports, routers or security
        // groups, so every limit is 0.
        route(&router, .get, "/v2.0/quotas/{project}", .networkQuotas) { _, _ in
            Self.document("quota") { w in
                w.beginObject()
                for resource: StaticString in [
                    "network", "subnet", "port", "router", "floatingip", "security_group", "security_group_rule",
                ] {
                    w.field(resource, 0)
                }
                w.endObject()
            }
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
        if form == .defaults { limits = inventory.quotaDefaults }
        return Self.document("quota_set", capacity: 256) { w in
            w.beginObject()
            w.field("id", projectID)
            for (name, limit, used) in [
                ("instances", limits.instances, usage.instances), ("cores", limits.cores, usage.cores),
                ("ram", limits.ram, usage.ram), ("metadata_items", Validation.maxMetadataPairs, 0),
            ] {
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
        return Self.document("limits", capacity: 256) { w in
            w.beginObject()
            w.key("rate")
            w.beginArray()
            w.endArray()
            w.key("absolute")
            w.beginObject()
            w.field("maxTotalInstances", limits.instances)
            w.field("maxTotalCores", limits.cores)
            w.field("maxTotalRAMSize", limits.ram)
            w.field("maxServerMeta", Validation.maxMetadataPairs)
            w.field("totalInstancesUsed", usage.instances)
            w.field("totalCoresUsed", usage.cores)
            w.field("totalRAMUsed", usage.ram)
            w.endObject()
            w.endObject()
        }
    }

}
