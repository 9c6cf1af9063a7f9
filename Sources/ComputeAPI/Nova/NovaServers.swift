import ComputeCore
import HTTPTypes

/// Servers: list, show, create, update, delete, and the power actions.
extension NovaAPI {
    func registerServers(into router: inout Router<RequestContext>) {
        route(&router, .get, "/servers", .serversIndex) { n, _ in try listServers(n, detailed: false) }
        route(&router, .get, "/servers/detail", .serversDetail) { n, _ in try listServers(n, detailed: true) }
        route(&router, .post, "/servers", .serversCreate) { n, _ in try createServers(n) }
        route(&router, .get, "/servers/{id}", .serversShow) { n, p in
            let server = try inventory.server(.id(p["id"]), caller: n.caller)
            return try serverDocument(server, shape: .show, n)
        }
        route(&router, .put, "/servers/{id}", .serversUpdate) { n, p in
            let request = try n.decodeBody(NovaServerUpdateRequest.self)
            let server = try inventory.updateServer(.id(p["id"]), caller: n.caller, with: request.update)
            return try serverDocument(server, shape: .update, n)
        }
        route(&router, .delete, "/servers/{id}", .serversDelete) { n, p in
            try inventory.deleteServer(.id(p["id"]), caller: n.caller)
            return .empty(.noContent)
        }
        route(&router, .post, "/servers/{id}/action", .serversActions) { n, p in
            switch try n.decodeBody(NovaServerActionRequest.self).action {
            case .power(let action):
                _ = try inventory.perform(action, on: .id(p["id"]), caller: n.caller)
                return .empty(.accepted)
            case .rebuild(let rebuild, let adminPass):
                if case .some(.some(let keyName)) = rebuild.keyName { try checkKeyName(keyName, n) }
                let server = try inventory.rebuildServer(.id(p["id"]), caller: n.caller, with: rebuild)
                let groups = try serverGroups(of: server, shape: .rebuild, n)
                let securityGroups = try securityGroupNames(of: server)
                return APIResponse.document("server", status: .accepted, capacity: 1600) { w in
                    NovaView.server(
                        server, shape: .rebuild, version: n.version, links: n.links, groups: groups,
                        securityGroups: securityGroups, adminPass: adminPass ?? Self.generatedPassword(), into: &w)
                }
            case .securityGroup(let reference, let add):
                try changeSecurityGroup(of: p["id"], reference, add: add, n)
                return .empty(.accepted)
            case .unsupported(let name):
                _ = try inventory.server(.id(p["id"]), caller: n.caller)
                throw ComputeError.invalidInput(
                    "The action '\(name)' is not supported by this service (it has no guests and one host).")
            }
        }
    }

    /// Nova's list filters that this service does not implement: refused, never ignored (an
    /// ignored filter would list servers the client asked to leave out).
    static let unsupportedServerFilters: Set<String> = [
        "locked", "availability_zone", "config_drive",
        "key_name", "created_at", "launched_at", "terminated_at", "power_state", "task_state", "vm_state", "progress",
        "user_id", "host", "project_id", "tenant_id", "soft_deleted", "node", "hostname", "uuid",
        "access_ip_v4", "access_ip_v6", "auto_disk_config",
    ]
    static let serverListParameters: Set<String> = [
        "name", "status", "changes-since", "changes-before", "flavor", "image", "reservation_id", "limit", "marker",
        "deleted", "sort_key", "sort_dir", "all_tenants", "tags", "tags-any", "not-tags", "not-tags-any", "ip", "ip6",
    ]

