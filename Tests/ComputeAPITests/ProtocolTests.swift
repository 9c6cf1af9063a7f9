import ComputeAPI
import ComputeCore
import ComputeTesting
import Foundation
import HTTPTypes
import InMemoryStore
import Testing

/// The contract's common rules (§2): faults, 404/405, body limits, bad bodies and paths.
@Suite struct ProtocolTests {
    @Test(arguments: ["/nothing", "/servers/a/b", "/serverss", "//servers", "/servers//", "/v1/servers", "/v2.1/nothing", "*"])
    func unknownPathsAre404Faults(path: String) {
        let response = TestClient().get(path)
        #expect(response.status == 404)
        #expect(response.fault?.name == "itemNotFound")
        #expect(response.headers[.contentType] == "application/json")
    }

    @Test(arguments: [
        (HTTPRequest.Method.put, "/servers", "GET, POST, HEAD"), (.delete, "/servers", "GET, POST, HEAD"),
        (.post, "/servers/x", "GET, PATCH, DELETE, HEAD"), (.put, "/servers/x", "GET, PATCH, DELETE, HEAD"),
        (.patch, "/flavors/1", "GET, DELETE, HEAD"), (.options, "/flavors", "GET, POST, HEAD"),
        (.post, "/healthz", "GET, HEAD"),
    ])
    func wrongMethodsAre405WithAllow(method: HTTPRequest.Method, path: String, allow: String) {
        let response = TestClient().send(method, path, json: "{}")
        #expect(response.status == 405)
        #expect(response.fault?.name == "badMethod")
        #expect(response.headers[.allow] == allow)
    }

    @Test func headIsGetWithoutABody() {
        let client = TestClient()
        let get = client.get("/flavors")
        let head = client.send(.head, "/flavors")
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        #expect(head.headers[.contentLength] == String(get.body.count))
    }

    @Test func oversizedBodiesAre413() {
        let client = TestClient()
        var request = APIRequest(method: .post, target: "/servers")
        request.body = .exceedsLimit
        let response = TestResponse(client.service.respond(to: request))
        #expect(response.status == 413)
        #expect(response.fault?.name == "overLimit")
        #expect(response.fault?.message == "The request body is larger than 65536 bytes.")
    }

