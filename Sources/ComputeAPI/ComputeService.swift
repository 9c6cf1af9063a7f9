public import ComputeCore
import CoreMetrics
import HTTPTypes
public import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a handler gets: the request and who is making it.
public struct RequestContext: Sendable {
    public var request: APIRequest
    public var caller: Caller

    /// The body decoded as `T` (Nova types read it at `microversion`); any problem is a 400
    /// naming the field.
    func decodeBody<T: Decodable>(_ type: T.Type, microversion: Microversion? = nil) throws(ComputeError) -> T {
        guard case .complete(let bytes) = request.body else {
            throw .invalidInput("The request body is too large.")
        }
        return try RequestDecoding.decode(type, from: bytes, microversion: microversion)
    }

    /// For what depends on the request rather than the route (`all_tenants`, another project's
    /// limits): 403 unless the caller satisfies `policy` (an admin rule).
    func authorize(_ policy: Policy) throws(ComputeError) {
        guard caller.isAdmin else { throw .forbidden(policy.refusal) }
    }

    /// The project scope of a listing: the caller's project, or every project for an admin
    /// who asks with `all_tenants` (`policy`; a member who asks gets a 403).
    func listingProject(_ query: QueryParameters, allProjects policy: Policy) throws -> String? {
        guard try query.boolean("all_tenants") == true else { return caller.projectID }
        try authorize(policy)
        return nil
    }
}

/// The whole HTTP API, transport-free: give it an `APIRequest`, get an `APIResponse`.
/// Every error becomes a JSON fault here; nothing escapes as a crash or an HTML page.
public final class ComputeService: Sendable {
    public struct Configuration: Sendable {
        /// Larger bodies are refused with 413 (nginx refuses them first; this holds for any
        /// client that reaches the socket directly).
        public var maxBodyBytes: Int
        /// Reported by `/healthz`.
        public var version: String
        /// Who presents which token (`X-Auth-Token`).
        public var authenticator: any Authenticator
        /// The identity API (`/identity/v3`) over these rules; nil: no such routes (only the
        /// CLI's tokens).
        public var identity: Identity?
        /// Requests at least this slow are counted in `/healthz` and logged as slow.
        public var slowRequestMilliseconds: Int
        /// The metrics backend's exposition (Prometheus text) for `GET /metrics`; nil: no such
        /// route. The backend is chosen where the program is put together; this layer only
        /// records through swift-metrics.
        public var metricsExposition: (@Sendable () -> [UInt8])?

        public init(
            maxBodyBytes: Int = 64 * 1024, version: String, authenticator: any Authenticator, identity: Identity? = nil,
            slowRequestMilliseconds: Int = 1000, metricsExposition: (@Sendable () -> [UInt8])? = nil
        ) {
            self.maxBodyBytes = maxBodyBytes
            self.version = version
            self.authenticator = authenticator
            self.identity = identity
            self.slowRequestMilliseconds = slowRequestMilliseconds
            self.metricsExposition = metricsExposition
        }
    }

    public let inventory: Inventory
    /// Served, in flight, slow: updated by the transport, reported by `/healthz`.
    public let statistics: RequestStatistics
    private let configuration: Configuration
    private let logger: Logger
    private let router: Router<RequestContext>

    /// The API over `inventory` (the rules over a ready store).
    public init(
        inventory: Inventory, configuration: Configuration, logger: Logger, startedAt: Timestamp = SystemClock().now()
    ) {
        self.inventory = inventory
        self.configuration = configuration
        self.logger = logger
        let statistics = RequestStatistics(slowThresholdMicroseconds: configuration.slowRequestMilliseconds * 1000)
        self.statistics = statistics
        var router = Router<RequestContext>()
        AllianceV1(inventory: inventory, views: ServerViews()).register(into: &router)
        NovaAPI(inventory: inventory, identity: configuration.identity).register(into: &router)
        ServiceEndpoints(inventory: inventory).register(into: &router)
        if let identity = configuration.identity {
            KeystoneAPI(identity: identity).register(into: &router)
            NeutronSecurityGroups(inventory: inventory, identity: identity).register(into: &router)
        }
        let health = HealthEndpoint(
            inventory: inventory, statistics: statistics, version: configuration.version, startedAt: startedAt,
            identity: configuration.identity)
        health.register(into: &router)
        if let exposition = configuration.metricsExposition {
            MetricsEndpoint(health: health, exposition: exposition).register(into: &router)
        }
        self.router = router
    }

    /// Every route and the policy it declares, in the order they are matched.
    public var routes: [Router<RequestContext>.Description] { router.descriptions }

