import ComputeCore
import Foundation
import HTTPTypes
import Testing

@testable import ComputeAPI

/// `/servers/{id}/tags[/{tag}]` and the listing's tag filters, as Nova answers them (2.26).
@Suite struct NovaTagsTests {
    @Test func replaceAddCheckAndDeleteTags() {
        var client = TestClient()
        client.token = "member-a"
        let id = client.novaServer("tagged")
        let path = "/v2.1/servers/\(id)/tags"
        #expect(client.nova(.get, path, version: "2.25").status == 404, "tags came with 2.26")
        #expect(client.nova(.get, path, version: "2.26").json("tags") as? [String] == [])
        let replaced = client.nova(.put, path, #"{"tags": ["b", "a", "b"]}"#, version: "2.26")
        #expect(replaced.status == 200 && replaced.json("tags") as? [String] == ["a", "b"], "a set, sorted")

        let added = client.nova(.put, path + "/c%20d", version: "2.26")
        #expect(added.status == 201 && added.body.isEmpty)
        #expect(added.headers[.location] == "https://compute.example\(path)/c%20d")
        #expect(client.nova(.put, path + "/c%20d", version: "2.26").status == 204, "already there")
        #expect(client.nova(.get, path + "/c%20d", version: "2.26").status == 204)
        #expect(client.nova(.get, path + "/zz", version: "2.26").status == 404)
        #expect(
            client.nova(.get, "/v2.1/servers/\(id)", version: "2.26").json("server", "tags") as? [String] == ["a", "b", "c d"])

        #expect(client.nova(.delete, path + "/a", version: "2.26").status == 204)
        #expect(client.nova(.delete, path + "/a", version: "2.26").status == 404)
        #expect(client.nova(.get, path, version: "2.26").json("tags") as? [String] == ["b", "c d"])
        #expect(client.nova(.delete, path, version: "2.26").status == 204)
        #expect(client.nova(.get, path, version: "2.26").json("tags") as? [String] == [])
    }

    @Test func badTagsAndTooManyAreRefused() {
        let client = TestClient()
        let id = client.novaServer("tagged")
        let path = "/v2.1/servers/\(id)/tags"
        for body in [#"{"tags": ["a/b"]}"#, #"{"tags": ["a,b"]}"#, #"{"tags": [""]}"#, #"{"tags": "a"}"#, #"{"tag": []}"#] {
            #expect(client.nova(.put, path, body, version: "2.26").status == 400, "\(body)")
        }
        #expect(client.nova(.put, path + "/" + String(repeating: "x", count: 61), version: "2.26").status == 400)
        let fifty = (0..<50).map { "\"t\($0)\"" }.joined(separator: ", ")
        #expect(client.nova(.put, path, #"{"tags": [\#(fifty)]}"#, version: "2.26").status == 200)
        let over = client.nova(.put, path + "/one-more", version: "2.26")
        #expect(over.status == 400 && over.fault?.message == "The number of tags exceeded the per-server limit 50")
        #expect((client.nova(.get, path, version: "2.26").json("tags") as? [String])?.count == 50, "nothing changed")
        #expect(client.nova(.get, "/v2.1/servers/00000000-0000-4000-8000-000000000000/tags", version: "2.26").status == 404)
    }

    @Test func createTakesTagsFrom252AndListingsFilterByThem() throws {
        let client = TestClient()
        func create(_ name: String, _ tags: String, version: String = "2.52") -> TestResponse {
            client.nova(
                .post, "/v2.1/servers",
                #"{"server": {"name": "\#(name)", "imageRef": "\#(Image.defaults[0].id)", "flavorRef": "1", "#
                    + #""networks": "auto", "tags": \#(tags)}}"#, version: version)
        }
        #expect(create("early", #"["a"]"#, version: "2.51").status == 400)
        #expect(create("early", "[]", version: "2.51").status == 202, "openstacksdk sends an empty list")
        #expect(create("bad", #"["a/b"]"#).status == 400)
        for (name, tags) in [("ab", #"["a", "b"]"#), ("a", #"["a"]"#), ("c", #"["c"]"#)] {
            #expect(create(name, tags).status == 202)
        }
        func names(_ query: String) -> Set<String> {
            let servers = client.nova(.get, "/v2.1/servers?\(query)", version: "2.26").json("servers") as? [[String: Any]] ?? []
            return Set(servers.compactMap { $0["name"] as? String })
        }
        #expect(names("tags=a,b") == ["ab"])
        #expect(names("tags-any=b,c") == ["ab", "c"])
        #expect(names("not-tags=a,b") == ["a", "c", "early"])
        #expect(names("not-tags-any=a") == ["c", "early"])
        #expect(names("tags=a&not-tags-any=b") == ["a"])
        #expect(client.nova(.get, "/v2.1/servers?tags=a,,b", version: "2.26").status == 400)
    }
}