    @Test(arguments: [
        ("", "The request body is empty; it must be a JSON object."),
        ("   \n", "The request body is empty; it must be a JSON object."),
        ("{", "Malformed request body: expected a member name in double quotes, found the end of the body at line 1, column 2."),
        (
            #"{"server": {"name": "a"}"#,
            "Malformed request body: the body ends inside the body's object: '}' is missing at line 1, column 25."
        ),
        (
            "not json",
            "Malformed request body: expected a value, found 'n' (JSON's words are true, false and null) at line 1, column 1."
        ),
        (
            #"{"server": {}} trailing"#,
            "Malformed request body: unexpected 't' after the end of the JSON text at line 1, column 16."
        ),
        ("[]", "The request body must be a JSON object."),
        (#""server""#, "The request body must be a JSON object."),
        ("null", "The request body must be a JSON object."),
        ("{}", "'server' is a required property."),
        (#"{"server": null}"#, "Invalid input for field 'server': expected an object, not null."),
        (
            #"{"server": {"name": null, "flavor": "1", "image": "cirros"}}"#,
            "Invalid input for field 'server.name': expected a string, not null."
        ),
        (
            #"{"server": {"name": "a", "flavor": "1", "image": "cirros", "network": null}}"#,
            "Invalid input for field 'server.network': expected a string, not null."
        ),
        (
            #"{"server": {"name": "a", "flavor": "1", "image": "cirros", "metadata": null}}"#,
            "Invalid input for field 'server.metadata': expected an object, not null."
        ),
        (
            #"{"server": {"name": "a", "flavor": "1", "image": "cirros", "min_count": null}}"#,
            "Invalid input for field 'server.min_count': expected an integer, not null."
        ),
        (#"{"server": []}"#, "Invalid input for field 'server': expected an object."),
        (#"{"server": "x"}"#, "Invalid input for field 'server': expected an object."),
        (
            #"{"servers": {}}"#,
            #"Wrap the fields in {"server": {…}}: the request body has 'servers' at its top level, where only 'server' belongs."#
        ),
        (
            #"{"name": "a", "flavor": "1", "image": "cirros", "network": "private"}"#,
            #"Wrap the fields in {"server": {…}}: the request body has 'flavor', 'image', 'name', … at its top level, where only 'server' belongs."#
        ),
        (#"{"server": {"flavor": "1", "image": "cirros"}}"#, "Invalid input for field 'server': 'name' is a required property."),
        (
            #"{"server": {"name": 5, "flavor": "1", "image": "cirros"}}"#,
            "Invalid input for field 'server.name': expected a string."
        ),
        (
            #"{"server": {"name": ["a"], "flavor": "1", "image": "cirros"}}"#,
            "Invalid input for field 'server.name': expected a string."
        ),
        (
            #"{"server": {"name": "", "flavor": "1", "image": "cirros"}}"#,
            "Invalid input for field 'server.name': must not be empty."
        ),
        (
            #"{"server": {"name": "a/b", "flavor": "1", "image": "cirros"}}"#,
            "Invalid input for field 'server.name': must not contain '/'."
        ),
        (
            #"{"server": {"name": "a\u0000b", "flavor": "1", "image": "cirros"}}"#,
            "Invalid input for field 'server.name': must not contain control characters."
        ),
        (
            #"{"server": {"name": "a\nb", "flavor": "1", "image": "cirros"}}"#,
            "Invalid input for field 'server.name': must not contain control characters."
        ),
        (
            #"{"server": {"name": "a", "flavor": "1", "image": "cirros", "colour": "red"}}"#,
            "Invalid input for field 'server': unknown property 'colour'. Allowed: name, flavor, image, keyname, network, metadata, min_count, max_count, return_reservation_id."
        ),
        (
            #"{"server": {"name": "a", "flavor": "1", "image": "cirros", "metadata": {"k": 1}}}"#,
            "Invalid input for field 'server.metadata.k': expected a string."
        ),
        (
            #"{"server": {"name": "a", "flavor": "1", "image": "cirros", "metadata": ["k"]}}"#,
            "Invalid input for field 'server.metadata': expected an object."
        ),
        (#"{"server": {"name": "a", "flavor": "1", "image": ""}}"#, "Invalid input for field 'server.image': must not be empty."),
        (
            #"{"server": {"name": "a", "flavor": "", "image": "cirros"}}"#,
            "Invalid input for field 'server.flavor': must not be empty."
        ),
        (
            #"{"server": {"name": "a", "flavor": "1", "image": "cirros", "keyname": 7}}"#,
            "Invalid input for field 'server.keyname': expected a string."
        ),
        (
            #"{"server": {"name": "a", "flavor": "1", "image": "cirros", "min_count": 1e400}}"#,
            "Invalid input for field 'server.min_count': must be an integer."
        ),
        (
            #"{"server": {"name": "a", "flavor": "1", "image": "cirros", "min_count": 99999999999999999999}}"#,
            "Invalid input for field 'server.min_count': must be 100 or less."
        ),
    ])
    func badCreateBodiesAre400NamingTheProblem(body: String, message: String) throws {
        let client = TestClient()
        let response = client.post("/servers", body)
        #expect(response.status == 400)
        #expect(response.fault?.name == "badRequest")
        #expect(response.fault?.message == message)
        #expect(try client.inventory.counts().servers == 0)
    }

    @Test func invalidUTF8BodyIs400() {
        let client = TestClient()
        let bytes = Array(#"{"server": {"name": ""#.utf8) + [0xff, 0xfe] + Array(#"", "flavor": "1", "image": "cirros"}}"#.utf8)
        let response = client.send(.post, "/servers", bytes: bytes)
        #expect(response.status == 400)
        #expect(response.fault?.message.hasPrefix("Malformed request body") == true)
    }

    @Test func deeplyNestedBodyIs400NotACrash() {
        let nested = String(repeating: "[", count: 60_000) + String(repeating: "]", count: 60_000)
        let response = TestClient().post(
            "/servers", #"{"server": {"name": "a", "flavor": "1", "image": "cirros", "metadata": "# + nested + "}}")
        #expect(response.status == 400)
    }

    @Test func bodiesAreJSONWhateverTheContentType() {
        let client = TestClient()
        var request = APIRequest(
            method: .post, target: "/servers",
            headerFields: [.contentType: "text/plain", HTTPField.Name("X-Auth-Token")!: "member-a"],
            body: Array(#"{"server": {"name": "a", "flavor": "1", "image": "cirros"}}"#.utf8))
        request.requestID = "abc"
        #expect(client.service.respond(to: request).status == .ok)
    }

    @Test func malformedPercentEncodingInThePathIs400() {
        let client = TestClient()
        for path in ["/servers/%zz", "/servers/%", "/servers/%ff%fe", "/flavors/%C3"] {
            let response = client.get(path)
            #expect(response.status == 400, "\(path)")
            #expect(response.fault?.message.hasPrefix("Malformed path") == true)
        }
    }

    @Test func absoluteFormTargetsUseTheirPath() {
        #expect(TestClient().get("http://example.org/flavors").status == 200)
    }

    @Test func healthReportsCountsAndTheStore() throws {
        let client = TestClient()
        client.createServer("a")
        let response = client.status("/healthz")
        #expect(response.status == 200)
        #expect(response.json("status") as? String == "ok")
        #expect(response.json("servers") as? Int == 1)
        #expect(response.json("flavors") as? Int == 5)
        #expect(response.json("store", "writable") as? Bool == true)
        #expect(
            response.json("networks", 0) as? NSDictionary == ["name": "private", "cidr": "10.0.0.0/24", "used": 1, "free": 252])
    }

    @Test func aFailingStoreIs503AndHealthSaysSo() {
        let client = TestClient()
        client.persistence.failNextCommits([PersistenceFailure(.storageFull)])
        let response = client.createServer("a")
        #expect(response.status == 503)
        #expect(response.fault?.name == "serviceUnavailable")
        #expect(response.fault?.message == "The service cannot save changes right now: its storage is full. Try again later.")
        let health = client.status("/healthz")
        #expect(health.status == 503)
        #expect(health.json("status") as? String == "degraded")
        #expect(health.json("store", "problem") as? String == "storage is full")
        #expect(client.createServer("a").status == 200)
        #expect(client.status("/healthz").status == 200)
    }

    /// A security review reached `/healthz/` from anywhere: nginx's `location = /healthz` did
    /// not match it and the general location passed it on. Status pages are answered only for
    /// requests nginx sent through its restricted location; to anything else they do not exist.
    @Test(arguments: ["/healthz", "/healthz/", "http://x/healthz"])
    func statusPagesAreOnlyForRequestsThroughTheRestrictedLocation(path: String) {
        let client = TestClient()
        let response = client.get(path)
        #expect(response.status == 404)
        #expect(response.fault?.message == "The resource could not be found.")
        #expect(client.status(path).status == 200)
    }

    @Test func everyResponseCarriesTheOpenStackRequestIDs() {
        let client = TestClient()
        var request = APIRequest(method: .get, target: "/v2.1/servers/nope")
        request.requestID = "req-8c1e3a5b-6d0f-4e2a-9b7c-1d2e3f405162"
        request.headerFields[HTTPField.Name("X-Auth-Token")!] = "admin"
        let response = client.service.respond(to: request)
        #expect(response.headerFields[HTTPField.Name("X-OpenStack-Request-Id")!] == request.requestID)
        #expect(response.headerFields[HTTPField.Name("X-Compute-Request-Id")!] == request.requestID)
        for answered in [client.get("/flavors"), client.get("/nowhere"), client.send(.delete, "/v2.1")] {
            let id = answered.headers[HTTPField.Name("X-OpenStack-Request-Id")!] ?? ""
            #expect(id.hasPrefix("req-") && id.count == 40, "a request without an id gets a new one")
            #expect(answered.headers[HTTPField.Name("X-Compute-Request-Id")!] == id)
        }
    }
}

@Suite struct JSONWriterTests {
    @Test func escapesWhatJSONRequires() throws {
        let tricky = "quote\" backslash\\ newline\n tab\t nul\u{0} bell\u{7} é 名 🚀 \u{2028}"
        var w = JSONWriter()
        w.beginObject()
        w.field("s", tricky)
        w.key("list")
        w.beginArray()
        w.int(-1)
        w.bool(true)
        w.null()
        w.stringDictionary(["b": "2", "a": "1"])
        w.endArray()
        w.endObject()
        let parsed = try JSONSerialization.jsonObject(with: Data(w.bytes)) as? [String: Any]
        #expect(parsed?["s"] as? String == tricky)
        #expect(String(decoding: w.bytes, as: UTF8.self).hasSuffix(#""list":[-1,true,null,{"a":"1","b":"2"}]}"#))
    }

    @Test func faultsHaveOneNamedObject() {
        let fault = Fault(status: .conflict, message: "Server name a is already in use.")
        #expect(
            String(decoding: fault.response.body, as: UTF8.self)
                == #"{"conflictingRequest":{"code":409,"message":"Server name a is already in use."}}"#)
    }

    /// Every error a client can cause, through the API: each is one fault named as Nova names
    /// it, carrying its code.
    @Test func everyErrorAClientCanCauseIsANamedFault() {
        var client = TestClient()
        client.createServer("taken")
        var cases: [(TestResponse, Int, String)] = [
            (client.post("/servers", "{"), 400, "badRequest"),
            (client.get("/nowhere"), 404, "itemNotFound"),
            (client.send(.put, "/servers"), 405, "badMethod"),
            (client.createServer("taken"), 409, "conflictingRequest"),
            (client.nova(.get, "/v2.1/flavors", version: "2.101"), 406, "computeFault"),
        ]
        var oversized = APIRequest(method: .post, target: "/servers")
        oversized.body = .exceedsLimit
        cases.append((TestResponse(client.service.respond(to: oversized)), 413, "overLimit"))
        client.persistence.failNextCommits([PersistenceFailure(.storageFull)])
        cases.append((client.createServer("x"), 503, "serviceUnavailable"))
        client.token = "member-a"
        cases.append((client.post("/flavors", #"{"flavor": {"name": "f", "vcpus": 1, "ram": 1, "disk": 0}}"#), 403, "forbidden"))
        client.token = nil
        cases.append((client.get("/servers"), 401, "unauthorized"))
        for (response, code, name) in cases {
            #expect(response.status == code)
            #expect(response.fault?.name == name && response.fault?.code == code, "\(response.text)")
        }
    }
}
