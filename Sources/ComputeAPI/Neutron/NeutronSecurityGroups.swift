import ComputeCore
import HTTPTypes

/// Neutron's security groups, at the network endpoint: `/v2.0/security-groups[/{id}]` (list,
/// create, show, update, delete) and `/v2.0/security-group-rules[/{id}]` (list, create, show,
/// delete), each project's own (an admin sees every project's). Rules are kept and shown; no
/// packet is filtered, there being no guests. Servers are put in groups through Nova.
struct NeutronSecurityGroups: Sendable {
    let inventory: Inventory
    let identity: Identity

    func register(into router: inout Router<RequestContext>) {
        register(groupsAt: "/network/v2.0/security-groups", into: &router)
        register(rulesAt: "/network/v2.0/security-group-rules", into: &router)
    }

    private func register(groupsAt path: String, into router: inout Router<RequestContext>) {
        router.add(.get, path, .securityGroupsRead) { c, _ in
            let query = try QueryParameters(c.request.query)
            try Self.checkNeutronFilters(query, ["id", "name", "description", "project_id", "tenant_id"])
            let groups = try visibleGroups(c.caller).filter {
                Self.matches(query, ["id": $0.id, "name": $0.name, "description": $0.description, "project_id": $0.project])
            }
            return APIResponse.list("security_groups", try Self.paged(groups, id: \.id, query), itemBytes: 1200) { group, w in
                Self.securityGroup(group, into: &w)
            }
        }
        router.add(.post, path, .securityGroupsChange) { c, _ in
            let request = try c.decodeBody(NeutronSecurityGroupRequest.self)
            let made = try identity.createSecurityGroup(
                name: request.name ?? "", description: request.description ?? "",
                projectID: try Self.neutronProject(request.projectID, c.caller), caller: c.caller)
            return APIResponse.document("security_group", status: .created, capacity: 1200) { w in
                Self.securityGroup(made, into: &w)
            }
        }
        router.add(.get, path + "/{id}", .securityGroupsRead) { c, p in
            let group = try identity.securityGroup(id: p["id"], caller: c.caller)
            return APIResponse.document("security_group", capacity: 1200) { w in Self.securityGroup(group, into: &w) }
        }
        router.add(.put, path + "/{id}", .securityGroupsChange) { c, p in
            let request = try c.decodeBody(NeutronSecurityGroupRequest.self)
            guard request.projectID == nil, request.stateful == nil else {
                throw ComputeError.invalidInput("A security group's project and statefulness cannot be changed.")
            }
            let group = try identity.updateSecurityGroup(
                id: p["id"], name: request.name, description: request.description, caller: c.caller)
            return APIResponse.document("security_group", capacity: 1200) { w in Self.securityGroup(group, into: &w) }
        }
        router.add(.delete, path + "/{id}", .securityGroupsChange) { c, p in
            try identity.deleteSecurityGroup(id: p["id"], caller: c.caller) { group throws(ComputeError) in
                try inventory.anyServer(ofProject: group.project) { $0.securityGroups?.contains(group.id) ?? group.isDefault }
            }
            return .empty(.noContent)
        }
    }

