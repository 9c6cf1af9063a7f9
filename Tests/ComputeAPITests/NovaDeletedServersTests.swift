import ComputeCore
import ComputeTesting
import Foundation
import HTTPTypes
import Testing

@testable import ComputeAPI

/// Deleted servers kept for a while, as Nova's polling guide describes: `changes-since` lists
/// them as `DELETED`, admins list them alone with `deleted=true` (or `status=DELETED`), and their
/// instance actions stay readable from 2.21.
@Suite struct NovaDeletedServersTests {
    let clock = TestClock()

    func client() -> TestClient {
        var client = TestClient(clock: clock, keepDeletedServersSeconds: 600)
        client.token = "member-a"
        return client
    }

    func servers(_ client: TestClient, _ query: String, version: String = "2.1") -> [[String: Any]]? {
        client.nova(.get, "/v2.1/servers/detail?\(query)", version: version).json("servers") as? [[String: Any]]
    }

    @Test func aPollSinceTheLastLookSeesTheDeletion() throws {
        var client = client()
        let kept = client.novaServer("kept")
        clock.advance(seconds: 1)
        let gone = client.novaServer("gone")
        let before = "2000-01-01T00:00:00Z"
        #expect(client.nova(.delete, "/v2.1/servers/\(gone)").status == 204)

        let polled = try #require(servers(client, "changes-since=\(before)"))
        #expect(polled.map { $0["id"] as? String } == [gone, kept])
        let deleted = polled[0]
        #expect(deleted["status"] as? String == "DELETED")
        #expect(deleted["OS-EXT-STS:vm_state"] as? String == "deleted")
        #expect(deleted["OS-SRV-USG:terminated_at"] is String)
        #expect((deleted["addresses"] as? [String: Any])?.isEmpty == true, "its address is free")
        #expect(servers(client, "")?.map { $0["id"] as? String } == [kept], "without changes-since: live servers only")
        #expect(client.nova(.get, "/v2.1/servers/\(gone)").status == 404)
        let brief = client.nova(.get, "/v2.1/servers?changes-before=2999-01-01T00:00:00Z", version: "2.66")
        #expect((brief.json("servers") as? [[String: Any]])?.count == 2, "changes-before is a poll too")

        #expect(servers(client, "deleted=true")?.count == 1, "deleted=true is an admin's: a member's is ignored")
        let refused = client.nova(.get, "/v2.1/servers?status=DELETED")
        #expect(refused.status == 403 && refused.fault?.message == "Only administrators may list deleted instances")
        client.token = "admin"
        #expect(servers(client, "deleted=true&all_tenants=1")?.map { $0["id"] as? String } == [gone])
        #expect(servers(client, "status=DELETED&all_tenants=1")?.map { $0["id"] as? String } == [gone])
        #expect(servers(client, "deleted=true")?.isEmpty == true, "the admin's own project has none")
        let live = servers(client, "deleted=false&all_tenants=1&changes-since=\(before)")
        #expect(live?.map { $0["id"] as? String } == [kept], "an admin's deleted=false: live servers only")
        let active = servers(client, "status=ACTIVE&all_tenants=1&changes-since=\(before)")
        #expect(active?.map { $0["id"] as? String } == [kept], "a deleted server has no status but DELETED")

        client.token = "member-b"
        #expect(servers(client, "changes-since=\(before)")?.isEmpty == true, "another project's deletions are not shown")
    }

    @Test func aDeletedServersActionsAreShownFrom221() throws {
        let client = client()
        let id = client.novaServer("s")
        let deletion = client.nova(.delete, "/v2.1/servers/\(id)")
        #expect(client.nova(.get, "/v2.1/servers/\(id)/os-instance-actions").status == 404, "before 2.21")
        let listed = client.nova(.get, "/v2.1/servers/\(id)/os-instance-actions", version: "2.21")
        let actions = try #require(listed.json("instanceActions") as? [[String: Any]])
        #expect(actions.map { $0["action"] as? String } == ["delete", "create"])
        let request = try #require(deletion.headers[HTTPField.Name("x-openstack-request-id")!])
        #expect(actions[0]["request_id"] as? String == request)
        let shown = client.nova(.get, "/v2.1/servers/\(id)/os-instance-actions/\(request)", version: "2.21")
        #expect(shown.json("instanceAction", "action") as? String == "delete")
        var other = client
        other.token = "member-b"
        #expect(other.nova(.get, "/v2.1/servers/\(id)/os-instance-actions", version: "2.21").status == 404)
    }

    @Test func afterItsTimeADeletedServerIsGone() throws {
        let client = client()
        let id = client.novaServer("s")
        #expect(client.nova(.delete, "/v2.1/servers/\(id)").status == 204)
        clock.advance(seconds: 601)
        #expect(servers(client, "changes-since=2000-01-01T00:00:00Z")?.isEmpty == true)
        #expect(client.nova(.get, "/v2.1/servers/\(id)/os-instance-actions", version: "2.21").status == 404)
    }
}
