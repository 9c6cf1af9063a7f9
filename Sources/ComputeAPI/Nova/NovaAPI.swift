import ComputeCore
import HTTPTypes

/// A Nova request after microversion negotiation.
struct NovaContext {
    var context: RequestContext
    var version: Microversion
    var links: NovaLinks

    var caller: Caller { context.caller }

    func decodeBody<T: Decodable>(_ type: T.Type) throws(ComputeError) -> T {
        try context.decodeBody(type, microversion: version)
    }

    func query() throws(APIError) -> QueryParameters { try QueryParameters(context.request.query) }
}

/// The OpenStack Compute (Nova) v2.1 surface over the same inventory as the v1 API, so that
/// the `openstack` CLI and openstacksdk work with no Keystone (NOVA-COMPAT.md): version
/// discovery, servers with power actions, flavors with extra specs, and read-only Glance- and
/// Neutron-shaped catalogs of the configured images and networks.
struct NovaAPI: Sendable {
    let inventory: Inventory

    static let maxLimit = 1000

    func register(into router: inout Router<RequestContext>) {
        router.add(.get, "/", access: .open) { context, _ in versions(context) }
        router.add(.get, "/v2.1", access: .open) { context, _ in
            Self.document("version") { w in NovaView.version(links: Self.links(context), mediaTypes: true, into: &w) }
        }

        route(&router, .get, "/servers") { n, _ in try listServers(n, detailed: false) }
        route(&router, .get, "/servers/detail") { n, _ in try listServers(n, detailed: true) }
        route(&router, .post, "/servers") { n, _ in try createServers(n) }
        route(&router, .get, "/servers/{id}") { n, p in
            let server = try inventory.server(.id(p["id"]), caller: n.caller)
            return serverDocument(server, shape: .show, n)
        }
        route(&router, .put, "/servers/{id}") { n, p in
            let request = try n.decodeBody(NovaServerUpdateRequest.self)
            let server = try inventory.updateServer(.id(p["id"]), caller: n.caller, with: request.update)
            return serverDocument(server, shape: .update, n)
        }
        route(&router, .delete, "/servers/{id}") { n, p in
            try inventory.deleteServer(.id(p["id"]), caller: n.caller)
            return .empty(.noContent)
        }
        route(&router, .post, "/servers/{id}/action") { n, p in
            let request = try n.decodeBody(NovaServerActionRequest.self)
            _ = try inventory.perform(request.action, on: .id(p["id"]), caller: n.caller)
            return .empty(.accepted)
        }

        route(&router, .get, "/flavors") { n, _ in try listFlavors(n, detailed: false) }
        route(&router, .get, "/flavors/detail") { n, _ in try listFlavors(n, detailed: true) }
        route(&router, .post, "/flavors") { n, _ in
            try n.context.requireAdmin("create flavors")
            let request = try n.decodeBody(NovaFlavorCreateRequest.self)
            return flavorDocument(try inventory.createFlavor(request.draft), n)
        }
        route(&router, .get, "/flavors/{id}") { n, p in
            flavorDocument(try inventory.flavor(.id(p["id"]), visibleTo: n.caller), n)
        }
        route(&router, .get, "/flavors/{id}/os-flavor-access") { n, p in
            try n.context.requireAdmin("list flavor access")
            let flavor = try inventory.flavor(.id(p["id"]))
            guard !flavor.isPublic else { throw ComputeError.notFound("Access list not available for public flavors.") }
            return flavorAccessDocument(flavor)
        }
        route(&router, .post, "/flavors/{id}/action") { n, p in
            try n.context.requireAdmin("change flavor access")
            let request = try n.decodeBody(NovaFlavorActionRequest.self)
            let flavor =
                request.grants
                ? try inventory.addFlavorAccess(.id(p["id"]), projectID: request.projectID)
                : try inventory.removeFlavorAccess(.id(p["id"]), projectID: request.projectID)
            return flavorAccessDocument(flavor)
        }
        route(&router, .put, "/flavors/{id}", since: Microversion(55)) { n, p in
            try n.context.requireAdmin("change flavors")
            let request = try n.decodeBody(NovaFlavorUpdateRequest.self)
            let flavor = try inventory.updateFlavor(.id(p["id"])) { $0.description = request.description }
            return flavorDocument(flavor, n)
        }
        route(&router, .delete, "/flavors/{id}") { n, p in
            try n.context.requireAdmin("delete flavors")
            try inventory.deleteFlavor(.id(p["id"]))
            return .empty(.accepted)
        }
        route(&router, .get, "/flavors/{id}/os-extra_specs") { n, p in
            extraSpecsDocument(try inventory.flavor(.id(p["id"]), visibleTo: n.caller).extraSpecs, wrapped: true)
        }
        route(&router, .post, "/flavors/{id}/os-extra_specs") { n, p in
            try n.context.requireAdmin("change flavors")
            let request = try n.decodeBody(NovaExtraSpecsRequest.self)
            _ = try inventory.updateFlavor(.id(p["id"])) { flavor in flavor.extraSpecs.merge(request.specs) { $1 } }
            return extraSpecsDocument(request.specs, wrapped: true)
        }
        route(&router, .get, "/flavors/{id}/os-extra_specs/{key}") { n, p in
            let flavor = try inventory.flavor(.id(p["id"]), visibleTo: n.caller)
            guard let value = flavor.extraSpecs[p["key"]] else {
                throw ComputeError.notFound("Flavor \(flavor.id) has no extra specs with key \(p["key"]).")
            }
            return extraSpecsDocument([p["key"]: value], wrapped: false)
        }
        route(&router, .put, "/flavors/{id}/os-extra_specs/{key}") { n, p in
            try n.context.requireAdmin("change flavors")
            let request = try n.decodeBody(NovaExtraSpecsRequest.self)
            guard request.specs.count == 1, let value = request.specs[p["key"]] else {
                throw ComputeError.invalidInput("The request body must hold exactly the key of the URL, \(p["key"]).")
            }
            _ = try inventory.updateFlavor(.id(p["id"])) { $0.extraSpecs[p["key"]] = value }
            return extraSpecsDocument(request.specs, wrapped: false)
        }
        route(&router, .delete, "/flavors/{id}/os-extra_specs/{key}") { n, p in
            try n.context.requireAdmin("change flavors")
            _ = try inventory.updateFlavor(.id(p["id"])) { flavor throws(ComputeError) in
                guard flavor.extraSpecs.removeValue(forKey: p["key"]) != nil else {
                    throw .notFound("Flavor \(flavor.id) has no extra specs with key \(p["key"]).")
                }
            }
            return .empty(.ok)
        }

        route(&router, .get, "/os-quota-sets/{project}") { n, p in try quotaSet(n, p["project"], form: .limits) }
        route(&router, .get, "/os-quota-sets/{project}/detail") { n, p in try quotaSet(n, p["project"], form: .detail) }
        route(&router, .get, "/os-quota-sets/{project}/defaults") { n, p in try quotaSet(n, p["project"], form: .defaults) }
        route(&router, .get, "/limits") { n, _ in try limits(n) }
        // Neutron's quotas, which `openstack quota show` also asks for: projects here create no
        // networks, ports, routers or security groups, so every limit is 0.
        route(&router, .get, "/v2.0/quotas/{project}") { n, p in
            guard n.caller.canReach(projectID: p["project"]) else {
                throw ComputeError.forbidden("Only admins may read the quotas of another project.")
            }
            return Self.document("quota") { w in
                w.beginObject()
                for resource: StaticString in [
                    "network", "subnet", "port", "router", "floatingip", "security_group", "security_group_rule",
                ] {
                    w.field(resource, 0)
                }
                w.endObject()
            }
        }

        route(&router, .get, "/images") { n, _ in try listImages(n) }
        route(&router, .get, "/images/{id}") { _, p in
            guard let image = inventory.images.first(where: { $0.id == p["id"] }) else {
                throw ComputeError.notFound("Image \(p["id"]) could not be found.")
            }
            var w = JSONWriter()
            NovaView.image(image, into: &w)
            return .json(.ok, w.bytes)
        }
        // The network client asks `/networks` after discovery, `/v2.0/networks` with a token.
        for prefix in ["", "/v2.0"] {
            route(&router, .get, prefix + "/networks") { n, _ in try listNetworks(n) }
            route(&router, .get, prefix + "/networks/{id}") { n, p in
                guard let network = inventory.networks.first(where: { $0.id == p["id"] }) else {
                    throw ComputeError.notFound("Network \(p["id"]) could not be found.")
                }
                return Self.document("network") { w in NovaView.network(network, projectID: n.caller.projectID, into: &w) }
            }
        }
        // Keystone-shaped projects, for `openstack quota show PROJECT`: a project is a name
        // tokens and servers carry. Members find their own; admins any.
        route(&router, .get, "/projects/{id}") { n, p in
            guard n.caller.canReach(projectID: p["id"]) else {
                throw ComputeError.notFound("Could not find project: \(p["id"]).")
            }
            return Self.document("project") { w in NovaView.project(p["id"], links: n.links, into: &w) }
        }
        route(&router, .get, "/projects") { n, _ in
            let name = try n.query().value("name")
            let projects = [name ?? n.caller.projectID].filter { n.caller.canReach(projectID: $0) }
            var w = JSONWriter()
            w.beginObject()
            w.key("projects")
            w.beginArray()
            for project in projects { NovaView.project(project, links: n.links, into: &w) }
            w.endArray()
            w.endObject()
            return .json(.ok, w.bytes)
        }
    }

