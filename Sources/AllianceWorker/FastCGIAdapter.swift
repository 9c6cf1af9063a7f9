public import ComputeAPI
public import FastCGI
import Foundation
import HTTPTypes
public import Logging

/// The thin seam between the transport and the API: CGI parameters in, an `APIRequest` to
/// the service, its `APIResponse` back out as CGI, and one log line per request.
public struct FastCGIAdapter: Sendable {
    let service: ComputeService
    let logger: Logger

    public init(service: ComputeService, logger: Logger) {
        self.service = service
        self.logger = logger
    }

    public func handle(_ request: FastCGIRequest) -> FastCGIResponse {
        let started = ContinuousClock.now
        let response: APIResponse
        if let apiRequest = Self.apiRequest(from: request) {
            response = service.respond(to: apiRequest)
        } else {
            response = Fault(APIError.badRequest("The request method is not valid.")).response
        }
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let method = request.params["REQUEST_METHOD"] ?? "-"
        let target = request.params["REQUEST_URI"] ?? "-"
        logger.info(
            "\(method) \(target.prefix(512)) \(response.status.code) \(String(format: "%.2f", milliseconds))ms",
            metadata: ["request_id": "\(request.params["REQUEST_ID"] ?? "-")"])
        return Self.fastCGIResponse(from: response)
    }

    /// CGI parameters → request. Nil only when the method is not an HTTP token.
    public static func apiRequest(from request: FastCGIRequest) -> APIRequest? {
        let params = request.params
        guard let method = HTTPRequest.Method(params["REQUEST_METHOD"] ?? "") else { return nil }
        // REQUEST_URI is the target as the client sent it (nginx's $uri is already decoded,
        // which would turn %2F into a path separator).
        let target = params["REQUEST_URI"] ?? ((params["DOCUMENT_URI"] ?? "/") + "?" + (params["QUERY_STRING"] ?? ""))
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var fields = HTTPFields()
        for (name, value) in params {
            let headerName: String
            if name.hasPrefix("HTTP_") {
                headerName = name.dropFirst(5).replacing("_", with: "-").lowercased()
            } else if name == "CONTENT_TYPE" || name == "CONTENT_LENGTH" {
                headerName = name.replacing("_", with: "-").lowercased()
            } else {
                continue
            }
            if !value.isEmpty, let fieldName = HTTPField.Name(headerName) {
                fields.append(HTTPField(name: fieldName, value: value))
            }
        }
        let body: RequestBody =
            switch request.body {
            case .complete(let bytes): .complete(bytes)
            case .exceedsLimit: .exceedsLimit
            }
        return APIRequest(
            method: method, path: String(parts[0]), query: parts.count > 1 ? String(parts[1]) : "", headerFields: fields,
            body: body, requestID: params["REQUEST_ID"], baseURL: baseURL(params))
    }

    /// `scheme://host[:port]` as the client reached nginx; the port is left out when it is the
    /// scheme's default.
    public static func baseURL(_ params: [String: String]) -> String? {
        guard let host = params["HTTP_HOST"] ?? params["SERVER_NAME"], !host.isEmpty else { return nil }
        let scheme = params["REQUEST_SCHEME"] ?? (params["HTTPS"] == "on" ? "https" : "http")
        let port = params["SERVER_PORT"] ?? ""
        let isDefault = port.isEmpty || (scheme == "https" && port == "443") || (scheme == "http" && port == "80")
        let hostHasPort = host.contains(":") && !host.hasSuffix("]")
        return "\(scheme)://\(host)" + (isDefault || hostHasPort ? "" : ":\(port)")
    }

    public static func fastCGIResponse(from response: APIResponse) -> FastCGIResponse {
        FastCGIResponse(
            status: response.status.code, reason: response.status.reasonPhrase,
            headers: response.headerFields.map { ($0.name.rawName, $0.value) }, body: response.body)
    }
}
