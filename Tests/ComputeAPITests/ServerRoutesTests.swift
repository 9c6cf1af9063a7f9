import ComputeAPI
import ComputeCore
import Foundation
import HTTPTypes
import Testing

@Suite struct ServerRoutesTests {
    @Test func createWithTheSeedExampleReturns200AndTheView() throws {
        let client = TestClient()
        let response = client.createServer("demo_instance_final")
        #expect(response.status == 200)
        #expect(response.headers[.contentType] == "application/json")
        let server = try #require(response.json("server") as? [String: Any])
        #expect(
            Set(server.keys) == [
                "id", "name", "status", "flavor", "image", "keyname", "network", "addresses", "metadata", "reservation_id",
                "created", "updated",
            ])
        #expect(UUID(uuidString: server["id"] as! String) != nil)
        #expect(server["name"] as? String == "demo_instance_final")
        #expect(server["status"] as? String == "ACTIVE")
        #expect(server["image"] as? String == "cirros-0.3.4-x86_64-uec")
        #expect(server["keyname"] as? String == "admin-key")
        #expect(server["network"] as? String == "private")
        #expect(
            response.json("server", "flavor") as? NSDictionary == [
                "id": "2", "name": "m1.small", "vcpus": 1, "ram": 2048, "disk": 20,
            ])
        #expect(response.json("server", "addresses") as? NSDictionary == ["private": [["version": 4, "addr": "10.0.0.2"]]])
        #expect(server["metadata"] as? NSDictionary == [:])
        let created = try #require(server["created"] as? String)
        #expect(created.count == 20 && created.hasSuffix("Z") && Timestamp(canonical: created) != nil)
        #expect((server["reservation_id"] as? String)?.hasPrefix("r-") == true)
    }

    @Test func networkAndKeynameAreOptional() {
        let client = TestClient()
        let response = client.post("/servers", #"{"server":{"name":"a","flavor":"1","image": "cirros"}}"#)
        #expect(response.status == 200)
        #expect(response.json("server", "network") as? String == "private")
        #expect(response.json("server", "keyname") is NSNull)
    }

    @Test func getByIdOrNameAndPercentEncodedNames() throws {
        let client = TestClient()
        let id = try #require(client.createServer("my server").json("server", "id") as? String)
        #expect(client.get("/servers/\(id)").json("server", "name") as? String == "my server")
        #expect(client.get("/servers/my%20server").json("server", "id") as? String == id)
        #expect(client.get("/servers/my%20server/").status == 200, "a trailing slash is ignored")
        let missing = client.get("/servers/nope")
        #expect(missing.status == 404)
        #expect(missing.fault?.name == "itemNotFound")
        #expect(missing.fault?.message == "Server nope could not be found.")
        #expect(client.get("/servers/a%2Fb").fault?.message == "Server a/b could not be found.", "%2F stays inside the ref")
        #expect(client.get("/servers/%E2%82%AC").fault?.message == "Server € could not be found.")
    }

    @Test func patchRenamesAndReplacesMetadata() throws {
        let client = TestClient()
        client.createServer("demo_instance_final")
        let renamed = client.patch("/servers/demo_instance_final", #"{"server": {"new_name": "demo_instance_update"}}"#)
        #expect(renamed.status == 200)
        #expect(renamed.json("server", "name") as? String == "demo_instance_update")
        #expect(client.get("/servers/demo_instance_final").status == 404)
        let meta = client.patch("/servers/demo_instance_update", #"{"server": {"metadata": {"role": "db"}}}"#)
        #expect(meta.json("server", "metadata") as? NSDictionary == ["role": "db"])
        #expect(
            client.patch("/servers/demo_instance_update", #"{"server": {"metadata": {}}}"#).json("server", "metadata")
                as? NSDictionary == [:])
    }

    @Test func patchErrors() {
        let client = TestClient()
        client.createServer("a")
        client.createServer("b")
        #expect(client.patch("/servers/a", #"{"server": {"new_name": "b"}}"#).status == 409)
        #expect(client.patch("/servers/a", #"{"server": {"new_name": "b"}}"#).fault?.name == "conflictingRequest")
        #expect(client.patch("/servers/zzz", #"{"server": {"new_name": "c"}}"#).status == 404)
        let empty = client.patch("/servers/a", #"{"server": {}}"#)
        #expect(empty.status == 400)
        #expect(empty.fault?.message == "Invalid input for field 'server': give 'new_name', 'metadata' or both.")
        #expect(client.patch("/servers/a", #"{"server": {"name": "c"}}"#).status == 400, "the field is new_name")
        #expect(client.patch("/servers/a", #"{"server": {"new_name": "a/b"}}"#).status == 400)
        #expect(
            client.patch("/servers/a", #"{"server": {"new_name": null, "metadata": {}}}"#).fault?.message
                == "Invalid input for field 'server.new_name': expected a string, not null.")
    }

    @Test func nullIsAcceptedOnlyWhereDocumented() {
        let client = TestClient()
        #expect(
            client.post("/servers", #"{"server": {"name": "a", "flavor": "1", "image": "cirros", "keyname": null}}"#).status
                == 200)
        #expect(
            client.post(
                "/flavors", #"{"flavor": {"name": "f", "vcpus": 1, "ram": 1, "disk": 0, "id": null, "description": null}}"#
            ).status == 200)
        #expect(
            client.post("/flavors", #"{"flavor": {"name": "g", "vcpus": 1, "ram": 1, "disk": 0, "swap": null}}"#).status == 400)
    }

    @Test func deleteReturns204WithNoBodyThen404() {
        let client = TestClient()
        client.createServer("demo")
        let response = client.delete("/servers/demo")
        #expect(response.status == 204)
        #expect(response.body.isEmpty)
        #expect(client.delete("/servers/demo").status == 404)
        #expect(client.createServer("again").json("server", "addresses", "private", 0, "addr") as? String == "10.0.0.2")
    }

    @Test func duplicateNameIs409() {
        let client = TestClient()
        client.createServer("demo")
        let again = client.createServer("demo")
        #expect(again.status == 409)
        #expect(again.fault?.message == "Server name demo is already in use.")
    }

    @Test func unknownFlavorOrNetworkIs400() {
        let client = TestClient()
        #expect(
            client.createServer("a", flavor: "m9.giant").fault?.message
                == "Flavor m9.giant could not be found. The flavors there are: m1.tiny, m1.small, m1.medium, m1.large, m1.xlarge."
        )
        let network = client.post("/servers", #"{"server":{"name":"a","flavor":"1","image": "cirros","network":"public"}}"#)
        #expect(network.status == 400)
        #expect(network.fault?.message == "Network public could not be found. The networks there are: private.")
    }

    @Test func flavorMayBeGivenById() {
        #expect(TestClient().createServer("a", flavor: "3").json("server", "flavor", "name") as? String == "m1.medium")
    }
}

@Suite struct MultiCreateRoutesTests {
    @Test func returnsTheReservationAndEveryServer() throws {
        let client = TestClient()
        let response = client.createServer("web", extra: #", "min_count": 3"#)
        #expect(response.status == 200)
        let reservation = try #require(response.json("reservation_id") as? String)
        #expect(reservation.count == 10 && reservation.hasPrefix("r-"))
        let servers = try #require(response.json("servers") as? [[String: Any]])
        #expect(servers.map { $0["name"] as? String } == ["web-1", "web-2", "web-3"])
        #expect(servers.allSatisfy { $0["reservation_id"] as? String == reservation })
        let listed = client.get("/servers?reservation_id=\(reservation)").json("servers") as? [Any]
        #expect(listed?.count == 3)
    }

    @Test func returnReservationIdAloneWhenAsked() {
        let client = TestClient()
        let response = client.createServer("web", extra: #", "min_count": 2, "max_count": 4, "return_reservation_id": true"#)
        #expect(response.status == 200)
        #expect(Set(response.object.keys) == ["reservation_id"])
        #expect((client.get("/servers").json("servers") as? [Any])?.count == 4)
    }

    @Test func countsMayBeStringsAsInNovasSamples() {
        let response = TestClient().createServer("web", extra: #", "min_count": "2", "return_reservation_id": "True""#)
        #expect(response.status == 200)
        #expect(response.object.keys.contains("reservation_id"))
    }

    @Test func aNameClashCreatesNone() {
        let client = TestClient()
        client.createServer("web-2")
        #expect(client.createServer("web", extra: #", "min_count": 3"#).status == 409)
        #expect((client.get("/servers").json("servers") as? [Any])?.count == 1)
    }

    @Test(arguments: [
        (#", "min_count": 0"#, "Invalid input for field 'server.min_count': must be 1 or more."),
        (#", "min_count": 101"#, "Invalid input for field 'server.min_count': must be 100 or less."),
        (
            #", "min_count": 3, "max_count": 2"#,
            "Invalid input for field 'server.min_count': must not be greater than server.max_count."
        ),
        (#", "min_count": 1.5"#, "Invalid input for field 'server.min_count': must be an integer."),
        (#", "max_count": "many""#, "Invalid input for field 'server.max_count': must be an integer."),
        (#", "return_reservation_id": "maybe""#, "Invalid input for field 'server.return_reservation_id': must be a boolean."),
    ])
    func badCountsAre400(extra: String, message: String) {
        let response = TestClient().createServer("web", extra: extra)
        #expect(response.status == 400)
        #expect(response.fault?.message == message)
    }

    @Test func runningOutOfAddressesIs409AndCreatesNone() throws {
        let client = TestClient(networks: [try NetworkConfig(name: "private", cidr: "10.0.0.0/29")])
        let response = client.createServer("web", extra: #", "min_count": 6"#)
        #expect(response.status == 409)
        #expect(response.fault?.message == "Network private has 5 free addresses; 6 needed.")
        #expect((client.get("/servers").json("servers") as? [Any])?.isEmpty == true)
    }
}

@Suite struct ListRoutesTests {
    func clientWith(_ count: Int) -> TestClient {
        let client = TestClient()
        for i in 0..<count { client.createServer("s\(i)") }
        return client
    }

    @Test func listIsNewestFirstWithoutLinksWhenNotFull() {
        let client = clientWith(3)
        let response = client.get("/servers")
        #expect(response.status == 200)
        #expect(Set(response.object.keys) == ["servers"])
        let names = (response.json("servers") as? [[String: Any]])?.map { $0["name"] as? String }
        #expect(names == ["s2", "s1", "s0"])
    }

    @Test func fullPagesLinkToTheNext() throws {
        let client = clientWith(5)
        let first = client.get("/servers?limit=2")
        let ids = try #require((first.json("servers") as? [[String: Any]])?.compactMap { $0["id"] as? String })
        #expect(ids.count == 2)
        let href = try #require(first.json("servers_links", 0, "href") as? String)
        #expect(first.json("servers_links", 0, "rel") as? String == "next")
        #expect(href == "/servers?limit=2&marker=\(ids[1])")
        let second = client.get(href)
        #expect((second.json("servers") as? [[String: Any]])?.map { $0["name"] as? String } == ["s2", "s1"])
        let third = client.get(try #require(second.json("servers_links", 0, "href") as? String))
        #expect((third.json("servers") as? [[String: Any]])?.map { $0["name"] as? String } == ["s0"])
        #expect(third.json("servers_links") == nil)
    }

    @Test func nextLinksKeepTheFilters() throws {
        let client = clientWith(3)
        let page = client.get("/servers?flavor=m1.small&limit=1")
        let href = try #require(page.json("servers_links", 0, "href") as? String)
        #expect(href.hasPrefix("/servers?flavor=m1.small&limit=1&marker="))
    }

    @Test func filters() {
        let client = clientWith(2)
        client.createServer("tiny", flavor: "m1.tiny")
        func names(_ query: String) -> [String] {
            ((client.get("/servers?\(query)").json("servers") as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
        }
        #expect(names("name=s1") == ["s1"])
        #expect(names("name=s") == [], "name is an exact match")
        #expect(names("flavor=1") == ["tiny"])
        #expect(names("flavor=m1.tiny") == ["tiny"])
        #expect(names("status=ACTIVE").count == 3)
        #expect(names("status=active").count == 3)
        #expect(names("status=SHUTOFF") == [])
        #expect(names("name=s0&flavor=m1.small") == ["s0"])
    }

    @Test(arguments: [
        ("limit=0", "Invalid value for query parameter 'limit': '0' is not an integer from 1 to 1000."),
        ("limit=-1", "Invalid value for query parameter 'limit': '-1' is not an integer from 1 to 1000."),
        ("limit=1001", "Invalid value for query parameter 'limit': '1001' is not an integer from 1 to 1000."),
        ("limit=abc", "Invalid value for query parameter 'limit': 'abc' is not an integer from 1 to 1000."),
        ("limit=", "Query parameter 'limit' must not be empty."),
        ("marker=nope", "Marker nope could not be found."),
        (
            "status=SLEEPING",
            "Invalid value for query parameter 'status': 'SLEEPING' is not one of ACTIVE, BUILD, SHUTOFF, REBOOT, HARD_REBOOT, ERROR."
        ),
        (
            "sort=name",
            "Unknown query parameter 'sort'. Supported: name, status, flavor, reservation_id, all_tenants, limit, marker."
        ),
        ("limit=1&limit=2", "Query parameter 'limit' is given more than once."),
        ("name=%zz", "Malformed query string: invalid percent-encoding in 'name=%zz'."),
        ("name=%ff", "Malformed query string: invalid percent-encoding in 'name=%ff'."),
    ])
    func badQueriesAre400(query: String, message: String) {
        let response = clientWith(1).get("/servers?\(query)")
        #expect(response.status == 400)
        #expect(response.fault?.name == "badRequest")
        #expect(response.fault?.message == message)
    }

    @Test func plusInQueriesIsASpace() {
        let client = TestClient()
        client.createServer("my server")
        #expect((client.get("/servers?name=my+server").json("servers") as? [Any])?.count == 1)
    }
}
