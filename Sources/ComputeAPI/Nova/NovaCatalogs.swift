import ComputeCore
import HTTPTypes

/// Read-only catalogs: Glance-shaped images and Neutron-shaped networks from the worker's
/// configuration, and Keystone-shaped projects (a project is a name tokens and servers carry).
extension NovaAPI {
    func registerCatalogs(into router: inout Router<RequestContext>) {
        route(&router, .get, "/images", .images) { n, _ in try listImages(n) }
        route(&router, .get, "/images/{id}", .images) { _, p in
            guard let image = inventory.images.first(where: { $0.id == p["id"] }) else {
                throw ComputeError.notFound("Image \(p["id"]) could not be found.")
            }
            var w = JSONWriter()
            NovaView.image(image, into: &w)
            return .json(.ok, w.bytes)
        }
        // The network client asks `/networks` after discovery, `/v2.0/networks` with a token.
        for prefix in ["", "/v2.0"] {
            route(&router, .get, prefix + "/networks", .networks) { n, _ in try listNetworks(n) }
            route(&router, .get, prefix + "/networks/{id}", .networks) { n, p in
                guard let network = inventory.networks.first(where: { $0.id == p["id"] }) else {
                    throw ComputeError.notFound("Network \(p["id"]) could not be found.")
                }
                return APIResponse.document("network") { w in ServiceEndpoints.network(network, n.caller.projectID, into: &w) }
            }
        }
        // Nova's proxy of the networks (`os-networks`, gone at 2.36): what clients without a
        // network service (tempest with Neutron off) find a network's id by its `label` with.
        route(&router, .get, "/os-networks", .novaNetworks) { n, _ in
            guard n.version < Microversion(36) else { throw APIError.notFound() }
            var w = JSONWriter()
            w.beginObject()
            w.key("networks")
            w.beginArray()
            for network in inventory.networks { NovaView.novaNetwork(network, into: &w) }
            w.endArray()
            w.endObject()
            return .json(.ok, w.bytes)
        }
        route(&router, .get, "/os-networks/{id}", .novaNetworks) { n, p in
            guard n.version < Microversion(36), let network = inventory.networks.first(where: { $0.id == p["id"] }) else {
                throw ComputeError.notFound("Network \(p["id"]) could not be found.")
            }
            return APIResponse.document("network") { w in NovaView.novaNetwork(network, into: &w) }
        }
        // For `openstack quota show PROJECT`: members find their own project, admins any; to a
        // member another project does not exist.
        route(&router, .get, "/projects/{id}", .projects) { n, p in
            guard n.caller.canReach(projectID: p["id"]) else {
                throw ComputeError.notFound("Could not find project: \(p["id"]).")
            }
            return APIResponse.document("project") { w in NovaView.project(p["id"], links: n.links, into: &w) }
        }
        route(&router, .get, "/projects", .projects) { n, _ in
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

    func listImages(_ n: NovaContext) throws -> APIResponse {
        try ServiceEndpoints.imageList(inventory.images, try n.query())
    }

    func listNetworks(_ n: NovaContext) throws -> APIResponse {
        let query = try n.query()
        var networks = inventory.networks
        if let name = try query.value("name") { networks = networks.filter { $0.name == name } }
        if let id = try query.value("id") { networks = networks.filter { $0.id == id } }
        var w = JSONWriter()
        w.beginObject()
        w.key("networks")
        w.beginArray()
        for network in networks { ServiceEndpoints.network(network, n.caller.projectID, into: &w) }
        w.endArray()
        w.endObject()
        return .json(.ok, w.bytes)
    }

}
