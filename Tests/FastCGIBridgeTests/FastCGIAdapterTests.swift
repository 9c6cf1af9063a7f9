import ComputeAPI
import FastCGIBridge
import HTTPTypes
import Testing

@testable import FastCGI

/// A request as nginx (Debian's fastcgi_params plus ours) sends it: captured from a real run.
let capturedParams: [String: String] = [
    "QUERY_STRING": "limit=2&name=a%2Fb", "REQUEST_METHOD": "GET", "CONTENT_TYPE": "", "CONTENT_LENGTH": "",
    "SCRIPT_NAME": "/servers/a/b", "REQUEST_URI": "/servers/a%2Fb?limit=2&name=a%2Fb", "DOCUMENT_URI": "/servers/a/b",
    "DOCUMENT_ROOT": "/usr/share/nginx/html", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "https", "HTTPS": "on",
    "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "nginx/1.22.1", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "51234",
    "SERVER_ADDR": "127.0.0.1", "SERVER_PORT": "8443", "SERVER_NAME": "_", "REDIRECT_STATUS": "200",
    "HTTP_HOST": "127.0.0.1", "REQUEST_ID": "0123456789abcdef0123456789abcdef", "HTTP_USER_AGENT": "curl/7.88.1",
    "HTTP_ACCEPT": "*/*", "HTTP_X_AUTH_TOKEN": "secret", "HTTP_OPENSTACK_API_VERSION": "compute 2.1",
]

@Suite struct FastCGIAdapterTests {
    @Test func mapsCGIParametersToARequest() throws {
        let request = try #require(FastCGIAdapter.apiRequest(from: FastCGIRequest(params: capturedParams, body: .complete([]))))
        #expect(request.method == .get)
        #expect(request.path == "/servers/a%2Fb", "REQUEST_URI, still encoded: %2F must not split the path")
        #expect(request.query == "limit=2&name=a%2Fb")
        #expect(request.requestID == "0123456789abcdef0123456789abcdef")
        #expect(request.baseURL == "https://127.0.0.1:8443")
        #expect(request.headerFields[.userAgent] == "curl/7.88.1")
        #expect(request.headerFields[HTTPField.Name("X-Auth-Token")!] == "secret")
        #expect(request.headerFields[HTTPField.Name("OpenStack-API-Version")!] == "compute 2.1")
        #expect(request.headerFields[.contentType] == nil, "empty CGI values are not headers")
    }

    @Test func bodyAndContentTypeComeThrough() throws {
        var params = capturedParams
        params["REQUEST_METHOD"] = "POST"
        params["CONTENT_TYPE"] = "application/json"
        params["CONTENT_LENGTH"] = "2"
        let request = try #require(
            FastCGIAdapter.apiRequest(from: FastCGIRequest(params: params, body: .complete(Array("{}".utf8)))))
        #expect(request.method == .post)
        #expect(request.body == .complete(Array("{}".utf8)))
        #expect(request.headerFields[.contentType] == "application/json")
        #expect(request.headerFields[.contentLength] == "2")
        let tooLarge = FastCGIAdapter.apiRequest(from: FastCGIRequest(params: params, body: .exceedsLimit))
        #expect(tooLarge?.body == .exceedsLimit)
    }

    @Test(arguments: [
        (["REQUEST_SCHEME": "https", "HTTP_HOST": "api.example.org", "SERVER_PORT": "443"], "https://api.example.org"),
        (["REQUEST_SCHEME": "http", "HTTP_HOST": "api.example.org", "SERVER_PORT": "80"], "http://api.example.org"),
        (["REQUEST_SCHEME": "http", "HTTP_HOST": "127.0.0.1", "SERVER_PORT": "8080"], "http://127.0.0.1:8080"),
        (["HTTPS": "on", "HTTP_HOST": "h", "SERVER_PORT": "8443"], "https://h:8443"),
    ])
    func baseURLLeavesOutDefaultPorts(params: [String: String], expected: String) {
        #expect(FastCGIAdapter.origin(params)?.url == expected)
    }

    @Test func anInvalidMethodIsNotARequest() {
        var params = capturedParams
        params["REQUEST_METHOD"] = "GE T"
        #expect(FastCGIAdapter.apiRequest(from: FastCGIRequest(params: params, body: .complete([]))) == nil)
    }

    @Test func responsesBecomeCGIWithStatusAndLength() {
        let api = APIResponse(
            status: .notFound, headerFields: [.contentType: "application/json", .allow: "GET"], body: Array("{}".utf8))
        let cgi = FastCGIAdapter.fastCGIResponse(from: api)
        #expect(
            String(decoding: cgi.headerBlock, as: UTF8.self)
                == "Status: 404 Not Found\r\nContent-Type: application/json\r\nAllow: GET\r\nContent-Length: 2\r\n\r\n")
    }

    @Test func headerValuesCannotInjectHeaders() {
        let response = FastCGIResponse(status: 200, reason: "OK", headers: [("Location", "/x\r\nSet-Cookie: a=b")], body: [])
        #expect(
            String(decoding: response.headerBlock, as: UTF8.self)
                == "Status: 200 OK\r\nLocation: /xSet-Cookie: a=b\r\nContent-Length: 0\r\n\r\n")
    }
}
