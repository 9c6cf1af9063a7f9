/// Who may call a route, under the name an operator knows the rule by: Nova's policy names
/// (`os_compute_api:servers:create`) for the OpenStack surface, `alliance:` ones for the v1
/// API. Every route declares one, and the router checks it before the handler runs; a handler
/// checks another only for what depends on the request (`all_tenants`, another project's
/// limits). The README prints the table (`PolicyTableTests` keeps it true).
public struct Policy: Sendable, Hashable {
    public let name: String
    public let rule: Rule

    public enum Rule: Sendable, Hashable {
        /// No token needed (version discovery).
        case anyone
        /// Status pages: only requests nginx passed through its restricted location; to anyone
        /// else the route does not exist (404).
        case statusPage
        /// Any valid token; what it reaches is its project's (other projects' servers are 404s).
        case token
        /// A token with the admin role.
        case admin
        /// A token of the project the route's `{parameter}` names, or an admin's.
        case projectOrAdmin(parameter: String)

        /// For the policy table.
        public var summary: String {
            switch self {
            case .anyone: "anyone"
            case .statusPage: "this host (nginx)"
            case .token: "any token"
            case .admin: "admin"
            case .projectOrAdmin(let parameter): "admin, or a token of {\(parameter)}"
            }
        }
    }

    public init(_ name: String, _ rule: Rule) {
        self.name = name
        self.rule = rule
    }

    /// Nova's words when a rule refuses (403).
    var refusal: String { "Policy doesn't allow \(name) to be performed." }
}

extension Policy {
    static let versions = Policy("compute:versions", .anyone)
    static let health = Policy("alliance:healthz", .statusPage)
    static let metrics = Policy("alliance:metrics", .statusPage)

    // The v1 API.
    static let v1ServersIndex = Policy("alliance:servers:index", .token)
    static let v1ServersAllProjects = Policy("alliance:servers:index:get_all_tenants", .admin)
    static let v1ServersCreate = Policy("alliance:servers:create", .token)
    static let v1ServersShow = Policy("alliance:servers:show", .token)
    static let v1ServersUpdate = Policy("alliance:servers:update", .token)
    static let v1ServersDelete = Policy("alliance:servers:delete", .token)
    static let v1FlavorsIndex = Policy("alliance:flavors:index", .token)
    static let v1FlavorsShow = Policy("alliance:flavors:show", .token)
    static let v1FlavorsCreate = Policy("alliance:flavors:create", .admin)
    static let v1FlavorsDelete = Policy("alliance:flavors:delete", .admin)

    // OpenStack Compute.
    static let serversIndex = Policy("os_compute_api:servers:index", .token)
    static let serversDetail = Policy("os_compute_api:servers:detail", .token)
    static let serversAllProjects = Policy("os_compute_api:servers:index:get_all_tenants", .admin)
    static let serversCreate = Policy("os_compute_api:servers:create", .token)
    static let serversShow = Policy("os_compute_api:servers:show", .token)
    static let serversUpdate = Policy("os_compute_api:servers:update", .token)
    static let serversDelete = Policy("os_compute_api:servers:delete", .token)
    static let serversActions = Policy("os_compute_api:servers:{stop,start,reboot}", .token)
    static let flavorsIndex = Policy("os_compute_api:flavors:index", .token)
    static let flavorsShow = Policy("os_compute_api:flavors:show", .token)
    static let flavorsCreate = Policy("os_compute_api:os-flavor-manage:create", .admin)
    static let flavorsUpdate = Policy("os_compute_api:os-flavor-manage:update", .admin)
    static let flavorsDelete = Policy("os_compute_api:os-flavor-manage:delete", .admin)
    static let extraSpecsIndex = Policy("os_compute_api:os-flavor-extra-specs:index", .token)
    static let extraSpecsShow = Policy("os_compute_api:os-flavor-extra-specs:show", .token)
    static let extraSpecsCreate = Policy("os_compute_api:os-flavor-extra-specs:create", .admin)
    static let extraSpecsUpdate = Policy("os_compute_api:os-flavor-extra-specs:update", .admin)
    static let extraSpecsDelete = Policy("os_compute_api:os-flavor-extra-specs:delete", .admin)
    static let flavorAccessList = Policy("os_compute_api:os-flavor-access", .admin)
    static let flavorAccessChange = Policy("os_compute_api:os-flavor-access:{add,remove}_tenant_access", .admin)
    static let quotaShow = Policy("os_compute_api:os-quota-sets:show", .projectOrAdmin(parameter: "project"))
    static let quotaDetail = Policy("os_compute_api:os-quota-sets:detail", .projectOrAdmin(parameter: "project"))
    static let quotaDefaults = Policy("os_compute_api:os-quota-sets:defaults", .projectOrAdmin(parameter: "project"))
    static let limits = Policy("os_compute_api:limits", .token)
    static let limitsOtherProject = Policy("os_compute_api:limits:other_project", .admin)
    static let images = Policy("os_compute_api:os-images", .token)
    static let networks = Policy("os_compute_api:os-networks:view", .token)
    static let networkQuotas = Policy("network:get_quota", .projectOrAdmin(parameter: "project"))
    static let projects = Policy("identity:get_project", .token)
}
