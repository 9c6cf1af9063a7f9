import ComputeAPI
import ComputeCore
import Foundation
import HTTPTypes
import Testing

/// Every route × {no token, member of A, reader of A, member of B, admin}: who may do what, and
/// that project B never learns anything of project A's server (a 404, never a 403 or its id).
enum Who: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case nobody, memberA, readerA, memberB, admin

    var token: String? {
        switch self {
        case .nobody: nil
        case .memberA: "member-a"
        case .readerA: "reader-a"
        case .memberB: "member-b"
        case .admin: "admin"
        }
    }

    var testDescription: String { rawValue }
}

struct Route: Sendable, CustomTestStringConvertible {
    var method: HTTPRequest.Method
    /// `{id}` is project A's server.
    var path: String
    var body: String?
    var version: String?
    /// Expected status for memberA, memberB and admin (nobody gets 401 unless `open`).
    var memberA: Int
    var memberB: Int
    var admin: Int
    var open = false
    /// A reader of project A: what member A gets for reads; a 403 for every change.
    var readerA: Int {
        [.get, .head].contains(method) ? memberA : (open ? memberA : 403)
    }

    var testDescription: String { "\(method.rawValue) \(path)" }

    func expected(_ who: Who) -> Int {
        switch who {
        case .nobody: open ? memberA : 401
        case .memberA: memberA
        case .readerA: readerA
        case .memberB: memberB
        case .admin: admin
        }
    }
}

private let image = Image.defaults[1].id
private let v1Server = #"{"server": {"name": "new", "flavor": "1", "image": "cirros"}}"#
private let novaServer = #"{"server": {"name": "new", "flavorRef": "1", "imageRef": "\#(image)"}}"#
private let flavorBody = #"{"flavor": {"name": "f2", "ram": 64, "vcpus": 1, "disk": 0}}"#

