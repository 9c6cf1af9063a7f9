import ComputeCore
import HTTPTypes

/// Nova's server groups: `/os-server-groups` (list; create) and `/os-server-groups/{id}` (show,
/// delete), each project's own; an admin lists every project's with `?all_projects=True`. A
/// server joins one on create (`os:scheduler_hints` `{"group": id}`). Below 2.64 a group has
/// `policies` (one) and `metadata`; from 2.64 `policy` and `rules`; from 2.13 its project and user.
extension NovaAPI {
    func registerServerGroups(_ identity: Identity, into router: inout Router<RequestContext>) {
        route(&router, .get, "/os-server-groups", .serverGroupsIndex) { n, _ in
            let query = try n.query()
            try Self.checkParameters(query, known: ["all_projects", "limit", "offset"], unsupported: [], n)
            var projectID: String? = n.caller.projectID
            if try query.boolean("all_projects") == true {
                try n.context.authorize(.serverGroupsAllProjects)
                projectID = nil
            }
            let offset = try query.integer("offset", in: 0...Int.max) ?? 0
            let limit = try query.integer("limit", in: 0...Int.max).map { min($0, Self.maxLimit) } ?? Self.maxLimit
            let groups = try identity.serverGroups(projectID: projectID).dropFirst(offset).prefix(limit)
            var w = JSONWriter(capacity: 64 + groups.count * 400)
            w.beginObject()
            w.key("server_groups")
            w.beginArray()
            for group in groups { try serverGroup(group, n, into: &w) }
            w.endArray()
            w.endObject()
            return .json(.ok, w.bytes)
        }
        route(&router, .post, "/os-server-groups", .serverGroupsCreate) { n, _ in
            let request = try n.decodeBody(NovaServerGroupCreateRequest.self)
            let group = try identity.createServerGroup(
                name: request.name, policy: request.policy, maxServerPerHost: request.maxServerPerHost, caller: n.caller,
                limit: inventory.limits(projectID: n.caller.projectID).limit(.serverGroups))
            return try serverGroupDocument(group, n)
        }
        route(&router, .get, "/os-server-groups/{id}", .serverGroupsShow) { n, p in
            try serverGroupDocument(identity.serverGroup(id: p["id"], caller: n.caller), n)
        }
        route(&router, .delete, "/os-server-groups/{id}", .serverGroupsDelete) { n, p in
            try identity.deleteServerGroup(id: p["id"], caller: n.caller)
            return .empty(.noContent)
        }
    }

    func serverGroupDocument(_ group: ServerGroupRecord, _ n: NovaContext) throws -> APIResponse {
        var w = JSONWriter(capacity: 600)
        w.beginObject()
        w.key("server_group")
        try serverGroup(group, n, into: &w)
        w.endObject()
        return .json(.ok, w.bytes)
    }

    /// One group at the request's microversion; `members` are the servers that joined it and
    /// still exist.
    func serverGroup(_ group: ServerGroupRecord, _ n: NovaContext, into w: inout JSONWriter) throws {
        w.beginObject()
        w.field("id", group.id)
        w.field("name", group.name)
        if n.version >= Microversion(64) {
            w.field("policy", group.policy.rawValue)
            w.key("rules")
            w.beginObject()
            if let perHost = group.maxServerPerHost { w.field("max_server_per_host", perHost) }
            w.endObject()
        } else {
            w.key("policies")
            w.stringArray([group.policy.rawValue])
            w.key("metadata")
            w.beginObject()
            w.endObject()
        }
        w.key("members")
        w.stringArray(try group.liveMembers { id throws(ComputeError) in try inventory.serverExists(id: id) })
        if n.version >= Microversion(13) {
            w.field("project_id", group.project)
            w.field("user_id", group.user)
        }
        w.endObject()
    }
}

/// `POST /os-server-groups`: `{"server_group": {"name", "policies": [one]}}`, from 2.64
/// `{"name", "policy", "rules"?: {"max_server_per_host"}}` (rules for anti-affinity only).
struct NovaServerGroupCreateRequest: Decodable {
    var name: String
    var policy: ServerGroupPolicy
    var maxServerPerHost: Int?

    init(from decoder: any Decoder) throws {
        let version = decoder.microversion
        let modern = version >= Microversion(64)
        let group = try StrictObject(decoder, allowed: ["server_group"])
            .requiredObject("server_group", allowed: modern ? ["name", "policy", "rules"] : ["name", "policies"])
        name = try group.requiredString("name")
        try Identity.checkServerGroupName(name)
        // The soft policies came with 2.15.
        let offered = ServerGroupPolicy.allCases.filter {
            version >= Microversion(15) || $0 == .affinity || $0 == .antiAffinity
        }
        func policy(_ text: String, field: String) throws -> ServerGroupPolicy {
            guard let policy = ServerGroupPolicy(rawValue: text), offered.contains(policy) else {
                throw ComputeError.invalidField(
                    field, "'\(text.prefix(64))' is not one of \(offered.map { "'\($0.rawValue)'" }.joined(separator: ", ")).")
            }
            return policy
        }
        if modern {
            self.policy = try policy(group.requiredString("policy"), field: "server_group.policy")
            if let rules = try group.object("rules", allowed: ["max_server_per_host"]) {
                if let perHost = try rules.integer("max_server_per_host") {
                    guard self.policy == .antiAffinity else {
                        throw ComputeError.invalidInput("Only anti-affinity policy supports rules.")
                    }
                    guard perHost >= 1 else {
                        throw ComputeError.invalidField("server_group.rules.max_server_per_host", "must be 1 or more.")
                    }
                    maxServerPerHost = perHost
                }
            }
        } else {
            guard let policies = try group.decode([String].self, "policies") else {
                throw ComputeError.invalidField("server_group", "'policies' is a required property.")
            }
            guard policies.count == 1, let only = policies.first else {
                throw ComputeError.invalidField("server_group.policies", "give exactly one policy.")
            }
            self.policy = try policy(only, field: "server_group.policies[0]")
        }
    }
}
