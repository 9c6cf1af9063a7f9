import ComputeAPI
import ComputeCore
import ComputeTesting
import Foundation
import HTTPTypes
import InMemoryStore
import Logging

/// Drives the API in-process, the way the FastCGI adapter does, with memory persistence.
struct TestClient {
    let persistence = MemoryPersistence()
    let inventory: Inventory
    let service: ComputeService
    /// The identity API's rules, over users and tokens in memory (a fast password hash).
    let identity: Identity

    /// The tokens the service knows; requests send `token` unless they say otherwise.
    static let callers = [
        "admin": Caller(projectID: "default", userID: "root", role: .admin),
        "member-a": Caller(projectID: "a", userID: "alice"),
        "reader-a": Caller(projectID: "a", userID: "rhea", role: .reader),
        "member-b": Caller(projectID: "b", userID: "bob"),
    ]
    var token: String? = "admin"

    init(
        networks: [NetworkConfig] = [.defaultPrivate], maxBodyBytes: Int = 64 * 1024,
        quotaDefaults: QuotaLimits = .unlimited, quotas: any QuotaSource = MemoryQuotaOverrides(),
        identitySettings: Identity.Settings = .init(passwordIterations: 1_000), clock: any Clock = SystemClock(),
        keepDeletedServersSeconds: Int = 0
    ) {
        identity = Identity(store: MemoryIdentityStore(), settings: identitySettings, clock: clock)
        inventory = Inventory(
            store: InMemoryStore.inMemory(networks: networks, persistence: persistence), networks: networks,
            settings: .init(quotaDefaults: quotaDefaults, keepDeletedServersSeconds: keepDeletedServersSeconds), quotas: quotas,
            clock: clock)
        service = ComputeService(
            inventory: inventory,
            configuration: .init(
                maxBodyBytes: maxBodyBytes, version: "test",
                authenticator: EitherAuthenticator(first: StaticAuthenticator(Self.callers), second: identity),
                identity: identity),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try! inventory.seedDefaultFlavors()
    }

    func send(_ method: HTTPRequest.Method, _ target: String, json: String? = nil, bytes: [UInt8]? = nil) -> TestResponse {
        var request = APIRequest(method: method, target: target, body: bytes ?? Array((json ?? "").utf8))
        if bytes == nil && json == nil { request.body = .complete([]) }
        if let token { request.headerFields[HTTPField.Name("X-Auth-Token")!] = token }
        return TestResponse(service.respond(to: request))
    }

    func get(_ target: String) -> TestResponse { send(.get, target) }

    /// A status page, as nginx passes it from its restricted location.
    func status(_ target: String) -> TestResponse {
        var request = APIRequest(method: .get, target: target)
        request.statusAccess = true
        return TestResponse(service.respond(to: request))
    }
    func post(_ target: String, _ json: String) -> TestResponse { send(.post, target, json: json) }
    func patch(_ target: String, _ json: String) -> TestResponse { send(.patch, target, json: json) }
    func delete(_ target: String) -> TestResponse { send(.delete, target) }

    /// Creates a server with the seed's body, renamed.
    @discardableResult
    func createServer(_ name: String, flavor: String = "m1.small", extra: String = "") -> TestResponse {
        post(
            "/servers",
            #"{"server": {"name": "\#(name)", "flavor": "\#(flavor)", "image": "cirros-0.3.4-x86_64-uec", "keyname": "admin-key", "network": "private"\#(extra)}}"#
        )
    }
}

struct TestResponse {
    let status: Int
    let headers: HTTPFields
    let body: [UInt8]

    init(_ response: APIResponse) {
        status = response.status.code
        headers = response.headerFields
        body = response.body
    }

    /// The body parsed as JSON (nil when it is not JSON).
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body)) }

    var object: [String: Any] { json as? [String: Any] ?? [:] }

    /// A value by path: `json("server", "addresses", "private", 0, "addr")`.
    func json(_ path: Any...) -> Any? {
        var current: Any? = json
        for step in path {
            switch step {
            case let key as String: current = (current as? [String: Any])?[key]
            case let index as Int:
                guard let array = current as? [Any], array.indices.contains(index) else { return nil }
                current = array[index]
            default: return nil
            }
        }
        return current
    }

    /// `(name, code, message)` of a fault body, nil when the body is not exactly one fault.
    var fault: (name: String, code: Int, message: String)? {
        guard let object = json as? [String: Any], object.count == 1, let (name, value) = object.first,
            let inner = value as? [String: Any], inner.count == 2, let code = inner["code"] as? Int,
            let message = inner["message"] as? String
        else { return nil }
        return (name, code, message)
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

/// The test's fixed tokens, else the identity API's.
struct EitherAuthenticator: Authenticator {
    let first: any Authenticator
    let second: any Authenticator

    func caller(forToken token: String) throws(ComputeError) -> Caller? {
        if let caller = try first.caller(forToken: token) { return caller }
        return try second.caller(forToken: token)
    }
}
