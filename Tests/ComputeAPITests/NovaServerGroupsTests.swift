import ComputeCore
import Foundation
import HTTPTypes
import Testing

@testable import ComputeAPI

/// `/os-server-groups` and the `group` scheduler hint, as Nova answers them (shapes per
/// microversion as tempest's schemas for 2.1, 2.13 and 2.64 require).
@Suite struct NovaServerGroupsTests {
    static let image = Image.defaults[1].id

    static func group(_ client: TestClient, _ body: String, version: String = "2.1") throws -> [String: Any] {
        let made = client.nova(.post, "/v2.1/os-server-groups", body, version: version)
        #expect(made.status == 200, "\(made.text)")
        return try #require(made.json("server_group") as? [String: Any])
    }

    static func server(
        _ client: TestClient, group: String, name: String, count: Int = 1, version: String = "2.1"
    ) -> TestResponse {
        client.nova(
            .post, "/v2.1/servers",
            #"{"server": {"name": "\#(name)", "imageRef": "\#(image)", "flavorRef": "1", "min_count": \#(count)}, "os:scheduler_hints": {"group": "\#(group)"}}"#,
            version: version)
    }

    @Test func eachMicroversionShowsItsShapeAndShowEqualsCreate() throws {
        var client = TestClient()
        client.token = "member-a"
        let old = try Self.group(client, #"{"server_group": {"name": "web", "policies": ["affinity"]}}"#)
        #expect(Set(old.keys) == ["id", "name", "policies", "members", "metadata"])
        #expect(old["policies"] as? [String] == ["affinity"] && (old["members"] as? [String])?.isEmpty == true)
        let id = try #require(old["id"] as? String)

        let shown = client.nova(.get, "/v2.1/os-server-groups/\(id)", version: "2.13")
        #expect(shown.json("server_group", "project_id") as? String == "a")
        #expect(shown.json("server_group", "user_id") as? String == "alice")
        let again = try #require(client.nova(.get, "/v2.1/os-server-groups/\(id)").json("server_group") as? NSDictionary)
        #expect(again == old as NSDictionary, "tempest compares the create answer with show")

        let modern = try Self.group(
            client, #"{"server_group": {"name": "db", "policy": "anti-affinity", "rules": {"max_server_per_host": 2}}}"#,
            version: "2.64")
        #expect(Set(modern.keys) == ["id", "name", "policy", "rules", "members", "project_id", "user_id"])
        #expect(modern["policy"] as? String == "anti-affinity")
        #expect((modern["rules"] as? [String: Int]) == ["max_server_per_host": 2])

        let listed = client.nova(.get, "/v2.1/os-server-groups").json("server_groups") as? [[String: Any]] ?? []
        #expect(listed.compactMap { $0["name"] as? String } == ["web", "db"], "oldest first")
        #expect(client.nova(.get, "/v2.1/os-server-groups?limit=1&offset=1").text.contains("\"db\""))
        #expect(!client.nova(.get, "/v2.1/os-server-groups?limit=1&offset=1").text.contains("\"web\""))

        #expect(client.nova(.delete, "/v2.1/os-server-groups/\(id)").status == 204)
        let gone = client.nova(.get, "/v2.1/os-server-groups/\(id)")
        #expect(gone.status == 404 && gone.fault?.message == "Server group \(id) could not be found.")
        #expect(client.nova(.delete, "/v2.1/os-server-groups/\(id)").status == 404)
    }

    @Test(arguments: [
        (#"{"server_group": {"name": "x", "policies": ["soft-affinity"]}}"#, "2.14", 400),
        (#"{"server_group": {"name": "x", "policies": ["soft-affinity"]}}"#, "2.15", 200),
        (#"{"server_group": {"name": "x", "policies": ["affinity", "anti-affinity"]}}"#, "2.1", 400),
        (#"{"server_group": {"name": "x", "policies": []}}"#, "2.1", 400),
        (#"{"server_group": {"name": "x", "policies": ["packed"]}}"#, "2.1", 400),
        (#"{"server_group": {"name": "x"}}"#, "2.1", 400),
        (#"{"server_group": {"name": "", "policies": ["affinity"]}}"#, "2.1", 400),
        (#"{"server_group": {"name": "   ", "policies": ["affinity"]}}"#, "2.1", 400),
        (#"{"server_group": {"name": "x", "policy": "affinity"}}"#, "2.1", 400),
        (#"{"server_group": {"name": "x", "policies": ["affinity"]}}"#, "2.64", 400),
        (#"{"server_group": {"name": "x", "policy": "affinity", "rules": {"max_server_per_host": 2}}}"#, "2.64", 400),
        (#"{"server_group": {"name": "x", "policy": "anti-affinity", "rules": {"max_server_per_host": 0}}}"#, "2.64", 400),
        (#"{"server_group": {"name": "x", "policy": "anti-affinity", "rules": {"other": 1}}}"#, "2.64", 400),
        (#"{"server_group": {"name": "x", "policy": "soft-anti-affinity"}}"#, "2.64", 200),
        (#"{"name": "x", "policies": ["affinity"]}"#, "2.1", 400),
        (#"{"server_group": {"name": "x", "policy": "anti-affinity", "rules": {"max_server_per_host": 1e400}}}"#, "2.64", 400),
    ])
    func createIsValidatedAsNovaDoes(body: String, version: String, status: Int) {
        var client = TestClient()
        client.token = "member-a"
        let response = client.nova(.post, "/v2.1/os-server-groups", body, version: version)
        #expect(response.status == status, "\(response.text)")
        if status == 400 { #expect(response.fault?.code == 400) }
    }

    @Test func serversJoinByTheHintAndLeaveWhenDeleted() throws {
        var client = TestClient()
        client.token = "member-a"
        let id = try #require(
            try Self.group(client, #"{"server_group": {"name": "web", "policies": ["affinity"]}}"#)["id"] as? String)
        let made = Self.server(client, group: id, name: "vm1")
        #expect(made.status == 202, "\(made.text)")
        let serverID = try #require(made.json("server", "id") as? String)
        #expect(client.nova(.get, "/v2.1/os-server-groups/\(id)").json("server_group", "members") as? [String] == [serverID])
        #expect(
            client.nova(.get, "/v2.1/servers/\(serverID)", version: "2.71").json("server", "server_groups") as? [String] == [id])
        #expect(client.nova(.get, "/v2.1/servers/\(serverID)", version: "2.70").json("server", "server_groups") == nil)
        #expect(
            client.nova(.get, "/v2.1/servers/\(serverID)", version: "2.100").json("server", "scheduler_hints", "group") as? String
                == id)
        #expect(client.nova(.delete, "/v2.1/servers/\(serverID)").status == 204)
        #expect((client.nova(.get, "/v2.1/os-server-groups/\(id)").json("server_group", "members") as? [String])?.isEmpty == true)

        let unknown = Self.server(client, group: "00000000-0000-4000-8000-000000000000", name: "vm2")
        #expect(unknown.status == 400 && unknown.fault?.message.contains("Invalid server group") == true)
        let other = client.nova(
            .post, "/v2.1/servers",
            #"{"server": {"name": "vm3", "imageRef": "\#(Self.image)", "flavorRef": "1"}, "os:scheduler_hints": {"same_host": "x"}}"#
        )
        #expect(other.status == 400 && other.fault?.message.contains("only 'group'") == true)
        #expect(Self.server(client, group: "not-a-uuid", name: "vm4").status == 400)
        #expect(client.nova(.get, "/v2.1/servers").text.contains("vm2") == false, "nothing made by a refused create")
    }

    @Test func antiAffinityOnTheOneHostTakesAsManyAsItsRuleAllows() throws {
        var client = TestClient()
        client.token = "member-a"
        let strict = try #require(
            try Self.group(client, #"{"server_group": {"name": "s", "policies": ["anti-affinity"]}}"#)["id"] as? String)
        #expect(Self.server(client, group: strict, name: "a1").status == 202)
        let second = Self.server(client, group: strict, name: "a2")
        #expect(second.status == 409 && second.fault?.message.contains("No valid host was found") == true)
        let two = try #require(
            try Self.group(
                client, #"{"server_group": {"name": "t", "policy": "anti-affinity", "rules": {"max_server_per_host": 2}}}"#,
                version: "2.64")["id"] as? String)
        #expect(Self.server(client, group: two, name: "b", count: 2).status == 202)
        #expect(Self.server(client, group: two, name: "b3").status == 409)
        let soft = try #require(
            try Self.group(client, #"{"server_group": {"name": "u", "policies": ["soft-anti-affinity"]}}"#, version: "2.15")["id"]
                as? String)
        #expect(Self.server(client, group: soft, name: "c", count: 3).status == 202, "soft policies never refuse")
        let members = client.nova(.get, "/v2.1/os-server-groups/\(soft)").json("server_group", "members") as? [String]
        #expect(members?.count == 3)
    }

    @Test func groupsAndTheirMembersHaveNovasQuotas() throws {
        var client = TestClient()
        client.token = "member-a"
        let id = try #require(
            try Self.group(client, #"{"server_group": {"name": "g0", "policies": ["affinity"]}}"#)["id"] as? String)
        #expect(Self.server(client, group: id, name: "m", count: 10).status == 202)
        let over = Self.server(client, group: id, name: "m11")
        #expect(over.status == 403 && over.fault?.message == "Quota exceeded, too many servers in group")
        for index in 1..<Identity.maxServerGroupsPerProject {
            _ = try Self.group(client, #"{"server_group": {"name": "g\#(index)", "policies": ["affinity"]}}"#)
        }
        let eleventh = client.nova(.post, "/v2.1/os-server-groups", #"{"server_group": {"name": "x", "policies": ["affinity"]}}"#)
        #expect(eleventh.status == 403 && eleventh.fault?.message == "Quota exceeded, too many server groups.")
        #expect(client.nova(.get, "/v2.1/limits").json("limits", "absolute", "totalServerGroupsUsed") as? Int == 10)
        #expect(
            client.nova(.get, "/v2.1/os-quota-sets/a/detail").json("quota_set", "server_groups", "in_use") as? Int == 10)
        client.token = "member-b"
        #expect(client.nova(.get, "/v2.1/limits").json("limits", "absolute", "totalServerGroupsUsed") as? Int == 0)
    }

    @Test func anotherProjectsGroupIsNotFoundAndReadersOnlyLook() throws {
        var client = TestClient()
        client.token = "member-a"
        let id = try #require(
            try Self.group(client, #"{"server_group": {"name": "mine", "policies": ["affinity"]}}"#)["id"] as? String)
        client.token = "member-b"
        let never = "00000000-0000-4000-8000-00000000abcd"
        for method in [HTTPRequest.Method.get, .delete] {
            let theirs = client.nova(method, "/v2.1/os-server-groups/\(id)")
            let control = client.nova(method, "/v2.1/os-server-groups/\(never)")
            #expect(theirs.status == 404)
            #expect(
                theirs.text.replacingOccurrences(of: id, with: "ID") == control.text.replacingOccurrences(of: never, with: "ID"))
        }
        #expect(!client.nova(.get, "/v2.1/os-server-groups").text.contains(id))
        #expect(Self.server(client, group: id, name: "in").status == 400, "B cannot join A's group")
        #expect(client.nova(.get, "/v2.1/os-server-groups?all_projects=True").status == 403)
        client.token = "reader-a"
        #expect(client.nova(.get, "/v2.1/os-server-groups").text.contains(id))
        #expect(client.nova(.get, "/v2.1/os-server-groups/\(id)").status == 200)
        #expect(client.nova(.delete, "/v2.1/os-server-groups/\(id)").status == 403)
        #expect(
            client.nova(.post, "/v2.1/os-server-groups", #"{"server_group": {"name": "r", "policies": ["affinity"]}}"#).status
                == 403)
        client.token = "admin"
        #expect(!client.nova(.get, "/v2.1/os-server-groups").text.contains(id), "an admin's own project by default")
        #expect(client.nova(.get, "/v2.1/os-server-groups?all_projects=True").text.contains(id))
        #expect(client.nova(.get, "/v2.1/os-server-groups/\(id)").status == 200)
    }
}
