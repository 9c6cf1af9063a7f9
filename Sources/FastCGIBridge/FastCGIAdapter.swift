public import ComputeAPI
public import FastCGI
import HTTPTypes
public import Logging

/// The thin seam between the transport and the API: CGI parameters in, an `APIRequest` to
/// the service, its `APIResponse` back out as CGI, and one log line per request.
public struct FastCGIAdapter: Sendable {
    let service: ComputeService
    let logger: Logger
    let logFormat: LogFormat

    public init(service: ComputeService, logger: Logger, logFormat: LogFormat = .text) {
        self.service = service
        self.logger = logger
        self.logFormat = logFormat
    }

    public func handle(_ request: FastCGIRequest) -> FastCGIResponse {
        let started = ContinuousClock.now
        service.statistics.begin()
        let requestID = request.params["REQUEST_ID"] ?? ComputeService.newRequestID()
        var response: APIResponse
        if var apiRequest = Self.apiRequest(from: request) {
            apiRequest.requestID = requestID
            response = service.respond(to: apiRequest)
        } else {
            response = Fault(APIError.badRequest("The request method is not valid.")).response
            response.headerFields[.openStackRequestID] = requestID
            response.headerFields[.computeRequestID] = requestID
        }
        let elapsed = ContinuousClock.now - started
        let micros = Int(elapsed.components.seconds) * 1_000_000 + Int(elapsed.components.attoseconds / 1_000_000_000_000)
        let method = request.params["REQUEST_METHOD"] ?? "-"
        let slow = service.statistics.end(
            status: response.status.code, microseconds: micros, method: method, route: response.route)
        // The text line carries request_id and user=user@project; a JSON line (--log-format
        // json) carries each part as a field of its own.
        var metadata: Logger.Metadata = [
            "request_id": "\(requestID)", "user": response.principal.map { "\($0)" } ?? "-",
        ]
        if logFormat == .json {
            let principal = response.principal?.split(separator: "@", maxSplits: 1).map(String.init)
            metadata["user"] = principal.map { "\($0[0])" } ?? "-"
            metadata["project"] = principal.flatMap { $0.count == 2 ? "\($0[1])" : nil } ?? "-"
            metadata["method"] = "\(method)"
            metadata["route"] = "\(response.route ?? "-")"
            metadata["status"] = .stringConvertible(response.status.code)
            metadata["duration_ms"] = "\(Self.milliseconds(micros))"
        }
        logger.log(
            level: slow ? .warning : .info,
            "\(method) \((request.params["REQUEST_URI"] ?? "-").prefix(512)) \(response.status.code) \(Self.milliseconds(micros))ms\(slow ? " slow (over \(service.statistics.slowThresholdMicroseconds / 1000) ms)" : "")",
            metadata: metadata)
        return Self.fastCGIResponse(from: response)
    }

    /// `1234` µs → `1.23`.
    static func milliseconds(_ micros: Int) -> String {
        let hundredths = (micros + 5) / 10
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// CGI parameters → request. Nil only when the method is not an HTTP token.
    public static func apiRequest(from request: FastCGIRequest) -> APIRequest? {
        let params = request.params
        guard let method = HTTPRequest.Method(params["REQUEST_METHOD"] ?? "") else { return nil }
        // REQUEST_URI is the target as the client sent it (nginx's $uri is already decoded,
        // which would turn %2F into a path separator).
        let target = params["REQUEST_URI"] ?? ((params["DOCUMENT_URI"] ?? "/") + "?" + (params["QUERY_STRING"] ?? ""))
        let question = target.utf8.firstIndex(of: UInt8(ascii: "?"))
        var fields = HTTPFields()
        for (name, value) in params where !value.isEmpty {
            if let headerName = headerName(forParameter: name), let fieldName = HTTPField.Name(headerName) {
                fields.append(HTTPField(name: fieldName, value: value))
            }
        }
        let body: RequestBody =
            switch request.body {
            case .complete(let bytes): .complete(bytes)
            case .exceedsLimit: .exceedsLimit
            }
        return APIRequest(
            method: method, path: question.map { String(target[..<$0]) } ?? target,
            query: question.map { String(target[target.utf8.index(after: $0)...]) } ?? "", headerFields: fields,
            body: body, requestID: params["REQUEST_ID"], origin: origin(params),
            statusAccess: params["ALLIANCE_STATUS_ACCESS"] == "granted")
    }

    /// `HTTP_X_AUTH_TOKEN` → `x-auth-token`; `CONTENT_TYPE` → `content-type`; nil for the other
    /// CGI parameters.
    static func headerName(forParameter name: String) -> String? {
        let utf8 = name.utf8
        let prefix = "HTTP_".utf8
        let rest: Substring.UTF8View
        if utf8.starts(with: prefix) {
            rest = Substring(name).utf8.dropFirst(prefix.count)
        } else if name == "CONTENT_TYPE" || name == "CONTENT_LENGTH" {
            rest = Substring(name).utf8[...]
        } else {
            return nil
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(rest.count)
        for byte in rest {
            switch byte {
            case UInt8(ascii: "_"): bytes.append(UInt8(ascii: "-"))
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): bytes.append(byte + 32)
            default: bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// How the client reached nginx: scheme, host (nginx's `$host`) and port.
    public static func origin(_ params: [String: String]) -> Origin? {
        guard let host = params["HTTP_HOST"] ?? params["SERVER_NAME"], !host.isEmpty else { return nil }
        return Origin(
            scheme: params["REQUEST_SCHEME"] ?? (params["HTTPS"] == "on" ? "https" : "http"), host: host,
            port: params["SERVER_PORT"] ?? "")
    }

    public static func fastCGIResponse(from response: APIResponse) -> FastCGIResponse {
        FastCGIResponse(
            status: response.status.code, reason: response.status.reasonPhrase,
            headers: response.headerFields.map { ($0.name.rawName, $0.value) }, body: response.body)
    }
}
