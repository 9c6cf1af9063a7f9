import ComputeCore
import Foundation
import HTTPTypes
import Testing

@testable import ComputeAPI

/// Neutron's security groups at `/network/v2.0`, and servers in them through Nova.
@Suite struct NeutronSecurityGroupsTests {
    static let groups = "/network/v2.0/security-groups"
    static let rules = "/network/v2.0/security-group-rules"

    static func member() -> TestClient {
        var client = TestClient()
        client.token = "member-a"
        return client
    }

    static func makeGroup(_ client: TestClient, _ name: String) throws -> String {
        let made = client.post(groups, #"{"security_group": {"name": "\#(name)", "description": "for \#(name)"}}"#)
        #expect(made.status == 201, "\(made.text)")
        return try #require(made.json("security_group", "id") as? String)
    }

    static func rule(_ client: TestClient, _ group: String, _ fields: String) -> TestResponse {
        client.post(rules, #"{"security_group_rule": {"security_group_id": "\#(group)", \#(fields)}}"#)
    }

    @Test func everyProjectHasItsDefaultGroupAndItsOwnGroups() throws {
        let a = Self.member()
        let listed = try #require(a.get(Self.groups).json("security_groups") as? [[String: Any]])
        #expect(listed.map { $0["name"] as? String } == ["default"])
        let defaultGroup = try #require(listed.first)
        #expect(defaultGroup["project_id"] as? String == "a" && defaultGroup["stateful"] as? Bool == true)
        let defaultRules = try #require(defaultGroup["security_group_rules"] as? [[String: Any]])
        #expect(defaultRules.count == 4, "egress over IPv4 and IPv6, ingress from the group's own members")
        #expect(defaultRules.filter { $0["remote_group_id"] as? String == defaultGroup["id"] as? String }.count == 2)

        let web = try Self.makeGroup(a, "web")
        let shown = a.get("\(Self.groups)/\(web)")
        #expect(shown.json("security_group", "description") as? String == "for web")
        #expect((shown.json("security_group", "security_group_rules") as? [Any])?.count == 2, "egress only")
        #expect(a.get("\(Self.groups)?name=web").text.contains(web))
        #expect((a.get("\(Self.groups)?name=nothing").json("security_groups") as? [Any])?.isEmpty == true)

        var b = a
        b.token = "member-b"
        #expect(b.get("\(Self.groups)/\(web)").status == 404, "another project's group does not exist to b")
        #expect(b.delete("\(Self.groups)/\(web)").status == 404)
        #expect(!b.get(Self.groups).text.contains(web))
        var admin = a
        admin.token = "admin"
        #expect(admin.get(Self.groups).text.contains(web), "an admin lists every project's")
        var reader = a
        reader.token = "reader-a"
        #expect(reader.post(Self.groups, #"{"security_group": {"name": "r"}}"#).status == 403)

        let renamed = a.send(.put, "\(Self.groups)/\(web)", json: #"{"security_group": {"name": "www"}}"#)
        #expect(renamed.json("security_group", "name") as? String == "www")
        #expect(renamed.json("security_group", "revision_number") as? Int == 1)
        let defaultID = try #require(defaultGroup["id"] as? String)
        #expect(a.send(.put, "\(Self.groups)/\(defaultID)", json: #"{"security_group": {"name": "x"}}"#).status == 409)
        #expect(a.post(Self.groups, #"{"security_group": {"name": "default"}}"#).status == 409)
        #expect(a.delete("\(Self.groups)/\(defaultID)").status == 409)
        #expect(a.delete("\(Self.groups)/\(web)").status == 204)
        #expect(a.get("\(Self.groups)/\(web)").status == 404)
    }

    @Test func aProjectHasAtMostTenGroups() throws {
        let a = Self.member()
        for index in 1..<Identity.maxSecurityGroupsPerProject { _ = try Self.makeGroup(a, "g\(index)") }
        let refused = a.post(Self.groups, #"{"security_group": {"name": "one-more"}}"#)
        #expect(refused.status == 409 && refused.text.contains("Quota exceeded"), "\(refused.text)")
        let quota = a.get("/network/v2.0/quotas/a")
        #expect(quota.json("quota", "security_group") as? Int == Identity.maxSecurityGroupsPerProject)
        #expect(quota.json("quota", "security_group_rule") as? Int == Identity.maxRulesPerProject)
    }

    @Test func aProjectHasAtMostAHundredRulesAndListsPageByMarker() throws {
        let a = Self.member()
        let web = try Self.makeGroup(a, "web")  // 2 rules, and the default group's 4
        var port = 0
        while true {
            port += 1
            let added = Self.rule(
                a, web, #""direction": "ingress", "protocol": "tcp", "port_range_min": \#(port), "port_range_max": \#(port)"#)
            guard added.status == 201 else {
                #expect(added.status == 409 && added.text.contains("security_group_rule"), "\(added.text)")
                break
            }
        }
        #expect(port == Identity.maxRulesPerProject - 6 + 1, "the 95th rule of web is refused")
        let first = try #require(a.get("\(Self.rules)?limit=10").json("security_group_rules") as? [[String: Any]])
        let marker = try #require(first.last?["id"] as? String)
        let next = try #require(a.get("\(Self.rules)?limit=10&marker=\(marker)").json("security_group_rules") as? [[String: Any]])
        #expect(
            first.count == 10 && next.count == 10
                && Set(first.map { "\($0["id"]!)" }).isDisjoint(with: next.map { "\($0["id"]!)" }))
        #expect(a.get("\(Self.rules)?marker=nothing").status == 400)
        var admin = a
        admin.token = "admin"
        let defaultID = SecurityGroupRecord.defaultID(project: "a")
        #expect(a.delete("\(Self.groups)/\(defaultID)").status == 409, "a member cannot delete the default group")
        #expect(admin.delete("\(Self.groups)/\(defaultID)").status == 204, "an admin can, when no server is in it")
    }

    @Test func rulesAreKeptInNeutronsFormAndListedByGroup() throws {
        let a = Self.member()
        let web = try Self.makeGroup(a, "web")
        let ssh = Self.rule(
            a, web,
            #""direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.1.2.3/16""#
        )
        #expect(ssh.status == 201, "\(ssh.text)")
        let rule = try #require(ssh.json("security_group_rule") as? [String: Any])
        #expect(rule["ethertype"] as? String == "IPv4" && rule["protocol"] as? String == "tcp")
        #expect(rule["port_range_min"] as? Int == 22 && rule["remote_ip_prefix"] as? String == "10.1.0.0/16")
        #expect(rule["security_group_id"] as? String == web && rule["project_id"] as? String == "a")
        let id = try #require(rule["id"] as? String)

        let again = Self.rule(
            a, web,
            #""direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.1.0.0/16""#
        )
        #expect(again.status == 409 && again.text.contains(id), "the same traffic twice: \(again.text)")
        let v6 = Self.rule(a, web, #""direction": "ingress", "ethertype": "IPv6", "remote_ip_prefix": "2001:DB8:0:0:1::5/64""#)
        #expect(v6.json("security_group_rule", "remote_ip_prefix") as? String == "2001:db8::/64", "\(v6.text)")

        let listed = try #require(
            a.get("\(Self.rules)?security_group_id=\(web)").json("security_group_rules") as? [[String: Any]])
        #expect(listed.count == 4 && listed.contains { $0["id"] as? String == id })
        #expect(
            a.get("\(Self.rules)?security_group_id=\(web)&direction=egress").text.components(separatedBy: "\"egress\"").count == 3
        )
        #expect(a.get("\(Self.rules)/\(id)").json("security_group_rule", "port_range_max") as? Int == 22)
        var b = a
        b.token = "member-b"
        #expect(b.get("\(Self.rules)/\(id)").status == 404)
        #expect(a.get("\(Self.rules)?colour=red").status == 400)
        #expect(a.delete("\(Self.rules)/\(id)").status == 204)
        #expect(a.get("\(Self.rules)/\(id)").status == 404)
        #expect(a.get("\(Self.groups)/\(web)").json("security_group", "revision_number") as? Int == 3)
    }

    @Test(arguments: [
        #""direction": "sideways""#,
        #""direction": "ingress", "ethertype": "IPv5""#,
        #""direction": "ingress", "protocol": "carrier-pigeon""#,
        #""direction": "ingress", "protocol": "256""#,
        #""direction": "ingress", "port_range_min": 22, "port_range_max": 22"#,
        #""direction": "ingress", "protocol": "tcp", "port_range_min": 0, "port_range_max": 22"#,
        #""direction": "ingress", "protocol": "tcp", "port_range_min": 80, "port_range_max": 22"#,
        #""direction": "ingress", "protocol": "tcp", "port_range_min": 22"#,
        #""direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 65536"#,
        #""direction": "ingress", "protocol": "icmp", "port_range_min": 256"#,
        #""direction": "ingress", "protocol": "icmp", "port_range_max": 0"#,
        #""direction": "ingress", "protocol": "gre", "port_range_min": 1, "port_range_max": 2"#,
        #""direction": "ingress", "protocol": "icmpv6""#,
        #""direction": "ingress", "remote_ip_prefix": "fd00::/8""#,
        #""direction": "ingress", "ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8""#,
        #""direction": "ingress", "remote_ip_prefix": "10.0.0.0/33""#,
        #""direction": "ingress", "remote_ip_prefix": "10.0.0/8""#,
        #""direction": "ingress", "ethertype": "IPv6", "remote_ip_prefix": "1::2::3/64""#,
        #""direction": "ingress", "ethertype": "IPv6", "remote_ip_prefix": "+1::/128""#,
        #""direction": "ingress", "ethertype": "IPv6", "remote_ip_prefix": "1:2:3:4:5:6:7:8:9/128""#,
        #""direction": "ingress", "remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "x""#,
        #""direction": "ingress", "colour": "red""#,
        #""protocol": "tcp""#,
    ])
    func rulesNeutronRefusesAre400s(fields: String) throws {
        let a = Self.member()
        let web = try Self.makeGroup(a, "web")
        let refused = Self.rule(a, web, fields)
        #expect(refused.status == 400, "\(fields): \(refused.text)")
        #expect((a.get("\(Self.groups)/\(web)").json("security_group", "security_group_rules") as? [Any])?.count == 2)
    }

    @Test func serversJoinAndLeaveGroupsThroughNova() throws {
        let a = Self.member()
        let web = try Self.makeGroup(a, "web")
        let made = a.nova(
            .post, "/v2.1/servers",
            #"{"server": {"name": "s1", "imageRef": "\#(Image.defaults[0].id)", "flavorRef": "1", "security_groups": [{"name": "web"}, {"name": "default"}]}}"#
        )
        #expect(made.status == 202, "\(made.text)")
        let server = try #require(made.json("server", "id") as? String)
        #expect(made.text.contains(#""security_groups":[{"name":"web"},{"name":"default"}]"#))
        let shown = a.nova(.get, "/v2.1/servers/\(server)")
        #expect((shown.json("server", "security_groups") as? [[String: String]])?.map { $0["name"] } == ["web", "default"])

        let inUse = a.delete("\(Self.groups)/\(web)")
        #expect(inUse.status == 409 && inUse.text.contains("in use"), "\(inUse.text)")

        let action = "/v2.1/servers/\(server)/action"
        #expect(a.nova(.post, action, #"{"removeSecurityGroup": {"name": "web"}}"#).status == 202)
        #expect(a.nova(.post, action, #"{"removeSecurityGroup": {"name": "web"}}"#).status == 404, "not in it any more")
        #expect(a.nova(.post, action, #"{"removeSecurityGroup": {"name": "default"}}"#).status == 202)
        #expect(a.nova(.get, "/v2.1/servers/\(server)").json("server", "security_groups") == nil, "in none: left out")
        #expect(a.nova(.post, action, #"{"addSecurityGroup": {"name": "\#(web)"}}"#).status == 202, "by id too")
        #expect(a.nova(.post, action, #"{"addSecurityGroup": {"name": "web"}}"#).status == 400, "already in it")
        #expect(a.nova(.post, action, #"{"addSecurityGroup": {"name": "nothing"}}"#).status == 404)
        #expect(a.nova(.post, action, #"{"pause": null}"#).status == 400, "an action this service does not offer")
        #expect(a.nova(.post, "/v2.1/servers/\(UUID())/action", #"{"pause": null}"#).status == 404)

        let unknown = a.nova(
            .post, "/v2.1/servers",
            #"{"server": {"name": "s2", "imageRef": "\#(Image.defaults[0].id)", "flavorRef": "1", "security_groups": [{"name": "nothing"}]}}"#
        )
        #expect(unknown.status == 400, "\(unknown.text)")

        #expect(a.nova(.delete, "/v2.1/servers/\(server)").status == 204)
        #expect(a.delete("\(Self.groups)/\(web)").status == 204, "no server is in it now")
    }

    @Test func deletingAGroupTakesTheRulesThatNameItAsRemote() throws {
        let a = Self.member()
        let web = try Self.makeGroup(a, "web")
        let db = try Self.makeGroup(a, "db")
        let fromWeb = Self.rule(
            a, db,
            #""direction": "ingress", "protocol": "tcp", "port_range_min": 5432, "port_range_max": 5432, "remote_group_id": "\#(web)""#
        )
        #expect(fromWeb.status == 201, "\(fromWeb.text)")
        var b = a
        b.token = "member-b"
        #expect(b.post(Self.groups, #"{"security_group": {"name": "x", "project_id": "a"}}"#).status == 403)
        #expect(a.delete("\(Self.groups)/\(web)").status == 204)
        let left = a.get("\(Self.groups)/\(db)").json("security_group", "security_group_rules") as? [[String: Any]] ?? []
        #expect(left.count == 2 && !left.contains { $0["remote_group_id"] as? String == web })
    }
}
