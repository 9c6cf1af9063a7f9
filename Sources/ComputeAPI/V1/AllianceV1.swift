import ComputeCore
import HTTPTypes

/// The Alliance v1 API of the seed: `/servers` and `/flavors` (CONTRACT §3).
struct AllianceV1: Sendable {
    let inventory: Inventory
    let views: ServerViews

    static let listLimit = 1...1000
    static let listFilters = ["name", "status", "flavor", "reservation_id", "all_tenants"]

    func register(into router: inout Router<RequestContext>) {
        router.add(.get, "/servers", .v1ServersIndex) { context, _ in try listServers(context) }
        router.add(.post, "/servers", .v1ServersCreate) { context, _ in try createServers(context) }
        router.add(.get, "/servers/{ref}", .v1ServersShow) { context, p in
            .json(.ok, V1View.serverDocument(try inventory.server(.idOrName(p["ref"]), caller: context.caller), views: views))
        }
        router.add(.patch, "/servers/{ref}", .v1ServersUpdate) { context, p in
            let request = try context.decodeBody(V1ServerUpdateRequest.self)
            let server = try inventory.updateServer(
                .idOrName(p["ref"]), caller: context.caller, with: request.update)
            return .json(.ok, V1View.serverDocument(server, views: views))
        }
        router.add(.delete, "/servers/{ref}", .v1ServersDelete) { context, p in
            try inventory.deleteServer(.idOrName(p["ref"]), caller: context.caller)
            return .empty(.noContent)
        }
        router.add(.get, "/flavors", .v1FlavorsIndex) { context, _ in try listFlavors(context.caller) }
        router.add(.post, "/flavors", .v1FlavorsCreate) { context, _ in
            let request = try context.decodeBody(V1FlavorCreateRequest.self)
            return .json(.ok, V1View.flavorDocument(try inventory.createFlavor(request.draft)))
        }
        router.add(.get, "/flavors/{ref}", .v1FlavorsShow) { context, p in
            .json(.ok, V1View.flavorDocument(try inventory.flavor(.idOrName(p["ref"]), visibleTo: context.caller)))
        }
        router.add(.delete, "/flavors/{ref}", .v1FlavorsDelete) { _, p in
            try inventory.deleteFlavor(.idOrName(p["ref"]))
            return .empty(.noContent)
        }
    }

    /// `GET /servers?name=&status=&flavor=&reservation_id=&limit=&marker=`, newest first.
    private func listServers(_ context: RequestContext) throws -> APIResponse {
        let query = try QueryParameters(context.request.query)
        try query.check(allowed: Self.listFilters + ["limit", "marker"])
        var filter = ServerFilter(projectID: try context.listingProject(query, allProjects: .v1ServersAllProjects))
        filter.name = try query.value("name")
        filter.flavor = try query.value("flavor")
        filter.reservationID = try query.value("reservation_id")
        if let status = try query.value("status") {
            guard let value = ServerStatus(rawValue: status.uppercased()) else {
                throw APIError.badRequest(
                    "Invalid value for query parameter 'status': '\(status.prefix(64))' is not one of \(ServerStatus.allCases.map(\.rawValue).joined(separator: ", "))."
                )
            }
            filter.status = value
        }
        let limit = try query.integer("limit", in: Self.listLimit) ?? Self.listLimit.upperBound
        let servers = try inventory.servers(matching: filter, limit: limit, marker: query.value("marker"))

        var w = JSONWriter(capacity: 128 + servers.count * 420)
        w.beginObject()
        V1View.servers(servers, views: views, into: &w)
        if servers.count == limit, let last = servers.last {
            // A full page: link to the next one, with the same filters.
            var next = query.pairs.filter { Self.listFilters.contains($0.name) }
            next += [("limit", String(limit)), ("marker", last.id)]
            let href = "/servers?" + next.map { "\($0.name)=\(PercentDecoding.encode($0.value))" }.joined(separator: "&")
            w.key("servers_links")
            w.beginArray()
            w.beginObject()
            w.field("rel", "next")
            w.field("href", href)
            w.endObject()
            w.endArray()
        }
        w.endObject()
        return .json(.ok, w.bytes)
    }

    /// `POST /servers`: one server (`{"server": …}`) or several (`{"reservation_id", "servers"}`).
    private func createServers(_ context: RequestContext) throws -> APIResponse {
        let request = try context.decodeBody(V1ServerCreateRequest.self)
        let servers = try inventory.createServers(request.draft, caller: context.caller)
        if request.draft.maxCount == 1 && !request.returnReservationID {
            return .json(.ok, V1View.serverDocument(servers[0], views: views))
        }
        var w = JSONWriter(capacity: 64 + servers.count * 560)
        w.beginObject()
        w.field("reservation_id", servers[0].reservationID)
        if !request.returnReservationID { V1View.servers(servers, views: views, into: &w) }
        w.endObject()
        return .json(.ok, w.bytes)
    }

    private func listFlavors(_ caller: Caller) throws(ComputeError) -> APIResponse {
        let flavors = try inventory.flavors(visibleTo: caller)
        var w = JSONWriter(capacity: 64 + flavors.count * 200)
        w.beginObject()
        w.key("flavors")
        w.beginArray()
        for flavor in flavors { V1View.flavor(flavor, into: &w) }
        w.endArray()
        w.endObject()
        return .json(.ok, w.bytes)
    }
}