    /// Adds a `/v2.1` route whose handler runs at the negotiated microversion. Its response,
    /// and every fault it raises, carries the version headers; before `since` the route does
    /// not exist (404, as in Nova).
    private func route(
        _ router: inout Router<RequestContext>, _ method: HTTPRequest.Method, _ path: String,
        since: Microversion = .minimum, _ handler: @escaping @Sendable (NovaContext, RouteParameters) throws -> APIResponse
    ) {
        router.add(method, "/v2.1" + path) { context, parameters in
            let version: Microversion
            do {
                version = try Microversion.negotiate(context.request.headerFields)
            } catch {
                return Fault(error).response
            }
            var response: APIResponse
            do {
                guard version >= since else { throw APIError.notFound() }
                response = try handler(NovaContext(context: context, version: version, links: Self.links(context)), parameters)
            } catch let error where error is APIError || error is ComputeError {
                response = Fault(error).response
            }
            response.headerFields.append(contentsOf: version.responseFields)
            return response
        }
    }

    static func links(_ context: RequestContext) -> NovaLinks {
        NovaLinks(base: context.request.baseURL ?? "http://localhost")
    }

    // MARK: Versions

    private func versions(_ context: RequestContext) -> APIResponse {
        var w = JSONWriter()
        w.beginObject()
        w.key("versions")
        w.beginArray()
        NovaView.version(links: Self.links(context), mediaTypes: false, into: &w)
        w.endArray()
        w.endObject()
        return .json(.ok, w.bytes)
    }