    private func register(rulesAt path: String, into router: inout Router<RequestContext>) {
        router.add(.get, path, .securityGroupsRead) { c, _ in
            let query = try QueryParameters(c.request.query)
            let filters = [
                "id", "security_group_id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
                "remote_ip_prefix", "remote_group_id", "description", "project_id", "tenant_id",
            ]
            try Self.checkNeutronFilters(query, filters)
            var rules: [(SecurityGroupRecord, SecurityGroupRule)] = []
            for group in try visibleGroups(c.caller) {
                for rule in group.rules {
                    let fields: [String: String?] = [
                        "id": rule.id, "security_group_id": group.id, "direction": rule.direction.rawValue,
                        "ethertype": rule.ethertype.rawValue, "protocol": rule.ipProtocol,
                        "port_range_min": rule.portRangeMin.map(String.init),
                        "port_range_max": rule.portRangeMax.map(String.init),
                        "remote_ip_prefix": rule.remoteIPPrefix, "remote_group_id": rule.remoteGroupID,
                        "description": rule.description, "project_id": group.project,
                    ]
                    if Self.matches(query, fields) { rules.append((group, rule)) }
                }
            }
            return APIResponse.list("security_group_rules", try Self.paged(rules, id: \.1.id, query), itemBytes: 600) {
                pair, w in
                Self.securityGroupRule(pair.1, of: pair.0, into: &w)
            }
        }
        router.add(.post, path, .securityGroupsChange) { c, _ in
            let request = try c.decodeBody(NeutronSecurityGroupRuleRequest.self)
            _ = try Self.neutronProject(request.projectID, c.caller)
            let (group, added) = try identity.addSecurityGroupRule(
                request.draft, toGroup: request.securityGroupID, caller: c.caller)
            return APIResponse.document("security_group_rule", status: .created, capacity: 800) { w in
                Self.securityGroupRule(added, of: group, into: &w)
            }
        }
        router.add(.get, path + "/{id}", .securityGroupsRead) { c, p in
            let (group, rule) = try identity.securityGroupRule(id: p["id"], caller: c.caller)
            return APIResponse.document("security_group_rule", capacity: 800) { w in
                Self.securityGroupRule(rule, of: group, into: &w)
            }
        }
        router.add(.delete, path + "/{id}", .securityGroupsChange) { c, p in
            try identity.deleteSecurityGroupRule(id: p["id"], caller: c.caller)
            return .empty(.noContent)
        }
    }

    /// The caller's project's groups (its default one made if need be), or every project's for an admin.
    func visibleGroups(_ caller: Caller) throws(ComputeError) -> [SecurityGroupRecord] {
        let own = try identity.securityGroups(projectID: caller.projectID)
        return caller.isAdmin ? try identity.securityGroups(projectID: nil) : own
    }

    /// The project a create names (`project_id` or `tenant_id`), else the caller's.
    static func neutronProject(_ named: String?, _ caller: Caller) throws -> String {
        guard let named, named != caller.projectID else { return caller.projectID }
        guard caller.isAdmin else { throw ComputeError.forbidden("Only an admin may act in another project.") }
        return named
    }

    /// Neutron's list filters (each may be given more than once: any of the values matches),
    /// its paging (`paged`) and its `fields`, `sort_key` and `sort_dir`, which change nothing here.
    static func checkNeutronFilters(_ query: QueryParameters, _ filters: [String]) throws {
        let others = ["fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"]
        for (name, _) in query.pairs where !filters.contains(name) && !others.contains(name) {
            throw APIError.badRequest("\(name.prefix(64)) is not a valid filter. Supported: \(filters.joined(separator: ", ")).")
        }
    }

    /// Neutron's paging, oldest first: after the item `marker` names, at most `limit` (0: no
    /// limit), newest first with `page_reverse`. A client that gets a full page asks again from
    /// its last item, as openstacksdk does.
    static func paged<Item>(_ items: [Item], id: (Item) -> String, _ query: QueryParameters) throws -> [Item] {
        var items = items
        if try query.boolean("page_reverse") == true { items.reverse() }
        if let marker = try query.value("marker") {
            guard let index = items.firstIndex(where: { id($0) == marker }) else {
                throw APIError.badRequest("The marker \(marker.prefix(255)) is not in this listing.")
            }
            items.removeFirst(index + 1)
        }
        if let limit = try query.integer("limit", in: 0...Int.max), limit > 0 { items = Array(items.prefix(limit)) }
        return items
    }

    static func matches(_ query: QueryParameters, _ fields: [String: String?]) -> Bool {
        for (name, value) in fields {
            let wanted = query.pairs.filter { $0.name == name || (name == "project_id" && $0.name == "tenant_id") }
            if !wanted.isEmpty, !wanted.contains(where: { $0.value == (value ?? "") }) { return false }
        }
        return true
    }

