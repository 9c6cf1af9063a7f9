import ComputeCore
import Foundation
import HTTPTypes
import Testing

@testable import ComputeAPI

/// `/os-keypairs`, as Nova answers it, with keys checked against fingerprints `ssh-keygen -l -E md5` printed.
@Suite struct NovaKeypairsTests {
    static let ed25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAfKfnionbRzWsWLjtoVTyfE8eX2Kc0BqVGoyXEeH7Dx ada@example"
    static let ecdsa =
        "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAyAVUaXS0EwouX1+oOF0dr5Yj5okV8Bk/J44Fvd+0y3e8kfcmSZ6gCaPaQd8V8kp8GAGJrzmpTyPEpDOIxYrgg= root@vm"

    @Test func importedKeysKeepTheirLineAndGetNovasFingerprint() throws {
        var client = TestClient()
        client.token = "member-a"
        for (name, key, fingerprint) in [
            ("ed", Self.ed25519, "dc:01:7d:19:98:44:71:ac:9c:41:b0:63:94:f9:fd:8d"),
            ("ec", Self.ecdsa, "55:6e:61:0c:e4:6d:6d:f2:5f:d8:f0:70:b0:6d:35:c1"),
        ] {
            let created = client.nova(
                .post, "/v2.1/os-keypairs", #"{"keypair": {"name": "\#(name)", "public_key": "\#(key)"}}"#, version: "2.2")
            #expect(created.status == 201)
            #expect(created.json("keypair", "fingerprint") as? String == fingerprint)
            #expect(created.json("keypair", "public_key") as? String == key)
            #expect(created.json("keypair", "private_key") == nil, "an imported key has no private half here")
            #expect(created.json("keypair", "type") as? String == "ssh")
        }
        let shown = client.nova(.get, "/v2.1/os-keypairs/ed", version: "2.2")
        #expect(shown.json("keypair", "user_id") as? String == "alice")
        #expect(shown.json("keypair", "id") is Int && shown.json("keypair", "deleted") as? Bool == false)
        let listed = client.nova(.get, "/v2.1/os-keypairs").json("keypairs") as? [[String: [String: Any]]] ?? []
        #expect(listed.compactMap { $0["keypair"]?["name"] as? String } == ["ec", "ed"])
        #expect(listed.first?["keypair"]?["type"] == nil, "type came with 2.2")
        client.token = "member-b"
        #expect((client.nova(.get, "/v2.1/os-keypairs").json("keypairs") as? [Any])?.isEmpty == true, "each user's own")
        #expect(client.nova(.get, "/v2.1/os-keypairs/ed").status == 404)
        client.token = "member-a"
        let again = client.nova(.post, "/v2.1/os-keypairs", #"{"keypair": {"name": "ed", "public_key": "\#(Self.ecdsa)"}}"#)
        #expect(again.status == 409 && again.fault?.message == "Key pair 'ed' already exists.")
        #expect(client.nova(.delete, "/v2.1/os-keypairs/ed").status == 202, "202 before 2.2")
        #expect(client.nova(.delete, "/v2.1/os-keypairs/ec", version: "2.2").status == 204)
        #expect(client.nova(.get, "/v2.1/os-keypairs/ed").status == 404)
    }

    @Test func aMadeKeyReturnsItsPrivateHalfOnce() throws {
        var client = TestClient()
        client.token = "member-a"
        let made = client.nova(.post, "/v2.1/os-keypairs", #"{"keypair": {"name": "made"}}"#)
        #expect(made.status == 200, "200 before 2.2")
        let privateKey = try #require(made.json("keypair", "private_key") as? String)
        #expect(privateKey.hasPrefix("-----BEGIN RSA PRIVATE KEY-----\n"))
        let publicKey = try #require(made.json("keypair", "public_key") as? String)
        let parsed = try SSHPublicKey(publicKey)
        #expect(parsed.type == "ssh-rsa" && parsed.fingerprint == made.json("keypair", "fingerprint") as? String)
        let shown = client.nova(.get, "/v2.1/os-keypairs/made")
        #expect(shown.json("keypair", "public_key") as? String == publicKey && shown.json("keypair", "private_key") == nil)
        #expect(client.nova(.post, "/v2.1/os-keypairs", #"{"keypair": {"name": "late"}}"#, version: "2.92").status == 400)
    }

    @Test(arguments: [
        "ssh-rsa AAAA", "not a key", "ssh-dss AAAAB3NzaC1kc3MAAAAA", "ssh-ed25519 !!!",
        // The blob names another type, or is cut short, or carries extra bytes.
        "ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQCM",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAfKfnionbRzWsWLjtoVTyfE8eX2Kc0BqVGoyXEeH7",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAfKfnionbRzWsWLjtoVTyfE8eX2Kc0BqVGoyXEeH7DxAA==",
    ])
    func badPublicKeysAreRefused(key: String) {
        let client = TestClient()
        let refused = client.nova(.post, "/v2.1/os-keypairs", #"{"keypair": {"name": "k", "public_key": "\#(key)"}}"#)
        #expect(refused.status == 400)
        #expect(refused.fault?.message.hasPrefix("Keypair data is invalid") == true, "\(refused.text)")
    }

    @Test func namesTypesOwnersAndTheQuota() {
        var client = TestClient()
        client.token = "member-a"
        for body in [
            #"{"keypair": {"name": "a/b", "public_key": "\#(Self.ed25519)"}}"#,
            #"{"keypair": {"name": "", "public_key": "\#(Self.ed25519)"}}"#,
            #"{"keypair": {"name": "k", "public_key": "\#(Self.ed25519)", "type": "x509"}}"#,
        ] {
            #expect(client.nova(.post, "/v2.1/os-keypairs", body, version: "2.2").status == 400, "\(body)")
        }
        let forOther = #"{"keypair": {"name": "k", "public_key": "\#(Self.ed25519)", "user_id": "bob"}}"#
        #expect(client.nova(.post, "/v2.1/os-keypairs", forOther, version: "2.10").status == 403)
        client.token = "admin"
        #expect(client.nova(.post, "/v2.1/os-keypairs", forOther, version: "2.10").json("keypair", "user_id") as? String == "bob")
        #expect(client.nova(.get, "/v2.1/os-keypairs/k?user_id=bob", version: "2.10").status == 200)
        #expect(client.nova(.get, "/v2.1/os-keypairs/k", version: "2.10").status == 404, "the admin's own have no k")

        client.token = "member-a"
        for number in 0..<Identity.maxKeypairsPerUser {
            let body = #"{"keypair": {"name": "q\#(number)", "public_key": "\#(Self.ed25519)"}}"#
            #expect(client.nova(.post, "/v2.1/os-keypairs", body).status == 200)
        }
        let over = client.nova(.post, "/v2.1/os-keypairs", #"{"keypair": {"name": "over", "public_key": "\#(Self.ed25519)"}}"#)
        #expect(over.status == 403 && over.fault?.message == "Quota exceeded, too many key pairs.")
        let page = client.nova(.get, "/v2.1/os-keypairs?limit=2&marker=q10", version: "2.35").json("keypairs") as? [Any]
        #expect(page?.count == 2)
    }

    @Test func aServerNamesAKeyPairOfItsUser() {
        var client = TestClient()
        client.token = "member-a"
        #expect(
            client.nova(.post, "/v2.1/os-keypairs", #"{"keypair": {"name": "mine", "public_key": "\#(Self.ed25519)"}}"#).status
                == 200)
        func create(_ key: String) -> TestResponse {
            client.nova(
                .post, "/v2.1/servers",
                #"{"server": {"name": "vm-\#(key)", "imageRef": "\#(Image.defaults[0].id)", "flavorRef": "1", "key_name": "\#(key)"}}"#
            )
        }
        let unknown = create("nobody")
        #expect(unknown.status == 400 && unknown.fault?.message == "Invalid key_name provided.")
        let made = create("mine")
        #expect(made.status == 202)
        let id = made.json("server", "id") as? String ?? ""
        #expect(client.nova(.get, "/v2.1/servers/\(id)").json("server", "key_name") as? String == "mine")
    }
}
