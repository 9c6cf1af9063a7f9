import ComputeCore
import HTTPTypes

/// Flavors: list, show, create, delete, description (2.55), extra specs and access.
extension NovaAPI {
    func registerFlavors(into router: inout Router<RequestContext>) {
        route(&router, .get, "/flavors", .flavorsIndex) { n, _ in try listFlavors(n, detailed: false) }
        route(&router, .get, "/flavors/detail", .flavorsIndex) { n, _ in try listFlavors(n, detailed: true) }
        route(&router, .post, "/flavors", .flavorsCreate) { n, _ in
            let request = try n.decodeBody(NovaFlavorCreateRequest.self)
            return flavorDocument(try inventory.createFlavor(request.draft), n)
        }
        route(&router, .get, "/flavors/{id}", .flavorsShow) { n, p in
            flavorDocument(try inventory.flavor(.id(p["id"]), visibleTo: n.caller), n)
        }
        route(&router, .put, "/flavors/{id}", .flavorsUpdate, since: Microversion(55)) { n, p in
            let request = try n.decodeBody(NovaFlavorUpdateRequest.self)
            let flavor = try inventory.updateFlavor(.id(p["id"])) { $0.description = request.description }
            return flavorDocument(flavor, n)
        }
        route(&router, .delete, "/flavors/{id}", .flavorsDelete) { _, p in
            try inventory.deleteFlavor(.id(p["id"]))
            return .empty(.accepted)
        }
        route(&router, .get, "/flavors/{id}/os-flavor-access", .flavorAccessList) { _, p in
            let flavor = try inventory.flavor(.id(p["id"]))
            guard !flavor.isPublic else { throw ComputeError.notFound("Access list not available for public flavors.") }
            return flavorAccessDocument(flavor)
        }
        route(&router, .post, "/flavors/{id}/action", .flavorAccessChange) { n, p in
            let request = try n.decodeBody(NovaFlavorActionRequest.self)
            let flavor =
                request.grants
                ? try inventory.addFlavorAccess(.id(p["id"]), projectID: request.projectID)
                : try inventory.removeFlavorAccess(.id(p["id"]), projectID: request.projectID)
            return flavorAccessDocument(flavor)
        }
        route(&router, .get, "/flavors/{id}/os-extra_specs", .extraSpecsIndex) { n, p in
            extraSpecsDocument(try inventory.flavor(.id(p["id"]), visibleTo: n.caller).extraSpecs, wrapped: true)
        }
        route(&router, .post, "/flavors/{id}/os-extra_specs", .extraSpecsCreate) { n, p in
            let request = try n.decodeBody(NovaExtraSpecsRequest.self)
            _ = try inventory.updateFlavor(.id(p["id"])) { flavor in flavor.extraSpecs.merge(request.specs) { $1 } }
            return extraSpecsDocument(request.specs, wrapped: true)
        }
        route(&router, .get, "/flavors/{id}/os-extra_specs/{key}", .extraSpecsShow) { n, p in
            let flavor = try inventory.flavor(.id(p["id"]), visibleTo: n.caller)
            guard let value = flavor.extraSpecs[p["key"]] else {
                throw ComputeError.notFound("Flavor \(flavor.id) has no extra specs with key \(p["key"]).")
            }
            return extraSpecsDocument([p["key"]: value], wrapped: false)
        }
        route(&router, .put, "/flavors/{id}/os-extra_specs/{key}", .extraSpecsUpdate) { n, p in
            let request = try n.decodeBody(NovaExtraSpecsRequest.self)
            guard request.specs.count == 1, let value = request.specs[p["key"]] else {
                throw ComputeError.invalidInput("The request body must hold exactly the key of the URL, \(p["key"]).")
            }
            _ = try inventory.updateFlavor(.id(p["id"])) { $0.extraSpecs[p["key"]] = value }
            return extraSpecsDocument(request.specs, wrapped: false)
        }
        route(&router, .delete, "/flavors/{id}/os-extra_specs/{key}", .extraSpecsDelete) { _, p in
            _ = try inventory.updateFlavor(.id(p["id"])) { flavor throws(ComputeError) in
                guard flavor.extraSpecs.removeValue(forKey: p["key"]) != nil else {
                    throw .notFound("Flavor \(flavor.id) has no extra specs with key \(p["key"]).")
                }
            }
            return .empty(.ok)
        }
    }

    static let flavorListParameters: Set<String> = ["is_public", "minRam", "minDisk", "limit", "marker", "sort_key", "sort_dir"]

    func listFlavors(_ n: NovaContext, detailed: Bool) throws -> APIResponse {
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
        var flavors = try inventory.flavors().filter { listed($0) && $0.ram >= minRam && $0.disk >= minDisk }
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

    func flavorDocument(_ flavor: Flavor, _ n: NovaContext) -> APIResponse {
        APIResponse.document("flavor", capacity: 600) { w in
            NovaView.flavor(flavor, detailed: true, version: n.version, links: n.links, into: &w)
        }
    }

    /// `{"flavor_access": [{"flavor_id", "tenant_id"}…]}`.
    func flavorAccessDocument(_ flavor: Flavor) -> APIResponse {
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

    func extraSpecsDocument(_ specs: [String: String], wrapped: Bool) -> APIResponse {
        var w = JSONWriter()
        if wrapped {
            w.beginObject()
            w.key("extra_specs")
        }
        w.stringDictionary(specs)
        if wrapped { w.endObject() }
        return .json(.ok, w.bytes)
    }

}
