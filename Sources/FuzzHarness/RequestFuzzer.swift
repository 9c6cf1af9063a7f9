import ComputeAPI
import ComputeCore
import ComputeTesting
public import FastCGI
import FastCGIBridge
import Foundation
import InMemoryStore
import Logging

/// Runs arbitrary bytes through the request path (CGI parameters + body → adapter → router →
/// handlers → an inventory on memory persistence) and reports what must never happen: a
/// 5xx, a body that is not JSON, an error that is not a fault, a broken invariant.
///
/// Input format, chosen so mutations reach every layer:
/// ```
/// POST                          ← REQUEST_METHOD
/// /servers?limit=2              ← REQUEST_URI
/// HTTP_CONTENT_TYPE=text/plain  ← more CGI parameters, one per line, until an empty line
///
/// {"server": …}                 ← the body
/// ```
public final class RequestFuzzer: Sendable {
    private struct Target {
        var inventory: Inventory
        var adapter: FastCGIAdapter
        var runs = 0
    }

    private let target: Locked<Target>
    public static let maxBodyBytes = 64 * 1024
    /// Seeds send `HTTP_X_AUTH_TOKEN=fuzz-admin` or `fuzz-member`; mutations reach the rest.
    static let authenticator = StaticAuthenticator([
        "fuzz-admin": Caller(projectID: "ops", userID: "root", role: .admin),
        "fuzz-member": Caller(projectID: "team", userID: "dev", role: .member),
    ])

    public init() {
        target = Locked(Self.makeTarget())
    }

    private static func makeTarget() -> Target {
        let logger = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
        let inventory = Inventory(store: InMemoryStore.inMemory(), networks: [.defaultPrivate])
        let service = ComputeService(
            inventory: inventory,
            configuration: .init(maxBodyBytes: maxBodyBytes, version: "fuzz", authenticator: authenticator), logger: logger)
        try? inventory.seedDefaultFlavors()
        return Target(inventory: service.inventory, adapter: FastCGIAdapter(service: service, logger: logger))
    }

    /// The request an input describes.
    public static func request(from bytes: [UInt8]) -> FastCGIRequest {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var bodyStart = bytes.count
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            let line = bytes[start..<index]
            start = index + 1
            if lines.count >= 2 && line.isEmpty {
                bodyStart = start
                break
            }
            lines.append(line)
        }
        if bodyStart == bytes.count && start < bytes.count && lines.count < 2 {
            lines.append(bytes[start...])
        }
        // libfcgi hands over C strings: stop at NUL, repair invalid UTF-8 the same way.
        func text(_ slice: ArraySlice<UInt8>) -> String {
            String(decoding: slice.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        var params = [
            "REQUEST_METHOD": lines.count > 0 ? text(lines[0]) : "GET",
            "REQUEST_URI": lines.count > 1 ? text(lines[1]) : "/",
            "REQUEST_ID": "fuzz", "REQUEST_SCHEME": "https", "HTTP_HOST": "fuzz.example", "SERVER_PORT": "443",
        ]
        for line in lines.dropFirst(2) {
            let pair = text(line)
            if let equals = pair.firstIndex(of: "=") {
                params[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
        }
        // As FastCGIServer reads bodies: a declared or actual length over the limit is not read.
        let body = Array(bytes[min(bodyStart, bytes.count)...])
        let declared = params["CONTENT_LENGTH"].flatMap { Int($0) } ?? 0
        let tooLarge = declared > maxBodyBytes || body.count > maxBodyBytes
        return FastCGIRequest(params: params, body: tooLarge ? .exceedsLimit : .complete(body))
    }

    /// Runs one input; nil when all is well, else what went wrong.
    public func check(_ bytes: [UInt8]) -> String? {
        let request = Self.request(from: bytes)
        return target.withLock { target in
            let response = target.adapter.handle(request)
            if let problem = Self.problem(with: response, isHead: request.params["REQUEST_METHOD"] == "HEAD") {
                return problem
            }
            target.runs += 1
            if target.runs % 64 == 0 {
                if let problem = Self.brokenInvariant(target.inventory) { return problem }
                if (try? target.inventory.counts().servers) ?? 0 > 300 { target = Self.makeTarget() }
            }
            return nil
        }
    }

    private static func problem(with response: FastCGIResponse, isHead: Bool) -> String? {
        guard (200...599).contains(response.status) else { return "status \(response.status)" }
        if response.status >= 500 { return "server error \(response.status): \(String(decoding: response.body, as: UTF8.self))" }
        let header = String(decoding: response.headerBlock, as: UTF8.self)
        if isHead {
            // HEAD: no body, but the length of the body GET would send.
            return response.body.isEmpty && header.contains("Content-Length: ") ? nil : "HEAD with a body"
        }
        guard header.contains("Content-Length: \(response.body.count)\r\n") else { return "wrong Content-Length: \(header)" }
        if response.body.isEmpty {
            return [204, 200].contains(response.status) || response.status == 202 ? nil : "empty \(response.status)"
        }
        guard let json = try? JSONSerialization.jsonObject(with: Data(response.body)) else {
            return "body is not JSON: \(String(decoding: response.body, as: UTF8.self))"
        }
        if response.status >= 400 {
            guard let fault = json as? [String: Any], fault.count == 1, let inner = fault.values.first as? [String: Any],
                inner["code"] as? Int == response.status, inner["message"] is String
            else { return "error \(response.status) is not a fault: \(String(decoding: response.body, as: UTF8.self))" }
        }
        return nil
    }

    /// Unique names per project and unique addresses, as the inventory reports them.
    private static func brokenInvariant(_ inventory: Inventory) -> String? {
        guard let servers = try? inventory.servers(matching: ServerFilter(projectID: nil), limit: 100_000, marker: nil) else {
            return "listing failed"
        }
        var names = Set<String>()
        var addresses = Set<IPv4Address>()
        for server in servers {
            guard names.insert(server.projectID + "/" + server.name).inserted else { return "duplicate name \(server.name)" }
            if let address = server.address, !addresses.insert(address).inserted { return "duplicate address \(address)" }
        }
        if (try? inventory.counts())?.networks.first?.used != addresses.count { return "address pool disagrees with servers" }
        return nil
    }
}
