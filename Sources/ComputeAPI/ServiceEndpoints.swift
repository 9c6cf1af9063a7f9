import ComputeCore
import HTTPTypes

/// The image and network services the identity catalog lists, at the paths clients find
/// through it: Glance v2's `/image/v2/images` and Neutron v2.0's `/network/v2.0/networks`,
/// `/subnets`, `/ports` and `/quotas`, read-only, over the configured images and networks and the
/// servers' addresses (a port per addressed server: what openstacksdk asks for a server's
/// addresses). Each service answers version discovery at its root.
struct ServiceEndpoints: Sendable {
    let inventory: Inventory

    func register(into router: inout Router<RequestContext>) {
        router.add(.get, "/image", .imageVersions) { c, _ in Self.versions(c, "v2.0", "/image/v2/", status: .multipleChoices) }
        router.add(.get, "/image/v2/images", .imagesV2) { c, _ in
            try Self.imageList(inventory.images, try QueryParameters(c.request.query))
        }
        router.add(.get, "/image/v2/images/{id}", .imagesV2) { _, p in
            guard let image = inventory.images.first(where: { $0.id == p["id"] }) else {
                throw ComputeError.notFound("No image found with ID \(p["id"])")
            }
            var w = JSONWriter()
            NovaView.image(image, into: &w)
            return .json(.ok, w.bytes)
        }
        router.add(.get, "/network", .networkVersions) { c, _ in Self.versions(c, "v2.0", "/network/v2.0/", status: .ok) }
        router.add(.get, "/network/v2.0/networks", .networksV2) { c, _ in
            let networks = try Self.filtered(inventory.networks, c, id: \.id, name: \.name)
            return APIResponse.list("networks", networks) { n, w in Self.network(n, c.caller.projectID, into: &w) }
        }
        router.add(.get, "/network/v2.0/networks/{id}", .networksV2) { c, p in
            guard let network = inventory.networks.first(where: { $0.id == p["id"] }) else {
                throw ComputeError.notFound("Network \(p["id"]) could not be found.")
            }
            return APIResponse.document("network") { w in Self.network(network, c.caller.projectID, into: &w) }
        }
        router.add(.get, "/network/v2.0/subnets", .subnetsV2) { c, _ in
            let networks = try Self.filtered(inventory.networks, c, id: Self.subnetID, name: \.name)
            return APIResponse.list("subnets", networks) { n, w in Self.subnet(n, c.caller.projectID, into: &w) }
        }
        router.add(.get, "/network/v2.0/subnets/{id}", .subnetsV2) { c, p in
            guard let network = inventory.networks.first(where: { Self.subnetID($0) == p["id"] }) else {
                throw ComputeError.notFound("Subnet \(p["id"]) could not be found.")
            }
            return APIResponse.document("subnet") { w in Self.subnet(network, c.caller.projectID, into: &w) }
        }
        router.add(.get, "/network/v2.0/ports", .portsV2) { c, _ in
            let query = try QueryParameters(c.request.query)
            let filter = ServerFilter(projectID: c.caller.isAdmin ? try query.value("project_id") : c.caller.projectID)
            let device = try query.value("device_id")
            let network = try query.value("network_id")
            // A server's port is asked for by its id (openstacksdk, for a server's addresses).
            let candidates =
                try device.map { id throws(ComputeError) in try server(id, c.caller).map { [$0] } ?? [] }
                ?? inventory.servers(matching: filter, limit: 1000, marker: nil)
            let servers = candidates.filter { server in
                server.address != nil
                    && network.map { id in inventory.networks.first { $0.id == id }?.name == server.network } ?? true
            }
            return APIResponse.list("ports", servers) { s, w in port(s, into: &w) }
        }
        // Neutron's quotas (`openstack quota show` asks for them): projects here create no
        // networks, ports, routers or floating IPs, so those limits are 0; security groups and
        // their rules have Neutron's default limits (NeutronSecurityGroups).
        router.add(.get, "/network/v2.0/quotas/{project}", .networkQuotas) { _, _ in
            APIResponse.document("quota") { w in
                w.beginObject()
                for resource: StaticString in ["network", "subnet", "port", "router", "floatingip"] { w.field(resource, 0) }
                w.field("security_group", Identity.maxSecurityGroupsPerProject)
                w.field("security_group_rule", Identity.maxRulesPerProject)
                w.endObject()
            }
        }
    }

