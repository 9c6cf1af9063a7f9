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
}
