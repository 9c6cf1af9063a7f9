import ComputeCore
import HTTPTypes

/// Nova's server tags API (microversion 2.26): `/servers/{id}/tags` (list, replace all, delete
/// all) and `/servers/{id}/tags/{tag}` (check, add, delete one). Each change is one
/// read-modify-write of the server, as the metadata API's are.
extension NovaAPI {
    func registerTags(into router: inout Router<RequestContext>) {
        let since = Microversion(26)
        route(&router, .get, "/servers/{id}/tags", .tagsRead, since: since) { n, p in
            Self.tagsDocument(try inventory.server(.id(p["id"]), caller: n.caller).tags)
        }
        route(&router, .put, "/servers/{id}/tags", .tagsChange, since: since) { n, p in
            let tags = try ServerTags.normalized(try n.decodeBody(TagsBody.self).tags)
            let server = try inventory.changeTags(of: .id(p["id"]), caller: n.caller) { current in current = Set(tags) }
            return Self.tagsDocument(server.tags)
        }
        route(&router, .delete, "/servers/{id}/tags", .tagsChange, since: since) { n, p in
            _ = try inventory.changeTags(of: .id(p["id"]), caller: n.caller) { current in current = [] }
            return .empty(.noContent)
        }
        route(&router, .get, "/servers/{id}/tags/{tag}", .tagsRead, since: since) { n, p in
            guard try inventory.server(.id(p["id"]), caller: n.caller).tags.contains(p["tag"]) else {
                throw ComputeError.notFound("Tag \(p["tag"].prefix(64)) not found")
            }
            return .empty(.noContent)
        }
        route(&router, .put, "/servers/{id}/tags/{tag}", .tagsChange, since: since) { n, p in
            let tag = try ServerTags.checked(p["tag"])
            var added = false
            _ = try inventory.changeTags(of: .id(p["id"]), caller: n.caller) { current in
                added = current.insert(tag).inserted
            }
            guard added else { return .empty(.noContent) }
            var response = APIResponse.empty(.created)
            response.headerFields[.location] = n.links.base + n.context.request.path  // as sent: still percent-encoded
            return response
        }
        route(&router, .delete, "/servers/{id}/tags/{tag}", .tagsChange, since: since) { n, p in
            _ = try inventory.changeTags(of: .id(p["id"]), caller: n.caller) { current throws(ComputeError) in
                guard current.remove(p["tag"]) != nil else { throw .notFound("Tag \(p["tag"].prefix(64)) not found") }
            }
            return .empty(.noContent)
        }
    }

    /// A listing's `tags=a,b` (or `tags-any`, `not-tags`, `not-tags-any`), each tag checked.
    static func tagList(_ query: QueryParameters, _ name: String) throws -> [String]? {
        try query.value(name)?.split(separator: ",", omittingEmptySubsequences: false).map {
            try ServerTags.checked(String($0), field: name)
        }
    }

    static func tagsDocument(_ tags: [String]) -> APIResponse {
        APIResponse.document("tags") { w in w.stringArray(tags) }
    }
}

/// `{"tags": ["a", "b"]}`.
struct TagsBody: Decodable {
    var tags: [String]

    init(from decoder: any Decoder) throws {
        let body = try StrictObject(decoder, allowed: ["tags"])
        guard let tags = try body.decode([String].self, "tags") else {
            throw ComputeError.invalidField("tags", "'tags' is a required property.")
        }
        self.tags = tags
    }
}