    public func respond(to request: APIRequest) -> APIResponse {
        var request = request
        let requestID = request.requestID ?? Self.newRequestID()
        request.requestID = requestID
        var response: APIResponse
        var principal: String? = nil
        var matched: Router<RequestContext>.Match? = nil
        do {
            if request.body == .exceedsLimit {
                throw APIError(.contentTooLarge, "The request body is larger than \(configuration.maxBodyBytes) bytes.")
            }
            let match = try router.resolve(request.method, path: request.path)
            matched = match
            var caller = try caller(of: request, for: match.policy)
            caller.requestID = requestID
            if caller.userID != Self.nobody.userID { principal = "\(caller.userID)@\(caller.projectID)" }
            try check(match.policy, caller, match.parameters)
            response = try match.handler(RequestContext(request: request, caller: caller), match.parameters)
        } catch {
            if !(error is APIError || error is ComputeError) {
                var logger = logger
                logger[metadataKey: "request_id"] = "\(requestID)"
                logger.error("unexpected error in \(request.method.rawValue) \(request.path): \(String(reflecting: error))")
            }
            let fault = Fault(error)
            response = Self.isIdentityPath(request.path) ? fault.keystoneResponse : fault.response
        }
        if let fields = matched?.responseFields { response.headerFields.append(contentsOf: fields(request)) }
        if request.method == .head {
            response.headerFields[.contentLength] = String(response.body.count)
            response.body = []
        }
        // What Nova sends, and what OpenStack clients read (tempest fails without it).
        response.headerFields[.openStackRequestID] = requestID
        response.headerFields[.computeRequestID] = requestID
        response.principal = principal
        response.route = matched?.pattern
        return response
    }

    /// Paths whose faults take Keystone's shape.
    static func isIdentityPath(_ path: String) -> Bool { path == "/identity" || path.hasPrefix("/identity/") }

    /// `req-` and a UUID, as Nova makes request ids (nginx makes the same for every request it
    /// passes; this is for requests that came without one).
    public static func newRequestID() -> String { "req-" + UUID().uuidString.lowercased() }
}

extension ComputeService {
    /// The caller of open routes, which look at no project.
    static let nobody = Caller(projectID: "", userID: "")

    /// Who is asking, as far as the route's policy needs to know: `nobody` for open routes and
    /// status pages (a 404 for a status page nginx did not pass on), else the token's caller.
    private func caller(of request: APIRequest, for policy: Policy) throws -> Caller {
        switch policy.rule {
        case .anyone: return Self.nobody
        case .statusPage:
            guard request.statusAccess else { throw APIError.notFound() }
            return Self.nobody
        case .token, .member, .admin, .projectOrAdmin, .userOrAdmin: return try authenticate(request)
        }
    }

    /// 403 in Nova's words unless `caller` satisfies the route's policy.
    private func check(_ policy: Policy, _ caller: Caller, _ parameters: RouteParameters) throws(ComputeError) {
        switch policy.rule {
        case .anyone, .statusPage, .token: return
        case .member: guard caller.canWrite else { throw .forbidden(policy.refusal) }
        case .admin: guard caller.isAdmin else { throw .forbidden(policy.refusal) }
        case .projectOrAdmin(let parameter):
            guard caller.canReach(projectID: parameters[parameter]) else { throw .forbidden(policy.refusal) }
        case .userOrAdmin(let parameter):
            guard caller.isAdmin || caller.userID == parameters[parameter] else { throw .forbidden(policy.refusal) }
        }
    }

    /// The caller the token names: `X-Auth-Token` (OpenStack's header), else `Authorization:
    /// Bearer` (what curl and HTTP-client users reach for first). 401 with `WWW-Authenticate`
    /// when it is missing or not valid (unknown, expired and revoked tokens get the same answer).
    private func authenticate(_ request: APIRequest) throws(APIError) -> Caller {
        // Two challenges in one field (RFC 9110 §11.6.1): clients that keep one field per
        // name see both.
        let challenge: HTTPFields = [
            .wwwAuthenticate: #"Token realm="alliance-compute", header="X-Auth-Token", Bearer realm="alliance-compute""#
        ]
        guard let token = Self.token(in: request.headerFields) else {
            Counter(label: "alliance_token_failures_total", dimensions: [("reason", "missing")]).increment()
            throw APIError(
                .unauthorized,
                "The request you have made requires authentication: send a token in X-Auth-Token (or Authorization: Bearer).",
                headerFields: challenge)
        }
        let known: Caller?
        do {
            known = try configuration.authenticator.caller(forToken: token)
        } catch {
            let fault = Fault(error)
            throw APIError(fault.status, fault.message)
        }
        guard let caller = known else {
            Counter(label: "alliance_token_failures_total", dimensions: [("reason", "invalid")]).increment()
            throw APIError(.unauthorized, "The token is not valid: unknown, expired or revoked.", headerFields: challenge)
        }
        return caller
    }
}

extension ComputeService {
    /// The token of `X-Auth-Token`, else of `Authorization: Bearer TOKEN` (the scheme in any
    /// case, RFC 9110); nil when neither has one.
    static func token(in fields: HTTPFields) -> String? {
        if let token = fields[.authToken], !token.isEmpty { return token }
        guard let authorization = fields[.authorization] else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].drop(while: { $0 == " " || $0 == "\t" })
        return token.isEmpty ? nil : String(token)
    }
}

extension HTTPField.Name {
    /// The OpenStack token header.
    static let authToken = HTTPField.Name("X-Auth-Token")!
    public static let openStackRequestID = HTTPField.Name("X-OpenStack-Request-Id")!
    public static let computeRequestID = HTTPField.Name("X-Compute-Request-Id")!
}
