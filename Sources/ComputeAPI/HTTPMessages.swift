public import HTTPTypes

/// An HTTP request as the API sees it, whatever transport delivered it.
public struct APIRequest: Sendable {
    public var method: HTTPRequest.Method
    /// The path exactly as the client sent it, still percent-encoded, without the query.
    public var path: String
    /// The raw query string, without `?`.
    public var query: String
    public var headerFields: HTTPFields
    public var body: RequestBody
    /// The id nginx gave the request (`req-` and a UUID), for logs and error reports; the
    /// service makes one when there is none.
    public var requestID: String?
    /// How the client reached the service, for absolute links; nil when unknown.
    public var origin: Origin?
    /// True when nginx served the request through its location for status pages, whose
    /// `allow`/`deny` decide who may see them (`ALLIANCE_STATUS_ACCESS=granted`).
    public var statusAccess: Bool

    /// `scheme://host[:port]` the client used (the port left out when it is the scheme's default).
    public var baseURL: String? { origin?.url }

    public init(
        method: HTTPRequest.Method, path: String, query: String = "", headerFields: HTTPFields = [:],
        body: RequestBody = .complete([]), requestID: String? = nil, origin: Origin? = nil, statusAccess: Bool = false
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headerFields = headerFields
        self.body = body
        self.requestID = requestID
        self.origin = origin
        self.statusAccess = statusAccess
    }

    /// Splits a request target (`/servers?limit=2`) into path and query.
    public init(method: HTTPRequest.Method, target: String, headerFields: HTTPFields = [:], body: [UInt8] = []) {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        self.init(
            method: method, path: String(parts[0]), query: parts.count > 1 ? String(parts[1]) : "",
            headerFields: headerFields, body: .complete(body))
    }
}

/// Where a client reached the service: kept in pieces, joined only when a link needs it.
public struct Origin: Sendable, Equatable {
    public var scheme: String
    public var host: String
    public var port: String

    public init(scheme: String, host: String, port: String) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    public var url: String {
        let isDefault = port.isEmpty || (scheme == "https" && port == "443") || (scheme == "http" && port == "80")
        let hostHasPort = host.contains(":") && !host.hasSuffix("]")
        return "\(scheme)://\(host)" + (isDefault || hostHasPort ? "" : ":\(port)")
    }
}

/// A request body, or the fact that it was larger than the limit (and so was not read).
public enum RequestBody: Sendable, Equatable {
    case complete([UInt8])
    case exceedsLimit
}

/// An HTTP response from the API: status, headers and the complete body.
public struct APIResponse: Sendable {
    public var status: HTTPResponse.Status
    public var headerFields: HTTPFields
    public var body: [UInt8]
    /// Who made the request (`user@project`), once its token was accepted: for the log line.
    public var principal: String?
    /// The route that answered (`/servers/{ref}`); nil when none matched. For logs and metrics.
    public var route: String?

    public init(status: HTTPResponse.Status, headerFields: HTTPFields = [:], body: [UInt8] = []) {
        self.status = status
        self.headerFields = headerFields
        self.body = body
    }

    /// A JSON response.
    public static func json(_ status: HTTPResponse.Status, _ body: [UInt8]) -> APIResponse {
        APIResponse(status: status, headerFields: [.contentType: "application/json"], body: body)
    }

    /// A response with no body (204, or 202 for Nova's actions).
    public static func empty(_ status: HTTPResponse.Status) -> APIResponse {
        APIResponse(status: status)
    }
}

extension APIResponse {
    /// `{"<key>": …}`, the value written by `write`: the one shape every single-item answer
    /// of the OpenStack surfaces takes (Nova, Keystone, Glance, Neutron).
    static func document(
        _ key: StaticString, status: HTTPResponse.Status = .ok, capacity: Int = 512, _ write: (inout JSONWriter) -> Void
    ) -> APIResponse {
        var w = JSONWriter(capacity: capacity)
        w.beginObject()
        w.key(key)
        write(&w)
        w.endObject()
        return .json(status, w.bytes)
    }

    /// `{"<key>": [item…]}`, then whatever `after` adds to the object (Keystone's `links`).
    static func list<Item>(
        _ key: String, _ items: [Item], itemBytes: Int = 512, _ write: (Item, inout JSONWriter) -> Void,
        after: (inout JSONWriter) -> Void = { _ in }
    ) -> APIResponse {
        var w = JSONWriter(capacity: 128 + items.count * itemBytes)
        w.beginObject()
        w.key(key)
        w.beginArray()
        for item in items { write(item, &w) }
        w.endArray()
        after(&w)
        w.endObject()
        return .json(.ok, w.bytes)
    }
}
