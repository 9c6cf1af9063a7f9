public import ComputeCore
import HTTPTypes
public import Logging

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
        /// Who unauthenticated requests act as.
        public var anonymousCaller: Caller
        /// Requests at least this slow are counted in `/healthz` and logged as slow.
        public var slowRequestMilliseconds: Int

        public init(
            maxBodyBytes: Int = 64 * 1024, version: String, anonymousCaller: Caller = .anonymous,
            slowRequestMilliseconds: Int = 1000
        ) {
            self.maxBodyBytes = maxBodyBytes
            self.version = version
            self.anonymousCaller = anonymousCaller
            self.slowRequestMilliseconds = slowRequestMilliseconds
        }
    }

    public let inventory: Inventory
    /// Served, in flight, slow: updated by the transport, reported by `/healthz`.
    public let statistics: RequestStatistics
    private let configuration: Configuration
    private let logger: Logger
    private let router: Router<RequestContext>

    /// Builds the inventory from the loaded records, with the API's views rendered and kept
    /// beside each server (so a read copies bytes rather than encoding).
    public init(
        records: LoadedRecords, networks: [NetworkConfig], images: [Image] = Image.defaults,
        persistence: any RecordPersistence, clock: any Clock = SystemClock(),
        identifiers: any IdentifierSource = RandomIdentifiers(), configuration: Configuration, logger: Logger,
        startedAt: Timestamp = SystemClock().now()
    ) {
        let inventory = Inventory(
            records: records, networks: networks, images: images, persistence: persistence, clock: clock,
            identifiers: identifiers, renderer: V1View.render)
        self.inventory = inventory
        self.configuration = configuration
        self.logger = logger
        let statistics = RequestStatistics(slowThresholdMicroseconds: configuration.slowRequestMilliseconds * 1000)
        self.statistics = statistics
        var router = Router<RequestContext>()
        AllianceV1(inventory: inventory).register(into: &router)
        NovaAPI(inventory: inventory).register(into: &router)
        HealthEndpoint(inventory: inventory, statistics: statistics, version: configuration.version, startedAt: startedAt)
            .register(into: &router)
        self.router = router
    }

    public func respond(to request: APIRequest) -> APIResponse {
        var response: APIResponse
        do {
            if request.body == .exceedsLimit {
                throw APIError(.contentTooLarge, "The request body is larger than \(configuration.maxBodyBytes) bytes.")
            }
            let (handler, parameters) = try router.resolve(request.method, path: request.path)
            response = try handler(RequestContext(request: request, caller: configuration.anonymousCaller), parameters)
        } catch {
            if !(error is APIError || error is ComputeError) {
                var logger = logger
                logger[metadataKey: "request_id"] = request.requestID.map { "\($0)" }
                logger.error("unexpected error in \(request.method.rawValue) \(request.path): \(String(reflecting: error))")
            }
            response = Fault(error).response
        }
        if request.method == .head {
            response.headerFields[.contentLength] = String(response.body.count)
            response.body = []
        }
        return response
    }
}

extension Caller {
    /// Whom requests act as while the service has no authentication.
    public static let anonymous = Caller(projectID: "default", userID: "default")
}
