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
/// discovery here; servers with power actions (NovaServers.swift), flavors with extra specs
/// and access (NovaFlavors.swift), quotas and limits (NovaQuotas.swift), and read-only Glance-
/// and Neutron-shaped catalogs of the configured images and networks (NovaCatalogs.swift).
struct NovaAPI: Sendable {
    let inventory: Inventory
    /// Where key pairs and server groups are kept (with users): none, no `/os-keypairs` or
    /// `/os-server-groups`, a `key_name` is not checked and a server joins no group.
    let identity: Identity?

    static let maxLimit = 1000

    func register(into router: inout Router<RequestContext>) {
        router.add(.get, "/", .versions) { context, _ in versions(context) }
        router.add(.get, "/v2.1", .versions) { context, _ in
            APIResponse.document("version") { w in NovaView.version(links: Self.links(context), mediaTypes: true, into: &w) }
        }
        registerServers(into: &router)
        registerMetadata(into: &router)
        registerTags(into: &router)
        registerServerDetails(into: &router)
        registerInstanceActions(into: &router)
        if let identity {
            registerKeypairs(identity, into: &router)
            registerServerGroups(identity, into: &router)
        }
        registerFlavors(into: &router)
        registerQuotas(into: &router)
        registerCatalogs(into: &router)
    }

    /// Adds a `/v2.1` route whose handler runs at the negotiated microversion. Its response,
    /// and every fault, carries the version headers; before `since` the route does not exist
    /// (404, as in Nova).
    func route(
        _ router: inout Router<RequestContext>, _ method: HTTPRequest.Method, _ path: String, _ policy: Policy,
        since: Microversion = .minimum, _ handler: @escaping @Sendable (NovaContext, RouteParameters) throws -> APIResponse
    ) {
        router.add(method, "/v2.1" + path, policy, responseFields: Self.versionFields) { context, parameters in
            let version = try Microversion.negotiate(context.request.headerFields)
            guard version >= since else { throw APIError.notFound() }
            return try handler(NovaContext(context: context, version: version, links: Self.links(context)), parameters)
        }
    }

    /// The version headers of a response (none when the request's version is malformed or out
    /// of range: that fault is about the version itself).
    static let versionFields: Router<RequestContext>.ResponseFields = { request in
        (try? Microversion.negotiate(request.headerFields))?.responseFields ?? [:]
    }

    static func links(_ context: RequestContext) -> NovaLinks {
        NovaLinks(base: context.request.baseURL ?? "http://localhost")
    }

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