    func listServers(_ n: NovaContext, detailed: Bool) throws -> APIResponse {
        let query = try n.query()
        try Self.checkParameters(query, known: Self.serverListParameters, unsupported: Self.unsupportedServerFilters, n)
        var filter = ServerFilter(projectID: try n.context.listingProject(query, allProjects: .serversAllProjects))
        if let name = try query.value("name") { filter.namePattern = try NamePattern(name) }
        if let ip = try query.value("ip") { filter.addressPattern = try NamePattern(ip, filter: "ip", anchored: true) }
        filter.flavor = try query.value("flavor").map(NovaServerCreateRequest.lastPathSegment)
        filter.imageID = try query.value("image").map(NovaServerCreateRequest.lastPathSegment)
        filter.reservationID = try query.value("reservation_id")
        filter.tags = ServerTags.Filter(
            all: try Self.tagList(query, "tags"), any: try Self.tagList(query, "tags-any"),
            notAll: try Self.tagList(query, "not-tags"), notAny: try Self.tagList(query, "not-tags-any"))
        filter.changedSince = try Self.instant(query, "changes-since")
        if n.version >= Microversion(66) { filter.changedBefore = try Self.instant(query, "changes-before") }
        if let since = filter.changedSince, let before = filter.changedBefore, before < since {
            throw APIError.badRequest("The value of changes-since must be earlier than or equal to changes-before.")
        }
        var nothing = false
        // A poll for changes lists the deleted servers still kept too, as `DELETED` (Nova's
        // polling guide); an admin may ask for those alone (`deleted=true`, `status=DELETED`).
        if filter.changedSince != nil || filter.changedBefore != nil { filter.deleted = .included }
        if n.caller.isAdmin, let deleted = try query.value("deleted") {
            // Nova's bool_from_string: these are true, anything else false (live servers only).
            filter.deleted = ["1", "t", "true", "on", "y", "yes"].contains(deleted.lowercased()) ? .only : .excluded
        }
        if let status = try query.value("status") {
            if status.uppercased() == "DELETED" {
                guard n.caller.isAdmin else { throw ComputeError.forbidden("Only administrators may list deleted instances") }
                filter.deleted = .only
            } else if let value = ServerStatus(rawValue: status.uppercased()) {
                filter.status = value
            } else if n.version >= Microversion(38) {
                throw APIError.badRequest("Invalid status value: \(status.prefix(64))")
            } else {
                nothing = true  // Nova before 2.38: an unknown status matches nothing
            }
        }
        // Servers have IPv4 addresses only: no server matches an `ip6` pattern (checked all the
        // same; before 2.5 Nova drops it from a member's listing).
        if let ip6 = try query.value("ip6"), n.version >= Microversion(5) || n.caller.isAdmin {
            _ = try NamePattern(ip6, filter: "ip6", anchored: true)
            nothing = true
        }
        for (key, allowed) in [("sort_key", "created_at"), ("sort_dir", "desc")] {
            if let value = try query.value(key), value != allowed {
                throw APIError.badRequest("Sorting other than sort_key=created_at, sort_dir=desc is not supported.")
            }
        }
        let limit = try query.integer("limit", in: 0...Int.max).map { min($0, Self.maxLimit) } ?? Self.maxLimit
        let servers =
            nothing || limit == 0 ? [] : try inventory.servers(matching: filter, limit: limit, marker: query.value("marker"))

        var securityGroups: [String: [String]] = [:]
        if detailed { for server in servers { securityGroups[server.id] = try securityGroupNames(of: server) } }
        return Self.listDocument(
            "servers", servers, id: \.id, detailed: detailed, query: query, limit: limit, n, itemBytes: detailed ? 1400 : 300
        ) { server, w in
            if detailed {
                NovaView.server(
                    server, shape: .detail, version: n.version, links: n.links,
                    securityGroups: securityGroups[server.id] ?? [], into: &w)
            } else {
                NovaView.serverBrief(server, links: n.links, into: &w)
            }
        }
    }

    /// A `key_name` must be one of the caller's key pairs (Nova's 400), where there are users.
    func checkKeyName(_ keyName: String, _ n: NovaContext) throws {
        guard let identity, !(try identity.keypairs(user: n.caller.userID).contains { $0.name == keyName }) else { return }
        throw ComputeError.invalidInput("Invalid key_name provided.")
    }

    func createServers(_ n: NovaContext) throws -> APIResponse {
        let request = try n.decodeBody(NovaServerCreateRequest.self)
        if let keyName = request.draft.keyName { try checkKeyName(keyName, n) }
        var draft = request.draft
        draft.securityGroups = try securityGroupIDs(named: request.securityGroupNames, n)
        let servers: [Server]
        if let groupID = request.serverGroup {
            guard let identity else {
                throw ComputeError.invalidInput("Server groups are not kept by this service (it runs without users).")
            }
            var made: [Server] = []
            let create = { () throws(ComputeError) -> [String] in
                made = try inventory.createServers(draft, caller: n.caller)
                return made.map(\.id)
            }
            _ = try identity.creatingMembers(
                ofServerGroup: groupID, count: request.draft.maxCount, caller: n.caller,
                memberLimit: inventory.limits(projectID: n.caller.projectID).limit(.serverGroupMembers),
                isLive: { id throws(ComputeError) in try inventory.serverExists(id: id) }, create: create)
            servers = made
        } else {
            servers = try inventory.createServers(draft, caller: n.caller)
        }
        var w = JSONWriter()
        w.beginObject()
        if request.returnReservationID {
            w.field("reservation_id", servers[0].reservationID)
            w.endObject()
            return .json(.accepted, w.bytes)
        }
        // Nova answers for the first server of a multiple create.
        let first = servers[0]
        w.key("server")
        w.beginObject()
        w.field("id", first.id)
        n.links.write("servers", first.id, into: &w)
        w.field("adminPass", request.adminPass ?? Self.generatedPassword())
        w.field("OS-DCF:diskConfig", first.access.diskConfig.rawValue)
        NovaView.securityGroups(try securityGroupNames(of: first), into: &w)
        w.endObject()
        w.endObject()
        var response = APIResponse.json(.accepted, w.bytes)
        response.headerFields[.location] = n.links.versioned("servers/\(first.id)")
        return response
    }

    /// What Nova returns as `adminPass`. There is no guest to set it in, so it is not kept.
    static func generatedPassword() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<12).map { _ in alphabet.randomElement(using: &generator)! })
    }

    func serverDocument(_ server: Server, shape: NovaView.ServerShape, _ n: NovaContext) throws -> APIResponse {
        let groups = try serverGroups(of: server, shape: shape, n)
        let securityGroups = try securityGroupNames(of: server)
        return APIResponse.document("server", capacity: 1600) { w in
            NovaView.server(
                server, shape: shape, version: n.version, links: n.links, groups: groups, securityGroups: securityGroups,
                into: &w)
        }
    }

    /// The groups a server view names (`server_groups` from 2.71, outside listings; the
    /// `group` scheduler hint from 2.100): looked up only when the view shows them.
    func serverGroups(of server: Server, shape: NovaView.ServerShape, _ n: NovaContext) throws -> [String] {
        guard let identity, n.version >= Microversion(71), shape != .detail else { return [] }
        return try identity.serverGroups(containing: server.id, projectID: server.projectID)
    }

}