    /// Glance's image list: `name`, `id` (or `id=in:A,B`), `visibility`, `status`, `marker`
    /// and `limit` (every image here is public and active).
    static func imageList(_ images: [Image], _ query: QueryParameters) throws -> APIResponse {
        var images = images
        if let name = try query.value("name") { images = images.filter { $0.name == name } }
        if let ids = try query.value("id") {
            let wanted = Set((ids.hasPrefix("in:") ? ids.dropFirst(3) : Substring(ids)).split(separator: ",").map(String.init))
            images = images.filter { wanted.contains($0.id) }
        }
        if let visibility = try query.value("visibility"), visibility != "public", visibility != "all" { images = [] }
        if let status = try query.value("status"), status != "active" { images = [] }
        if let marker = try query.value("marker") {
            guard let index = images.firstIndex(where: { $0.id == marker }) else {
                throw APIError.badRequest("marker \(marker.prefix(64)) could not be found.")
            }
            images = Array(images[(index + 1)...])
        }
        if let limit = try query.integer("limit", in: 0...1000) { images = Array(images.prefix(limit)) }
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

    static func versions(_ c: RequestContext, _ id: String, _ path: String, status: HTTPResponse.Status) -> APIResponse {
        var w = JSONWriter()
        w.beginObject()
        w.key("versions")
        w.beginArray()
        w.beginObject()
        w.field("id", id)
        w.field("status", "CURRENT")
        w.key("links")
        w.beginArray()
        NovaLinks.link("self", (c.request.baseURL ?? "http://localhost") + path, into: &w)
        w.endArray()
        w.endObject()
        w.endArray()
        w.endObject()
        return .json(status, w.bytes)
    }

    static func filtered(
        _ networks: [NetworkConfig], _ c: RequestContext, id: (NetworkConfig) -> String, name: (NetworkConfig) -> String
    ) throws -> [NetworkConfig] {
        let query = try QueryParameters(c.request.query)
        var networks = networks
        if let wanted = try query.value("name") { networks = networks.filter { name($0) == wanted } }
        if let wanted = try query.value("id") { networks = networks.filter { id($0) == wanted } }
        // Every network here is shared and internal: asking for external ones finds none.
        if try query.value("router:external").map({ $0.lowercased() == "true" }) == true { networks = [] }
        return networks
    }

    static func subnetID(_ network: NetworkConfig) -> String { "\(network.id)-subnet" }

    static func network(_ network: NetworkConfig, _ projectID: String, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", network.id)
        w.field("name", network.name)
        w.field("status", "ACTIVE")
        w.field("admin_state_up", true)
        w.field("shared", true)
        w.field("router:external", false)
        w.field("mtu", 1500)
        w.field("description", "IPv4 \(network.cidr)")
        w.key("subnets")
        w.beginArray()
        w.string(subnetID(network))
        w.endArray()
        w.field("project_id", projectID)
        w.field("tenant_id", projectID)
        w.endObject()
    }

    static func subnet(_ network: NetworkConfig, _ projectID: String, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", subnetID(network))
        w.field("name", network.name)
        w.field("network_id", network.id)
        w.field("ip_version", 4)
        w.field("cidr", network.cidr)
        w.field("gateway_ip", IPv4Address(network.network.value + 1).description)
        w.field("enable_dhcp", true)
        w.key("allocation_pools")
        w.beginArray()
        w.beginObject()
        w.field("start", network.firstHost.description)
        w.field("end", network.lastHost.description)
        w.endObject()
        w.endArray()
        w.field("project_id", projectID)
        w.field("tenant_id", projectID)
        w.endObject()
    }

    /// The server `id` names, if the caller may see it.
    private func server(_ id: String, _ caller: Caller) throws(ComputeError) -> Server? {
        do {
            return try inventory.server(.id(id), caller: caller)
        } catch {
            if case .notFound = error { return nil }
            throw error
        }
    }

    /// A server's one port: its id is the server's (a server has one address here).
    func port(_ server: Server, into w: inout JSONWriter) {
        let network = inventory.networks.first { $0.name == server.network }
        let address = server.address?.value ?? 0
        w.beginObject()
        w.field("id", server.id)
        w.field("name", "")
        w.field("network_id", network?.id ?? "")
        w.field("device_id", server.id)
        w.field("device_owner", "compute:nova")
        w.field("status", "ACTIVE")
        w.field("admin_state_up", true)
        w.field(
            "mac_address",
            "fa:16:3e:"
                + [16, 8, 0].map { shift in Secrets.hex([UInt8(truncatingIfNeeded: address >> UInt32(shift))]) }
                .joined(separator: ":"))
        w.key("fixed_ips")
        w.beginArray()
        w.beginObject()
        w.field("subnet_id", network.map(Self.subnetID) ?? "")
        w.field("ip_address", server.address?.description ?? "")
        w.endObject()
        w.endArray()
        w.key("security_groups")
        w.beginArray()
        w.endArray()
        w.field("project_id", server.projectID)
        w.field("tenant_id", server.projectID)
        w.endObject()
    }
}
