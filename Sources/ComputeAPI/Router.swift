public import HTTPTypes

/// Path parameters of a matched route, percent-decoded.
public struct RouteParameters: Sendable, Equatable {
    private var values: [String: String] = [:]

    public init(_ values: [String: String] = [:]) { self.values = values }

    /// The value of `{name}`; routes only declare names their handlers read.
    public subscript(_ name: String) -> String { values[name] ?? "" }
}

/// Maps method and path to a handler. Paths match on the raw (still encoded) literal
/// segments, so `%2F` inside a parameter never splits it; parameters are decoded afterwards.
public struct Router<Context: Sendable>: Sendable {
    public typealias Handler = @Sendable (Context, RouteParameters) throws -> APIResponse
    /// Headers every response of a route carries, its faults included (Nova's microversion).
    public typealias ResponseFields = @Sendable (APIRequest) -> HTTPFields

    private enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    private struct Route: Sendable {
        var method: HTTPRequest.Method
        var pattern: String
        var segments: [Segment]
        var policy: Policy
        var responseFields: ResponseFields?
        var handler: Handler
    }

    /// A matched route.
    public struct Match: Sendable {
        /// The route as registered (`/servers/{ref}`): for logs and metrics, never the raw path.
        public var pattern: String
        public var handler: Handler
        public var parameters: RouteParameters
        public var policy: Policy
        public var responseFields: ResponseFields?
    }

    /// A route as the policy table shows it.
    public struct Description: Sendable, Equatable {
        public var method: String
        public var path: String
        public var policy: Policy
    }

    private var routes: [Route] = []

    public init() {}

    /// Adds a route; `pattern` is like `/servers/{ref}`, `policy` says who may call it.
    public mutating func add(
        _ method: HTTPRequest.Method, _ pattern: String, _ policy: Policy, responseFields: ResponseFields? = nil,
        _ handler: @escaping Handler
    ) {
        let segments = pattern.split(separator: "/", omittingEmptySubsequences: true).map { part -> Segment in
            part.hasPrefix("{") && part.hasSuffix("}") ? .parameter(String(part.dropFirst().dropLast())) : .literal(String(part))
        }
        routes.append(
            Route(
                method: method, pattern: pattern, segments: segments, policy: policy, responseFields: responseFields,
                handler: handler))
    }

    /// Every route, in the order added.
    public var descriptions: [Description] {
        routes.map { Description(method: $0.method.rawValue, path: $0.pattern, policy: $0.policy) }
    }

    /// The handler for a request, or a 404 (no such path), 405 (path exists, method doesn't;
    /// with `Allow`) or 400 (malformed percent-encoding in a parameter).
    public func resolve(_ method: HTTPRequest.Method, path: String) throws(APIError) -> Match {
        let segments = Self.split(path)
        let effective = method == .head ? .get : method
        var chosen: Route? = nil
        var pathExists = false
        for route in routes where Self.matches(route.segments, segments) {
            pathExists = true
            if route.method == effective {
                chosen = route
                break
            }
        }
        guard let route = chosen else {
            guard pathExists else { throw .notFound() }
            var allowed = routes.filter { Self.matches($0.segments, segments) }.map(\.method.rawValue)
            if allowed.contains("GET") { allowed.append("HEAD") }
            throw APIError(
                .methodNotAllowed, "Method \(method.rawValue) is not allowed on this resource.",
                headerFields: [.allow: allowed.joined(separator: ", ")])
        }
        var parameters: [String: String] = [:]
        for (segment, raw) in zip(route.segments, segments) {
            guard case .parameter(let name) = segment else { continue }
            guard let value = PercentDecoding.decode(raw, plusIsSpace: false) else {
                throw .badRequest("Malformed path: invalid percent-encoding or UTF-8 in '\(raw.prefix(64))'.")
            }
            parameters[name] = value
        }
        return Match(
            pattern: route.pattern, handler: route.handler, parameters: RouteParameters(parameters), policy: route.policy,
            responseFields: route.responseFields)
    }

    /// `/servers/abc/` → `["servers", "abc"]`. One trailing slash is ignored; an empty segment
    /// elsewhere (`/servers//abc`) stays, and so matches nothing.
    private static func split(_ path: String) -> [Substring] {
        var path = Substring(path)
        if path.hasPrefix("http://") || path.hasPrefix("https://") {
            // An absolute-form request target: keep only its path.
            let afterScheme = path[path.index(path.firstIndex(of: ":")!, offsetBy: 3)...]
            path = afterScheme.firstIndex(of: "/").map { afterScheme[$0...] } ?? "/"
        }
        guard path.hasPrefix("/") else { return [""] }
        var segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        if segments.count > 1, segments.last == "" { segments.removeLast() }
        if segments == [""] { return [] }
        return segments
    }

    private static func matches(_ pattern: [Segment], _ segments: [Substring]) -> Bool {
        guard pattern.count == segments.count else { return false }
        for (segment, raw) in zip(pattern, segments) {
            switch segment {
            case .literal(let literal): if !raw.utf8.elementsEqual(literal.utf8) { return false }
            case .parameter: if raw.isEmpty { return false }
            }
        }
        return true
    }
}
