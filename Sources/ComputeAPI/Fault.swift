import ComputeCore
public import HTTPTypes

/// An error at the HTTP level: a bad path or query, a wrong method, an oversized body.
/// Domain errors are `ComputeError`; both become a `Fault` in one place.
public struct APIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var message: String
    public var headerFields: HTTPFields

    public init(_ status: HTTPResponse.Status, _ message: String, headerFields: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headerFields = headerFields
    }

    public static func badRequest(_ message: String) -> APIError { APIError(.badRequest, message) }

    public static func notFound(_ message: String = "The resource could not be found.") -> APIError {
        APIError(.notFound, message)
    }
}

/// The OpenStack fault every error response carries:
/// `{"itemNotFound": {"code": 404, "message": "Server demo could not be found."}}`.
public struct Fault: Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var message: String
    public var headerFields: HTTPFields

    /// The one mapping from errors to statuses. Anything unexpected is a 500 whose details
    /// were logged by the caller and are never shown to the client.
    public init(_ error: any Error) {
        switch error {
        case let error as APIError:
            self.init(status: error.status, message: error.message, headerFields: error.headerFields)
        case let error as ComputeError:
            let status: HTTPResponse.Status =
                switch error {
                case .invalidInput: .badRequest
                case .notFound: .notFound
                case .forbidden: .forbidden
                case .conflict, .staleVersion: .conflict
                case .unavailable: .serviceUnavailable
                }
            self.init(status: status, message: error.message)
        case let error as IdentityError:
            switch error {
            case .badRequest(let m): self.init(status: .badRequest, message: m)
            case .unauthorized(let m): self.init(status: .unauthorized, message: m)
            case .forbidden(let m): self.init(status: .forbidden, message: m)
            case .notFound(let m): self.init(status: .notFound, message: m)
            case .conflict(let m): self.init(status: .conflict, message: m)
            case .store(let error): self.init(error)
            }
        default:
            self.init(
                status: .internalServerError,
                message: "The server has either erred or is incapable of performing the requested operation.")
        }
    }

    public init(status: HTTPResponse.Status, message: String, headerFields: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headerFields = headerFields
    }

    /// Nova's name for the fault of each status.
    public var name: String {
        switch status.code {
        case 400: "badRequest"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "itemNotFound"
        case 405: "badMethod"
        case 409: "conflictingRequest"
        case 413, 429: "overLimit"
        case 415: "badMediaType"
        case 501: "notImplemented"
        case 503: "serviceUnavailable"
        default: "computeFault"
        }
    }

    /// Keystone's shape, for the identity API's paths:
    /// `{"error": {"code": 401, "title": "Unauthorized", "message": "…"}}`.
    public var keystoneResponse: APIResponse { response(key: "error", title: status.reasonPhrase) }

    /// Nova's shape: `{"itemNotFound": {"code": 404, "message": "…"}}`.
    public var response: APIResponse { response(key: name, title: nil) }

    private func response(key: String, title: String?) -> APIResponse {
        var writer = JSONWriter(capacity: 96 + message.utf8.count)
        writer.beginObject()
        writer.key(key)
        writer.beginObject()
        writer.field("code", status.code)
        if let title { writer.field("title", title) }
        writer.field("message", message)
        writer.endObject()
        writer.endObject()
        var response = APIResponse.json(status, writer.bytes)
        response.headerFields.append(contentsOf: headerFields)
        return response
    }
}
