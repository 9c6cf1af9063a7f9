import ComputeCore
import Foundation
import HTTPTypes
import Testing

@testable import ComputeAPI

/// `/servers/{id}/ips[/{network}]`, `/servers/{id}/os-server-password` and
/// `/os-availability-zone`, as Nova answers them.
@Suite struct NovaServerDetailsTests {
    @Test func addressesByNetwork() {
        let client = TestClient()
        let id = client.novaServer("addressed")
        let all = client.nova(.get, "/v2.1/servers/\(id)/ips")
        #expect(all.status == 200)
        #expect(all.json("addresses", "private", 0, "addr") as? String == "10.0.0.2")
        #expect(all.json("addresses", "private", 0, "version") as? Int == 4)
        let one = client.nova(.get, "/v2.1/servers/\(id)/ips/private")
        #expect(one.status == 200 && one.object.keys.sorted() == ["private"])
        #expect(one.json("private", 0, "addr") as? String == "10.0.0.2")
        let other = client.nova(.get, "/v2.1/servers/\(id)/ips/public")
        #expect(other.status == 404 && other.fault?.message == "Instance is not a member of specified network")
        #expect(client.nova(.get, "/v2.1/servers/00000000-0000-4000-8000-000000000000/ips").status == 404)
    }

    @Test func noServerPasswordAndOneZone() {
        var client = TestClient()
        client.token = "member-a"
        let id = client.novaServer("quiet")
        #expect(client.nova(.get, "/v2.1/servers/\(id)/os-server-password").json("password") as? String == "")
        #expect(client.nova(.delete, "/v2.1/servers/\(id)/os-server-password").status == 204)
        client.token = "reader-a"
        #expect(client.nova(.get, "/v2.1/servers/\(id)/os-server-password").status == 200)
        #expect(client.nova(.delete, "/v2.1/servers/\(id)/os-server-password").status == 403, "clearing is a member's")
        let zones = client.nova(.get, "/v2.1/os-availability-zone")
        #expect(zones.json("availabilityZoneInfo", 0, "zoneName") as? String == "nova")
        #expect(zones.json("availabilityZoneInfo", 0, "zoneState", "available") as? Bool == true)
        let server = client.nova(.get, "/v2.1/servers/\(id)")
        #expect(server.json("server", "OS-EXT-AZ:availability_zone") as? String == "nova", "what every server shows")
    }

    @Test func theIPFilterMatchesAddressesFromTheirStart() throws {
        var client = TestClient()
        client.token = "member-a"
        let ids = (1...12).map { client.novaServer("s\($0)") }  // 10.0.0.2 … 10.0.0.13
        func listed(_ query: String, version: String = "2.1") -> [String] {
            (client.nova(.get, "/v2.1/servers?\(query)", version: version).json("servers") as? [[String: Any]] ?? [])
                .compactMap { $0["id"] as? String }
        }
        #expect(Set(listed("ip=10.0.0.1")) == Set([ids[8], ids[9], ids[10], ids[11]]), "10.0.0.10 to .13: Python's re.match")
        #expect(listed("ip=10.0.0.2$") == [ids[0]])
        #expect(listed("ip=0.0.2").isEmpty, "anchored at the start")
        #expect(listed("ip=10%5C.0%5C.0%5C.%5B0-9%5D%24&name=s").count == 8, "with the name filter")
        #expect(client.nova(.get, "/v2.1/servers?ip=%28").fault?.message.hasPrefix("The ip filter '(' is not a valid") == true)
        #expect(listed("ip6=.*", version: "2.5").isEmpty, "no server has an IPv6 address")
        #expect(listed("ip6=.*").count == 12, "before 2.5 a member's ip6 is dropped, as Nova does")
    }
}
