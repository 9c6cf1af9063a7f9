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
        /// Any valid token, a reader's too; what it reaches is its project's (other projects'
        /// servers are 404s).
        case token
        /// A token with the member or admin role: changes within its project (a reader's is a 403).
        case member
        /// A token with the admin role.
        case admin
        /// A token of the project the route's `{parameter}` names, or an admin's.
        case projectOrAdmin(parameter: String)
        /// A token of the user the route's `{parameter}` names, or an admin's.
        case userOrAdmin(parameter: String)

        /// For the policy table.
        public var summary: String {
            switch self {
            case .anyone: "anyone"
            case .statusPage: "this host (nginx)"
            case .token: "any token"
            case .member: "member or admin"
            case .admin: "admin"
            case .projectOrAdmin(let parameter): "admin, or a token of {\(parameter)}"
            case .userOrAdmin(let parameter): "admin, or the user {\(parameter)}"
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
    static let v1ServersCreate = Policy("alliance:servers:create", .member)
    static let v1ServersShow = Policy("alliance:servers:show", .token)
    static let v1ServersUpdate = Policy("alliance:servers:update", .member)
    static let v1ServersDelete = Policy("alliance:servers:delete", .member)
    static let v1FlavorsIndex = Policy("alliance:flavors:index", .token)
    static let v1FlavorsShow = Policy("alliance:flavors:show", .token)
    static let v1FlavorsCreate = Policy("alliance:flavors:create", .admin)
    static let v1FlavorsDelete = Policy("alliance:flavors:delete", .admin)

    // OpenStack Compute.
    static let serversIndex = Policy("os_compute_api:servers:index", .token)
    static let serversDetail = Policy("os_compute_api:servers:detail", .token)
    static let serversAllProjects = Policy("os_compute_api:servers:index:get_all_tenants", .admin)
    static let serversCreate = Policy("os_compute_api:servers:create", .member)
    static let serversShow = Policy("os_compute_api:servers:show", .token)
    static let serversUpdate = Policy("os_compute_api:servers:update", .member)
    static let serversDelete = Policy("os_compute_api:servers:delete", .member)
    static let serversActions = Policy("os_compute_api:servers:{stop,start,reboot,rebuild}", .member)
    static let metadataRead = Policy("os_compute_api:server-metadata:{index,show}", .token)
    static let metadataChange = Policy("os_compute_api:server-metadata:{create,update,update_all,delete}", .member)
    static let addressesRead = Policy("os_compute_api:ips:{index,show}", .token)
    static let serverPasswordRead = Policy("os_compute_api:os-server-password:show", .token)
    static let serverPasswordClear = Policy("os_compute_api:os-server-password:clear", .member)
    static let availabilityZones = Policy("os_compute_api:os-availability-zone:list", .token)
    static let keypairsRead = Policy("os_compute_api:os-keypairs:{index,show}", .token)
    static let keypairsChange = Policy("os_compute_api:os-keypairs:{create,delete}", .member)
    static let serverGroupsIndex = Policy("os_compute_api:os-server-groups:index", .token)
    static let serverGroupsAllProjects = Policy("os_compute_api:os-server-groups:index:all_projects", .admin)
    static let serverGroupsShow = Policy("os_compute_api:os-server-groups:show", .token)
    static let serverGroupsCreate = Policy("os_compute_api:os-server-groups:create", .member)
    static let serverGroupsDelete = Policy("os_compute_api:os-server-groups:delete", .member)
    static let instanceActionsList = Policy("os_compute_api:os-instance-actions:list", .token)
    static let instanceActionsShow = Policy("os_compute_api:os-instance-actions:show", .token)
    static let securityGroupsRead = Policy("network:get_security_group{,_rule}", .token)
    static let securityGroupsChange = Policy("network:{create,update,delete}_security_group{,_rule}", .member)
    static let tagsRead = Policy("os_compute_api:os-server-tags:{index,show}", .token)
    static let tagsChange = Policy("os_compute_api:os-server-tags:{update,update_all,delete,delete_all}", .member)
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
    static let quotaUpdate = Policy("os_compute_api:os-quota-sets:update", .admin)
    static let quotaDelete = Policy("os_compute_api:os-quota-sets:delete", .admin)
    static let quotaClassShow = Policy("os_compute_api:os-quota-class-sets:show", .admin)
    static let quotaClassUpdate = Policy("os_compute_api:os-quota-class-sets:update", .admin)
    static let limits = Policy("os_compute_api:limits", .token)
    static let limitsOtherProject = Policy("os_compute_api:limits:other_project", .admin)
    static let images = Policy("os_compute_api:os-images", .token)
    static let networks = Policy("os_compute_api:os-networks:view", .token)
    static let novaNetworks = Policy("os_compute_api:os-networks:list", .token)
    static let networkQuotas = Policy("network:get_quota", .projectOrAdmin(parameter: "project"))
    static let projects = Policy("identity:get_project", .token)

    // Identity (Keystone v3), Image (Glance v2) and Network (Neutron v2.0), read-only but for identity.
    static let identityVersions = Policy("identity:versions", .anyone)
    static let identityAuthenticate = Policy("identity:authenticate", .anyone)
    static let identityValidate = Policy("identity:validate_token", .token)
    static let identityRevoke = Policy("identity:revoke_token", .token)
    static let identityListOwnProjects = Policy("identity:list_user_projects", .token)
    static let identityCatalog = Policy("identity:get_catalog", .token)
    static let identityProjectsIndex = Policy("identity:list_projects", .token)
    static let identityProjectsShow = Policy("identity:get_project", .projectOrAdmin(parameter: "project"))
    static let identityProjectsChange = Policy("identity:{create,update,delete}_project", .admin)
    static let identityUsersIndex = Policy("identity:list_users", .admin)
    static let identityUsersShow = Policy("identity:get_user", .userOrAdmin(parameter: "user"))
    static let identityUsersChange = Policy("identity:{create,update,delete}_user", .admin)
    static let identityChangePassword = Policy("identity:change_password", .userOrAdmin(parameter: "user"))
    static let identityUserProjects = Policy("identity:list_user_projects", .userOrAdmin(parameter: "user"))
    static let identityRoles = Policy("identity:{list,get}_role", .token)
    static let identityDomains = Policy("identity:{list,get}_domain", .token)
    static let identityGrants = Policy("identity:{create,check,list,revoke}_grant", .admin)
    static let identityRoleAssignments = Policy("identity:list_role_assignments", .admin)
    static let identityApplicationCredentials = Policy(
        "identity:{get,list,create,delete}_application_credential", .userOrAdmin(parameter: "user"))
    static let imageVersions = Policy("image:versions", .anyone)
    static let networkVersions = Policy("network:versions", .anyone)
    static let imagesV2 = Policy("image:get_images", .token)
    static let networksV2 = Policy("network:get_network", .token)
    static let subnetsV2 = Policy("network:get_subnet", .token)
    static let portsV2 = Policy("network:get_port", .token)
}