    // MARK: Servers

    /// Nova's list filters that this service does not implement: refused, never ignored (an
    /// ignored filter would list servers the client asked to leave out).
    static let unsupportedServerFilters: Set<String> = [
        "ip", "ip6", "tags", "tags-any", "not-tags", "not-tags-any", "locked", "availability_zone", "config_drive",
        "key_name", "created_at", "launched_at", "terminated_at", "power_state", "task_state", "vm_state", "progress",
        "user_id", "host", "project_id", "tenant_id", "soft_deleted", "node", "hostname", "uuid",
        "access_ip_v4", "access_ip_v6", "auto_disk_config",
    ]
    static let serverListParameters: Set<String> = [
        "name", "status", "changes-since", "changes-before", "flavor", "image", "reservation_id", "limit", "marker",
        "deleted", "sort_key", "sort_dir", "all_tenants",
    ]

    private func listServers(_ n: NovaContext, detailed: Bool) throws -> APIResponse {
        let query = try n.query()
        try Self.checkParameters(query, known: Self.serverListParameters, unsupported: Self.unsupportedServerFilters, n)
        var filter = ServerFilter(projectID: try n.context.listingProject(query))
        if let name = try query.value("name") { filter.namePattern = try NamePattern(name) }
        filter.flavor = try query.value("flavor").map(NovaServerCreateRequest.lastPathSegment)
        filter.imageID = try query.value("image").map(NovaServerCreateRequest.lastPathSegment)
        filter.reservationID = try query.value("reservation_id")
        filter.changedSince = try Self.instant(query, "changes-since")
        if n.version >= Microversion(66) { filter.changedBefore = try Self.instant(query, "changes-before") }
        if let since = filter.changedSince, let before = filter.changedBefore, before < since {
            throw APIError.badRequest("The value of changes-since must be earlier than or equal to changes-before.")
        }
        var nothing = false
        if let status = try query.value("status") {
            if let value = ServerStatus(rawValue: status.uppercased()) {
                filter.status = value
            } else if n.version >= Microversion(38) {
                throw APIError.badRequest("Invalid status value: \(status.prefix(64))")
            } else {
                nothing = true  // Nova before 2.38: an unknown status matches nothing
            }
        }
        // Deleted servers are not kept: `deleted=true` lists none, `deleted=false` changes nothing.
        if let deleted = try query.value("deleted"), ["true", "1", "yes", "on"].contains(deleted.lowercased()) {
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

        return Self.listDocument(
            "servers", servers, id: \.id, detailed: detailed, query: query, limit: limit, n, itemBytes: detailed ? 1400 : 300
        ) { server, w in
            if detailed {
                NovaView.server(server, shape: .detail, version: n.version, links: n.links, into: &w)
            } else {
                NovaView.serverBrief(server, links: n.links, into: &w)
            }
        }
    }

    private func createServers(_ n: NovaContext) throws -> APIResponse {
        let request = try n.decodeBody(NovaServerCreateRequest.self)
        let servers = try inventory.createServers(request.draft, caller: n.caller)
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
        w.field("OS-DCF:diskConfig", "MANUAL")
        w.key("security_groups")
        w.beginArray()
        w.beginObject()
        w.field("name", "default")
        w.endObject()
        w.endArray()
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

    private func serverDocument(_ server: Server, shape: NovaView.ServerShape, _ n: NovaContext) -> APIResponse {
        Self.document("server", capacity: 1600) { w in
            NovaView.server(server, shape: shape, version: n.version, links: n.links, into: &w)
        }
    }

    /// 200 `{"<key>": …}`, the value written by `write`.
    static func document(_ key: StaticString, capacity: Int = 512, _ write: (inout JSONWriter) -> Void) -> APIResponse {
        var w = JSONWriter(capacity: capacity)
        w.beginObject()
        w.key(key)
        write(&w)
        w.endObject()
        return .json(.ok, w.bytes)
    }

    // MARK: Flavors

    static let flavorListParameters: Set<String> = ["is_public", "minRam", "minDisk", "limit", "marker", "sort_key", "sort_dir"]

    private func listFlavors(_ n: NovaContext, detailed: Bool) throws -> APIResponse {
        let query = try n.query()
        try Self.checkParameters(query, known: Self.flavorListParameters, unsupported: [], n)
        // Nova's rule: members see public flavors and those shared with their project, whatever
        // they ask; admins choose with is_public (default: the same as a member of their project).
        let publicOnly: Bool?
        switch try query.value("is_public")?.lowercased() {
        case nil, "true", "t", "1", "yes", "on": publicOnly = true
        case "false", "f", "0", "no", "off": publicOnly = false
        case "none": publicOnly = nil
        case let other?: throw APIError.badRequest("Invalid is_public filter [\(other.prefix(32))]")
        }
        let caller = n.caller
        let listed: (Flavor) -> Bool =
            switch (caller.isAdmin, publicOnly) {
            case (false, _), (true, true): { $0.isPublic || $0.accessProjects.contains(caller.projectID) }
            case (true, false): { !$0.isPublic }
            case (true, nil): { _ in true }
            }
        let minRam = try query.integer("minRam", in: 0...Int.max) ?? 0
        let minDisk = try query.integer("minDisk", in: 0...Int.max) ?? 0
        for (key, allowed) in [("sort_key", "flavorid"), ("sort_dir", "asc")] {
            if let value = try query.value(key), value != allowed {
                throw APIError.badRequest("Sorting other than sort_key=flavorid, sort_dir=asc is not supported.")
            }
        }
        var flavors = inventory.flavors.filter { listed($0) && $0.ram >= minRam && $0.disk >= minDisk }
        if let marker = try query.value("marker") {
            guard let index = flavors.firstIndex(where: { $0.id == marker }) else {
                throw APIError.badRequest("Marker \(marker.prefix(64)) could not be found.")
            }
            flavors.removeFirst(index + 1)
        }
        let limit = try query.integer("limit", in: 0...Int.max).map { min($0, Self.maxLimit) } ?? Self.maxLimit
        flavors = Array(flavors.prefix(limit))

        return Self.listDocument(
            "flavors", flavors, id: \.id, detailed: detailed, query: query, limit: limit, n, itemBytes: 500
        ) { flavor, w in
            NovaView.flavor(flavor, detailed: detailed, version: n.version, links: n.links, into: &w)
        }
    }

    private func flavorDocument(_ flavor: Flavor, _ n: NovaContext) -> APIResponse {
        Self.document("flavor", capacity: 600) { w in
            NovaView.flavor(flavor, detailed: true, version: n.version, links: n.links, into: &w)
        }
    }

    /// `{"flavor_access": [{"flavor_id", "tenant_id"}…]}`.
    private func flavorAccessDocument(_ flavor: Flavor) -> APIResponse {
        var w = JSONWriter()
        w.beginObject()
        w.key("flavor_access")
        w.beginArray()
        for project in flavor.accessProjects.sorted() {
            w.beginObject()
            w.field("flavor_id", flavor.id)
            w.field("tenant_id", project)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return .json(.ok, w.bytes)
    }

    private func extraSpecsDocument(_ specs: [String: String], wrapped: Bool) -> APIResponse {
        var w = JSONWriter()
        if wrapped {
            w.beginObject()
            w.key("extra_specs")
        }
        w.stringDictionary(specs)
        if wrapped { w.endObject() }
        return .json(.ok, w.bytes)
    }

    // MARK: Quotas

    enum QuotaForm {
        /// The project's limits.
        case limits
        /// Limit, use and reserved (0) per resource.
        case detail
        /// The limits a project without an override gets.
        case defaults
    }

    /// `GET /os-quota-sets/{project}[/detail|/defaults]`: a member may read its own project's.
    private func quotaSet(_ n: NovaContext, _ projectID: String, form: QuotaForm) throws -> APIResponse {
        guard n.caller.canReach(projectID: projectID) else {
            throw ComputeError.forbidden("Only admins may read the quotas of another project.")
        }
        var (limits, usage) = inventory.quota(projectID: projectID)
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
    private func limits(_ n: NovaContext) throws -> APIResponse {
        let projectID = try n.query().value("tenant_id") ?? n.caller.projectID
        guard n.caller.canReach(projectID: projectID) else {
            throw ComputeError.forbidden("Only admins may read the limits of another project.")
        }
        let (limits, usage) = inventory.quota(projectID: projectID)
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

    // MARK: Catalogs

    private func listImages(_ n: NovaContext) throws -> APIResponse {
        let query = try n.query()
        var images = inventory.images
        if let name = try query.value("name") { images = images.filter { $0.name == name } }
        if let ids = try query.value("id") {
            let wanted = Set((ids.hasPrefix("in:") ? ids.dropFirst(3) : Substring(ids)).split(separator: ",").map(String.init))
            images = images.filter { wanted.contains($0.id) }
        }
        var w = JSONWriter()
        w.beginObject()
        w.key("images")
        w.beginArray()
        for image in images { NovaView.image(image, into: &w) }
        w.endArray()
        w.field("schema", "/v2/schemas/images")
        w.field("first", "/v2/images")
        w.endObject()
        return .json(.ok, w.bytes)
    }

    private func listNetworks(_ n: NovaContext) throws -> APIResponse {
        let query = try n.query()
        var networks = inventory.networks
        if let name = try query.value("name") { networks = networks.filter { $0.name == name } }
        if let id = try query.value("id") { networks = networks.filter { $0.id == id } }
        var w = JSONWriter()
        w.beginObject()
        w.key("networks")
        w.beginArray()
        for network in networks { NovaView.network(network, projectID: n.caller.projectID, into: &w) }
        w.endArray()
        w.endObject()
        return .json(.ok, w.bytes)
    }

    // MARK: Query helpers

    /// From 2.75 Nova refuses unknown query parameters; before, it drops them. Parameters it
    /// knows but this service does not implement are refused at every version.
    static func checkParameters(
        _ query: QueryParameters, known: Set<String>, unsupported: Set<String>, _ n: NovaContext
    ) throws(APIError) {
        for (name, _) in query.pairs where !known.contains(name) {
            if unsupported.contains(name) {
                throw .badRequest("The filter '\(name)' is not supported by this service.")
            }
            if n.version >= Microversion(75) {
                throw .badRequest("Additional properties are not allowed ('\(name.prefix(64))' was unexpected)")
            }
        }
    }

    static func instant(_ query: QueryParameters, _ name: String) throws(APIError) -> Timestamp? {
        guard let text = try query.value(name) else { return nil }
        guard let instant = Timestamp(iso8601: text) else {
            throw .badRequest("Invalid value for query parameter '\(name)': '\(text.prefix(64))' is not an ISO 8601 time.")
        }
        return instant
    }

    /// `{"<collection>": [item…]}`, with `"<collection>_links": [{"rel": "next", "href": …}]`
    /// (keeping the request's other parameters) when the page is full, as Nova does.
    static func listDocument<Item>(
        _ collection: String, _ items: [Item], id: (Item) -> String, detailed: Bool, query: QueryParameters, limit: Int,
        _ n: NovaContext, itemBytes: Int, write: (Item, inout JSONWriter) -> Void
    ) -> APIResponse {
        var w = JSONWriter(capacity: 64 + items.count * itemBytes)
        w.beginObject()
        w.key(collection)
        w.beginArray()
        for item in items { write(item, &w) }
        w.endArray()
        if items.count == limit, let last = items.last {
            var pairs = query.pairs.filter { $0.name != "limit" && $0.name != "marker" }
            pairs += [("limit", String(limit)), ("marker", id(last))]
            let path = detailed ? "\(collection)/detail" : collection
            let href =
                n.links.versioned(path) + "?"
                + pairs.map { "\(PercentDecoding.encode($0.name))=\(PercentDecoding.encode($0.value))" }.joined(separator: "&")
            w.key(collection + "_links")
            w.beginArray()
            NovaLinks.link("next", href, into: &w)
            w.endArray()
        }
        w.endObject()
        return .json(.ok, w.bytes)
    }
}
