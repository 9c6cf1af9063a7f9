import ComputeCore
import Foundation
import HTTPTypes
import Testing

@testable import ComputeAPI

/// `/servers/{id}/os-instance-actions`: what a server went through, by whom, under which request.
@Suite struct NovaInstanceActionsTests {
    @Test func everyChangeIsRecordedUnderItsRequestAndShownNewestFirst() throws {
        var client = TestClient()
        client.token = "member-a"
        let made = client.nova(
            .post, "/v2.1/servers",
            #"{"server": {"name": "s", "imageRef": "\#(Image.defaults[0].id)", "flavorRef": "1"}}"#)
        let id = try #require(made.json("server", "id") as? String)
        let createRequest = try #require(made.headers[HTTPField.Name("x-openstack-request-id")!])
        let action = "/v2.1/servers/\(id)/action"
        #expect(client.nova(.post, action, #"{"os-stop": null}"#).status == 202)
        #expect(client.nova(.post, action, #"{"os-start": null}"#).status == 202)
        let reboot = client.nova(.post, action, #"{"reboot": {"type": "HARD"}}"#)
        #expect(client.nova(.post, action, #"{"os-start": null}"#).status == 409, "refused: not recorded")
        #expect(client.nova(.put, "/v2.1/servers/\(id)", #"{"server": {"name": "t"}}"#).status == 200)

        let listed = try #require(
            client.nova(.get, "/v2.1/servers/\(id)/os-instance-actions").json("instanceActions") as? [[String: Any]])
        #expect(listed.map { $0["action"] as? String } == ["reboot", "start", "stop", "create"])
        #expect(
            Set(listed[0].keys) == ["action", "instance_uuid", "message", "project_id", "request_id", "start_time", "user_id"])
        #expect(listed[0]["request_id"] as? String == reboot.headers[HTTPField.Name("x-openstack-request-id")!])
        #expect(listed[3]["request_id"] as? String == createRequest && listed[3]["user_id"] as? String == "alice")

        let shown = client.nova(.get, "/v2.1/servers/\(id)/os-instance-actions/\(createRequest)")
        #expect(shown.json("instanceAction", "action") as? String == "create")
        #expect(shown.json("instanceAction", "events") == nil, "events are an admin's before 2.51")
        let events = client.nova(.get, "/v2.1/servers/\(id)/os-instance-actions/\(createRequest)", version: "2.51")
        let event = try #require((events.json("instanceAction", "events") as? [[String: Any]])?.first)
        #expect(event["result"] as? String == "Success" && event["traceback"] == nil, "a member sees no traceback")
        #expect(event["event"] as? String == "compute__do_build_and_run_instance")

        let missing = client.nova(.get, "/v2.1/servers/\(id)/os-instance-actions/req-nothing")
        #expect(
            missing.status == 404 && missing.fault?.message == "Action for request_id req-nothing on instance \(id) not found")
        #expect(client.nova(.get, "/v2.1/servers/\(UUID())/os-instance-actions").status == 404)
        var b = client
        b.token = "member-b"
        #expect(b.nova(.get, "/v2.1/servers/\(id)/os-instance-actions").status == 404, "another project's server")
    }

    @Test func from258TheListPagesByRequestID() throws {
        var client = TestClient()
        client.token = "member-a"
        let id = client.novaServer("s")
        for _ in 0..<3 {
            #expect(client.nova(.post, "/v2.1/servers/\(id)/action", #"{"reboot": {"type": "SOFT"}}"#).status == 202)
        }
        let all = try #require(
            client.nova(.get, "/v2.1/servers/\(id)/os-instance-actions", version: "2.58").json("instanceActions")
                as? [[String: Any]])
        #expect(all.count == 4 && all.allSatisfy { $0["updated_at"] is String })
        let marker = try #require(all[1]["request_id"] as? String)
        let page = client.nova(.get, "/v2.1/servers/\(id)/os-instance-actions?marker=\(marker)&limit=1", version: "2.58")
        #expect(
            (page.json("instanceActions") as? [[String: Any]])?.map { $0["request_id"] as? String } == [
                all[2]["request_id"] as? String
            ])
        #expect(client.nova(.get, "/v2.1/servers/\(id)/os-instance-actions?marker=req-x", version: "2.58").status == 400)
        let future = client.nova(
            .get, "/v2.1/servers/\(id)/os-instance-actions?changes-since=2999-01-01T00:00:00Z", version: "2.58")
        #expect((future.json("instanceActions") as? [Any])?.isEmpty == true)
    }
}