    static func securityGroup(_ group: SecurityGroupRecord, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", group.id)
        w.field("name", group.name)
        w.field("description", group.description)
        w.field("stateful", true)
        w.field("project_id", group.project)
        w.field("tenant_id", group.project)
        w.field("shared", false)
        w.key("security_group_rules")
        w.beginArray()
        for rule in group.rules { securityGroupRule(rule, of: group, into: &w) }
        w.endArray()
        w.key("tags")
        w.beginArray()
        w.endArray()
        w.field("created_at", group.created)
        w.field("updated_at", group.updated)
        w.field("revision_number", group.revision)
        w.endObject()
    }

    static func securityGroupRule(_ rule: SecurityGroupRule, of group: SecurityGroupRecord, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", rule.id)
        w.field("security_group_id", group.id)
        w.field("direction", rule.direction.rawValue)
        w.field("ethertype", rule.ethertype.rawValue)
        w.field("protocol", rule.ipProtocol)
        for (name, port) in [("port_range_min", rule.portRangeMin), ("port_range_max", rule.portRangeMax)]
            as [(StaticString, Int?)]
        {
            if let port { w.field(name, port) } else { w.field(name, nil as String?) }
        }
        w.field("remote_ip_prefix", rule.remoteIPPrefix)
        w.field("remote_group_id", rule.remoteGroupID)
        w.field("remote_address_group_id", nil)
        w.field("normalized_cidr", rule.remoteIPPrefix)
        w.field("description", rule.description)
        w.field("project_id", group.project)
        w.field("tenant_id", group.project)
        w.field("belongs_to_default_sg", group.isDefault)
        w.field("created_at", rule.created)
        w.field("updated_at", rule.created)
        w.field("revision_number", 0)
        w.endObject()
    }
}

/// `POST` or `PUT /v2.0/security-groups`: `{"security_group": {"name"?, "description"?,
/// "stateful"? (true only), "project_id"?}}`.
struct NeutronSecurityGroupRequest: Decodable {
    var name: String?
    var description: String?
    var stateful: Bool?
    var projectID: String?

    init(from decoder: any Decoder) throws {
        let group = try StrictObject(decoder, allowed: ["security_group"])
            .requiredObject("security_group", allowed: ["name", "description", "stateful", "project_id", "tenant_id"])
        name = try group.string("name")
        description = try group.string("description")
        stateful = try group.boolean("stateful")
        projectID = try group.string("project_id") ?? group.string("tenant_id")
        if stateful == false { throw ComputeError.invalidInput("Stateless security groups are not offered here.") }
    }
}

/// `POST /v2.0/security-group-rules`: `{"security_group_rule": {"security_group_id",
/// "direction", …}}`, the optional fields null or absent alike.
struct NeutronSecurityGroupRuleRequest: Decodable {
    var securityGroupID: String
    var projectID: String?
    var draft: SecurityGroupRuleDraft

    init(from decoder: any Decoder) throws {
        let rule = try StrictObject(decoder, allowed: ["security_group_rule"]).requiredObject(
            "security_group_rule",
            allowed: [
                "security_group_id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
                "remote_ip_prefix", "remote_group_id", "description", "project_id", "tenant_id",
            ])
        securityGroupID = try rule.requiredString("security_group_id")
        projectID = try rule.string("project_id") ?? rule.string("tenant_id")
        draft = SecurityGroupRuleDraft(direction: try rule.requiredString("direction"))
        draft.ethertype = try rule.nullableString("ethertype")
        // A protocol is a name or a number, given as a string or a JSON number.
        if try rule.has("protocol") {
            draft.ipProtocol = try (try? rule.integer("protocol")).map(String.init) ?? rule.string("protocol")
        }
        draft.portRangeMin = try rule.has("port_range_min") ? rule.integer("port_range_min") : nil
        draft.portRangeMax = try rule.has("port_range_max") ? rule.integer("port_range_max") : nil
        draft.remoteIPPrefix = try rule.nullableString("remote_ip_prefix")
        draft.remoteGroupID = try rule.nullableString("remote_group_id")
        draft.description = try rule.nullableString("description")
    }
}
