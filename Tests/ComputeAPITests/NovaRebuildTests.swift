import ComputeCore
import Foundation
import HTTPTypes
import Testing

@testable import ComputeAPI

/// `POST /servers/{id}/action {"rebuild": …}`, as Nova answers it.
@Suite struct NovaRebuildTests {
    static let other = Image.defaults[1].id

    @Test func rebuildChangesTheImageAndWhatItIsGiven() throws {
        let client = TestClient()
        let id = client.novaServer("old")
        #expect(client.nova(.post, "/v2.1/servers/\(id)/metadata", #"{"metadata": {"kept": "no"}}"#).status == 200)
        let rebuilt = client.nova(
            .post, "/v2.1/servers/\(id)/action",
            #"{"rebuild": {"imageRef": "\#(Self.other)", "name": "new", "metadata": {"a": "1"}, "#
                + #""accessIPv4": "192.0.2.5", "adminPass": "chosen", "preserve_ephemeral": false}}"#)
        #expect(rebuilt.status == 202)
        #expect(rebuilt.json("server", "adminPass") as? String == "chosen")
        #expect(rebuilt.json("server", "image", "id") as? String == Self.other)
        let shown = client.nova(.get, "/v2.1/servers/\(id)")
        #expect(shown.json("server", "name") as? String == "new")
        #expect(shown.json("server", "image", "id") as? String == Self.other)
        #expect(shown.json("server", "metadata") as? [String: String] == ["a": "1"], "metadata is replaced")
        #expect(shown.json("server", "accessIPv4") as? String == "192.0.2.5")
        #expect(shown.json("server", "status") as? String == "ACTIVE")

        let generated = client.nova(.post, "/v2.1/servers/\(id)/action", #"{"rebuild": {"imageRef": "\#(Self.other)"}}"#)
        #expect((generated.json("server", "adminPass") as? String)?.count == 12, "a password when none is given")
        #expect(client.nova(.get, "/v2.1/servers/\(id)").json("server", "name") as? String == "new", "the rest is kept")
    }

    @Test func aStoppedServerStaysStoppedAndBadRebuildsAreRefused() {
        let client = TestClient()
        let id = client.novaServer("stopped")
        #expect(client.nova(.post, "/v2.1/servers/\(id)/action", #"{"os-stop": null}"#).status == 202)
        let rebuild = #"{"rebuild": {"imageRef": "\#(Self.other)"}}"#
        #expect(client.nova(.post, "/v2.1/servers/\(id)/action", rebuild).json("server", "status") as? String == "SHUTOFF")
        client.novaServer("taken")
        for (body, status) in [
            (#"{"rebuild": {"imageRef": "no-such-image"}}"#, 400), (#"{"rebuild": {}}"#, 400),
            (#"{"rebuild": {"imageRef": "\#(Self.other)", "personality": []}}"#, 400),
            (#"{"rebuild": {"imageRef": "\#(Self.other)", "user_data": "eA=="}}"#, 400),
            (#"{"rebuild": {"imageRef": "\#(Self.other)", "name": "taken"}}"#, 409),
            (#"{"rebuild": {"imageRef": "\#(Self.other)", "accessIPv6": "nope"}}"#, 400),
        ] {
            #expect(client.nova(.post, "/v2.1/servers/\(id)/action", body).status == status, "\(body)")
        }
        #expect(client.nova(.get, "/v2.1/servers/\(id)").json("server", "name") as? String == "stopped")
    }

    @Test(arguments: [("2.53", false, false), ("2.54", true, false), ("2.57", true, true), ("2.75", true, true)])
    func theAnswerHasTheKeysOfItsMicroversion(version: String, keyName: Bool, userData: Bool) throws {
        let client = TestClient()
        let id = client.novaServer("keys", version: version)
        let rebuilt = client.nova(
            .post, "/v2.1/servers/\(id)/action", #"{"rebuild": {"imageRef": "\#(Self.other)"}}"#, version: version)
        let server = try #require(rebuilt.json("server") as? [String: Any])
        #expect(server.keys.contains("key_name") == keyName)
        #expect(server.keys.contains("user_data") == userData)
        #expect(server.keys.contains("OS-EXT-STS:vm_state") == (version == "2.75"), "the full view from 2.75")
        #expect(server["adminPass"] is String)
    }

    @Test func from254ARebuildChangesOrRemovesTheKeyPair() throws {
        var client = TestClient()
        client.token = "member-a"
        #expect(client.nova(.post, "/v2.1/os-keypairs", #"{"keypair": {"name": "new-key"}}"#).status == 200)
        let id = client.novaServer("keyed")
        let action = "/v2.1/servers/\(id)/action"
        let withKey = #"{"rebuild": {"imageRef": "\#(Self.other)", "key_name": "new-key"}}"#
        #expect(client.nova(.post, action, withKey, version: "2.53").status == 400, "key_name came with 2.54")
        let rebuilt = client.nova(.post, action, withKey, version: "2.54")
        #expect(rebuilt.status == 202 && rebuilt.json("server", "key_name") as? String == "new-key", "\(rebuilt.text)")
        let unknown = #"{"rebuild": {"imageRef": "\#(Self.other)", "key_name": "nothing"}}"#
        #expect(client.nova(.post, action, unknown, version: "2.54").fault?.message == "Invalid key_name provided.")
        #expect(client.nova(.post, action, #"{"rebuild": {"imageRef": "\#(Self.other)"}}"#, version: "2.54").status == 202)
        #expect(client.nova(.get, "/v2.1/servers/\(id)").json("server", "key_name") as? String == "new-key", "kept")
        let removed = #"{"rebuild": {"imageRef": "\#(Self.other)", "key_name": null}}"#
        #expect(client.nova(.post, action, removed, version: "2.54").status == 202)
        #expect(client.nova(.get, "/v2.1/servers/\(id)").json("server", "key_name") is NSNull)
    }
}
