import ComputeAPI
import ComputeCore
import ComputeTesting
import FastCGI
import FastCGIBridge
import Foundation
import HTTPTypes
import InMemoryStore
import JSONFileStore
import Logging

/// `alliance-microbench [ITERATIONS]`: the worker's own CPU cost per request, in process (no
/// nginx, no socket), for profiling: `valgrind --tool=callgrind .build/release/alliance-microbench 2000`.
@main
struct AllianceMicrobench {
    static func main() throws {
        let iterations = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 20_000
        let logger = Logger(label: "microbench", factory: { _ in SwiftLogNoOpLogHandler() })
        let caller = Caller(projectID: "bench", userID: "bench")
        let inventory = Inventory(store: InMemoryStore.inMemory(), networks: [.defaultPrivate])
        let service = ComputeService(
            inventory: inventory,
            configuration: .init(version: "bench", authenticator: StaticAuthenticator(["bench": caller])), logger: logger)
        try inventory.seedDefaultFlavors()
        _ = try inventory.createServers(
            ServerDraft(name: "list", flavorReference: "m1.small", image: "cirros-0.3.4-x86_64-uec", minCount: 20),
            caller: caller)
        let adapter = FastCGIAdapter(service: service, logger: logger)
        let one = try inventory.servers(matching: ServerFilter(projectID: nil), limit: 1, marker: nil)[0].id

        var params = [
            "REQUEST_METHOD": "GET", "REQUEST_URI": "/servers", "QUERY_STRING": "", "CONTENT_TYPE": "", "CONTENT_LENGTH": "",
            "SCRIPT_NAME": "/servers", "DOCUMENT_URI": "/servers", "DOCUMENT_ROOT": "/usr/share/nginx/html",
            "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "http", "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_SOFTWARE": "nginx/1.22.1", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000",
            "SERVER_ADDR": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_NAME": "_", "REDIRECT_STATUS": "200",
            "HTTP_HOST": "127.0.0.1", "REQUEST_ID": "0123456789abcdef0123456789abcdef", "HTTP_USER_AGENT": "wrk",
            "HTTP_X_AUTH_TOKEN": "bench",
        ]
        func measure(_ label: String, _ body: () -> Int) {
            var bytes = 0
            let start = ContinuousClock.now
            for _ in 0..<iterations { bytes &+= body() }
            let elapsed = ContinuousClock.now - start
            let micros = Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12
            print(String(format: "%-44@ %9.2f µs/op", label as NSString, micros / Double(iterations)), bytes > 0 ? "" : "!")
        }
        let auth: HTTPFields = [HTTPField.Name("X-Auth-Token")!: "bench"]
        func get(_ target: String) -> Int {
            service.respond(to: APIRequest(method: .get, target: target, headerFields: auth)).body.count
        }
        measure("API: GET /servers (20 servers)") { get("/servers") }
        measure("API: GET /servers/{id}") { get("/servers/\(one)") }
        measure("API: GET /flavors") { get("/flavors") }
        measure("adapter: GET /servers (CGI params in and out)") {
            adapter.handle(FastCGIRequest(params: params, body: .complete([]))).body.count
        }
        params["REQUEST_URI"] = "/servers/\(one)"
        measure("adapter: GET /servers/{id}") { adapter.handle(FastCGIRequest(params: params, body: .complete([]))).body.count }

        // What the worker's token check adds to every request: a stat of tokens/, a lookup,
        // SHA-256 of the secret and a constant-time comparison (the identity rules over the
        // data directory's files, as the worker checks them).
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("alliance-microbench-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (token, _) = try TokenStore.create(
            dataDirectory: directory, project: "bench", user: "bench", role: .member, expires: nil)
        let tokens = Identity(store: try IdentityFiles(dataDirectory: directory))
        sleep(2)  // past the second in which the directory changed, so lookups use the cached files
        measure("Identity: check a valid token") { (try? tokens.caller(forToken: token)) == nil ? 0 : 1 }
    }
}