let accessMatrix: [Route] = [
    // v1
    Route(method: .get, path: "/servers", memberA: 200, memberB: 200, admin: 200),
    Route(method: .get, path: "/servers?all_tenants=1", memberA: 403, memberB: 403, admin: 200),
    Route(method: .post, path: "/servers", body: v1Server, memberA: 200, memberB: 200, admin: 200),
    Route(method: .get, path: "/servers/{id}", memberA: 200, memberB: 404, admin: 200),
    Route(method: .get, path: "/servers/vm", memberA: 200, memberB: 404, admin: 404),
    Route(method: .patch, path: "/servers/{id}", body: #"{"server": {"new_name": "x"}}"#, memberA: 200, memberB: 404, admin: 200),
    Route(method: .delete, path: "/servers/{id}", memberA: 204, memberB: 404, admin: 204),
    Route(method: .get, path: "/flavors", memberA: 200, memberB: 200, admin: 200),
    Route(method: .post, path: "/flavors", body: flavorBody, memberA: 403, memberB: 403, admin: 200),
    Route(method: .get, path: "/flavors/custom", memberA: 200, memberB: 200, admin: 200),
    Route(method: .delete, path: "/flavors/custom", memberA: 403, memberB: 403, admin: 204),
    Route(method: .get, path: "/flavors/secret", memberA: 200, memberB: 404, admin: 200),
    // Status pages only through nginx's restricted location (ProtocolTests); not here.
    Route(method: .get, path: "/healthz", memberA: 404, memberB: 404, admin: 404, open: true),
    // OpenStack
    Route(method: .get, path: "/", memberA: 200, memberB: 200, admin: 200, open: true),
    Route(method: .get, path: "/v2.1", memberA: 200, memberB: 200, admin: 200, open: true),
    Route(method: .get, path: "/v2.1/servers", memberA: 200, memberB: 200, admin: 200),
    Route(method: .get, path: "/v2.1/servers/detail", memberA: 200, memberB: 200, admin: 200),
    Route(method: .get, path: "/v2.1/servers/detail?all_tenants=True", memberA: 403, memberB: 403, admin: 200),
    Route(method: .post, path: "/v2.1/servers", body: novaServer, memberA: 202, memberB: 202, admin: 202),
    Route(method: .get, path: "/v2.1/servers/{id}", memberA: 200, memberB: 404, admin: 200),
    Route(method: .put, path: "/v2.1/servers/{id}", body: #"{"server": {"name": "x"}}"#, memberA: 200, memberB: 404, admin: 200),
    Route(method: .delete, path: "/v2.1/servers/{id}", memberA: 204, memberB: 404, admin: 204),
    Route(
        method: .post, path: "/v2.1/servers/{id}/action", body: #"{"os-stop": null}"#, memberA: 202, memberB: 404, admin: 202),
    Route(method: .get, path: "/v2.1/flavors", memberA: 200, memberB: 200, admin: 200),
    Route(method: .get, path: "/v2.1/flavors/detail", memberA: 200, memberB: 200, admin: 200),
    Route(method: .post, path: "/v2.1/flavors", body: flavorBody, memberA: 403, memberB: 403, admin: 200),
    Route(method: .get, path: "/v2.1/flavors/custom", memberA: 200, memberB: 200, admin: 200),
    Route(
        method: .put, path: "/v2.1/flavors/custom", body: #"{"flavor": {"description": "d"}}"#, version: "2.55",
        memberA: 403, memberB: 403, admin: 200),
    Route(method: .delete, path: "/v2.1/flavors/custom", memberA: 403, memberB: 403, admin: 202),
    Route(method: .get, path: "/v2.1/flavors/custom/os-extra_specs", memberA: 200, memberB: 200, admin: 200),
    Route(method: .get, path: "/v2.1/flavors/secret", memberA: 200, memberB: 404, admin: 200),
    Route(method: .get, path: "/v2.1/flavors/secret/os-extra_specs", memberA: 200, memberB: 404, admin: 200),
    Route(method: .get, path: "/v2.1/flavors/secret/os-flavor-access", memberA: 403, memberB: 403, admin: 200),
    Route(
        method: .post, path: "/v2.1/flavors/secret/action", body: #"{"addTenantAccess": {"tenant": "c"}}"#,
        memberA: 403, memberB: 403, admin: 200),
    Route(
        method: .post, path: "/v2.1/flavors/custom/os-extra_specs", body: #"{"extra_specs": {"a": "b"}}"#,
        memberA: 403, memberB: 403, admin: 200),
    Route(method: .get, path: "/v2.1/flavors/custom/os-extra_specs/k", memberA: 200, memberB: 200, admin: 200),
    Route(
        method: .put, path: "/v2.1/flavors/custom/os-extra_specs/k", body: #"{"k": "w"}"#, memberA: 403, memberB: 403,
        admin: 200),
    Route(method: .delete, path: "/v2.1/flavors/custom/os-extra_specs/k", memberA: 403, memberB: 403, admin: 200),
    Route(method: .get, path: "/v2.1/os-quota-sets/a", memberA: 200, memberB: 403, admin: 200),
    Route(method: .get, path: "/v2.1/os-quota-sets/a/detail", memberA: 200, memberB: 403, admin: 200),
    Route(method: .get, path: "/v2.1/os-quota-sets/a/defaults", memberA: 200, memberB: 403, admin: 200),
    Route(
        method: .put, path: "/v2.1/os-quota-sets/a", body: #"{"quota_set": {"instances": 50}}"#, memberA: 403, memberB: 403,
        admin: 200),
    Route(method: .delete, path: "/v2.1/os-quota-sets/b", memberA: 403, memberB: 403, admin: 202),
    Route(method: .get, path: "/v2.1/limits", memberA: 200, memberB: 200, admin: 200),
    Route(method: .get, path: "/v2.1/limits?tenant_id=a", memberA: 200, memberB: 403, admin: 200),
    Route(method: .get, path: "/v2.1/images", memberA: 200, memberB: 200, admin: 200),
    Route(method: .get, path: "/v2.1/images/\(image)", memberA: 200, memberB: 200, admin: 200),
    Route(method: .get, path: "/v2.1/networks", memberA: 200, memberB: 200, admin: 200),
    Route(method: .get, path: "/v2.1/networks/\(NetworkConfig.defaultPrivateID)", memberA: 200, memberB: 200, admin: 200),
]

@Suite struct AccessMatrixTests {
    /// A service where member A owns server `vm` and the admin made flavor `custom` with an
    /// extra spec `k`, and flavor `secret`, which only project A may see.
    static func world() throws -> (TestClient, serverID: String) {
        var client = TestClient()
        client.token = "member-a"
        let id = try #require(
            client.post("/servers", v1Server.replacingOccurrences(of: "new", with: "vm")).json("server", "id") as? String)
        client.token = "admin"
        #expect(
            client.post("/flavors", #"{"flavor": {"id": "custom", "name": "custom", "ram": 64, "vcpus": 1, "disk": 0}}"#).status
                == 200)
        #expect(client.nova(.post, "/v2.1/flavors/custom/os-extra_specs", #"{"extra_specs": {"k": "v"}}"#).status == 200)
        let secret =
            #"{"flavor": {"id": "secret", "name": "secret", "ram": 64, "vcpus": 1, "disk": 0, "os-flavor-access:is_public": false}}"#
        #expect(client.nova(.post, "/v2.1/flavors", secret).status == 200)
        #expect(client.nova(.post, "/v2.1/flavors/secret/action", #"{"addTenantAccess": {"tenant": "a"}}"#).status == 200)
        return (client, id)
    }

    @Test(arguments: accessMatrix, Who.allCases)
    func everyRouteForEveryone(route: Route, who: Who) throws {
        var (client, id) = try Self.world()
        client.token = who.token
        let path = route.path.replacingOccurrences(of: "{id}", with: id)
        let response = client.nova(route.method, path, route.body, version: route.version)
        #expect(response.status == route.expected(who), "\(response.text)")
        if response.status >= 400 {
            #expect(response.fault?.code == response.status)
        }
        if response.status == 401 {
            #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Token") == true)
        }
        guard who == .memberB || who == .nobody else { return }
        if route.path.contains("{id}") {
            // Indistinguishable from a server that never existed: the same answer, word for word.
            let never = "00000000-0000-4000-8000-00000000abcd"
            let control = client.nova(
                route.method, route.path.replacingOccurrences(of: "{id}", with: never), route.body, version: route.version)
            #expect(response.status == control.status)
            #expect(
                response.text.replacingOccurrences(of: id, with: "ID") == control.text.replacingOccurrences(of: never, with: "ID")
            )
        } else {
            #expect(!response.text.contains(id), "project A's server must not show to \(who)")
        }
    }

    @Test func listingsShowEachProjectItsOwnServers() throws {
        var (client, id) = try Self.world()
        for (who, sees) in [(Who.memberA, true), (.memberB, false), (.admin, false)] {
            client.token = who.token
            #expect(client.get("/servers").text.contains(id) == sees, "\(who)")
            #expect(client.nova(.get, "/v2.1/servers/detail").text.contains(id) == sees, "\(who)")
        }
        client.token = "admin"
        #expect(client.get("/servers?all_tenants=1").text.contains(id))
        #expect(client.get("/servers?all_tenants=no").text.contains(id) == false)
        #expect(client.get("/servers?all_tenants=AAA").status == 400)
        #expect(client.nova(.get, "/v2.1/servers?all_tenants=1").text.contains(id))
        #expect(client.nova(.get, "/v2.1/servers/\(id)").json("server", "tenant_id") as? String == "a")
    }

    @Test(arguments: [nil, "", "nope", "0123456789ab.00", "ADMIN", "admin.admin"] as [String?])
    func badTokensAre401(token: String?) {
        var client = TestClient()
        client.token = token
        let response = client.get("/servers")
        #expect(response.status == 401)
        #expect(response.fault?.name == "unauthorized")
    }

    @Test func namesAreUniquePerProjectAndServersKeepTheirCreatorsProject() throws {
        var client = TestClient()
        for token in ["member-a", "member-b"] {
            client.token = token
            #expect(client.post("/servers", v1Server).status == 200, "the same name in two projects")
        }
        client.token = "member-a"
        #expect(client.post("/servers", v1Server).status == 409)
        let id = try #require(client.get("/servers/new").json("server", "id") as? String)
        #expect(client.nova(.get, "/v2.1/servers/\(id)").json("server", "user_id") as? String == "alice")
    }
}

@Suite struct QuotaTests {
    @Test func defaultsShowTheDefaultsNotTheProjectsOverride() throws {
        // Project `a` has its own limits; everyone else has the defaults.
        let quotas = MemoryQuotaOverrides()
        _ = try quotas.setOverride(QuotaOverride(project: "a", instances: 2, cores: 20, ram: 51_200))
        var client = TestClient(quotaDefaults: .novaDefaults, quotas: quotas)
        client.token = "member-a"
        #expect(client.nova(.get, "/v2.1/os-quota-sets/a").json("quota_set", "instances") as? Int == 2)
        #expect(client.nova(.get, "/v2.1/os-quota-sets/a/defaults").json("quota_set", "instances") as? Int == 10)
        #expect(client.nova(.get, "/v2.1/limits").json("limits", "absolute", "maxTotalInstances") as? Int == 2)
    }

    static func client(instances: Int = 3, cores: Int = 4, ram: Int = 4096) -> TestClient {
        var client = TestClient(quotaDefaults: QuotaLimits(instances: instances, cores: cores, ram: ram))
        client.token = "member-a"
        return client
    }

    @Test func exactlyAtTheLimitSucceedsAndOneMoreIs403() {
        let client = Self.client()
        for index in 1...3 {
            #expect(
                client.post("/servers", #"{"server": {"name": "s\#(index)", "flavor": "1", "image": "cirros"}}"#).status == 200)
        }
        let over = client.post("/servers", #"{"server": {"name": "s4", "flavor": "1", "image": "cirros"}}"#)
        #expect(over.status == 403)
        #expect(over.fault?.name == "forbidden")
        #expect(
            over.fault?.message.hasPrefix("Quota exceeded for instances: Requested 1, but already used 3 of 3 instances. ")
                == true)
        #expect(over.fault?.message.contains("quota set --project") == true, "and says how to raise it")
        #expect(client.delete("/servers/s1").status == 204)
        #expect(client.post("/servers", #"{"server": {"name": "s4", "flavor": "1", "image": "cirros"}}"#).status == 200)
    }

    @Test func reconfiguredImagesAndDefaultsApplyToTheNextRequest() throws {
        let client = Self.client(instances: 1)
        let debian = #"{"server": {"name": "d", "flavor": "1", "image": "debian-12"}}"#
        #expect(client.post("/servers", #"{"server": {"name": "c", "flavor": "1", "image": "cirros"}}"#).status == 200)
        #expect(client.post("/servers", debian).fault?.message.hasPrefix("Image debian-12 could not be found.") == true)
        let images = Image.defaults + [try Image(id: "3f1c2a9e-7d4b-4e8a-9c6f-1b2d3e4f5a60", name: "debian-12")]
        client.inventory.reconfigure(.init(images: images, quotaDefaults: QuotaLimits(instances: 2, cores: -1, ram: -1)))
        #expect(client.post("/servers", debian).status == 200)
        #expect(client.nova(.get, "/v2.1/os-quota-sets/a/defaults").json("quota_set", "instances") as? Int == 2)
        #expect(client.post("/servers", #"{"server": {"name": "e", "flavor": "1", "image": "cirros"}}"#).status == 403)
    }

    @Test func coresAndRamCountTheFlavor() {
        let client = Self.client(instances: 10, cores: 4, ram: 4096)
        // m1.medium: 2 vCPUs, 4096 MiB.
        #expect(client.post("/servers", #"{"server": {"name": "m", "flavor": "3", "image": "cirros"}}"#).status == 200)
        let ram = client.post("/servers", #"{"server": {"name": "t", "flavor": "1", "image": "cirros"}}"#)
        #expect(
            ram.fault?.message.hasPrefix("Quota exceeded for ram: Requested 512, but already used 4096 of 4096 ram. ") == true)
        let cores = Self.client(instances: 10, cores: 2, ram: -1)
        #expect(cores.post("/servers", #"{"server": {"name": "m", "flavor": "3", "image": "cirros"}}"#).status == 200)
        #expect(
            cores.nova(.post, "/v2.1/servers", #"{"server": {"name": "n", "flavorRef": "1", "imageRef": "\#(image)"}}"#).fault?
                .message.hasPrefix("Quota exceeded for cores: Requested 1, but already used 2 of 2 cores. ") == true)
    }

    @Test func multiCreateIsAllOrNothingWithinMinAndMax() throws {
        let client = Self.client(instances: 3)
        #expect(
            client.post("/servers", #"{"server": {"name": "w", "flavor": "1", "image": "cirros", "min_count": 4}}"#).status == 403
        )
        #expect((client.get("/servers").json("servers") as? [Any])?.isEmpty == true, "nothing was created")
        let some = client.post(
            "/servers", #"{"server": {"name": "w", "flavor": "1", "image": "cirros", "min_count": 2, "max_count": 5}}"#)
        #expect(some.status == 200)
        #expect((some.json("servers") as? [Any])?.count == 3, "as many as the quota allows")
        let limits = client.nova(.get, "/v2.1/limits")
        #expect(limits.json("limits", "absolute", "maxTotalInstances") as? Int == 3)
        #expect(limits.json("limits", "absolute", "totalInstancesUsed") as? Int == 3)
        #expect(limits.json("limits", "absolute", "totalCoresUsed") as? Int == 3)
        let detail = client.nova(.get, "/v2.1/os-quota-sets/a/detail")
        #expect(detail.json("quota_set", "instances", "in_use") as? Int == 3)
        #expect(detail.json("quota_set", "ram", "limit") as? Int == 4096)
        #expect(client.nova(.get, "/v2.1/os-quota-sets/a").json("quota_set", "cores") as? Int == 4)
    }
}
