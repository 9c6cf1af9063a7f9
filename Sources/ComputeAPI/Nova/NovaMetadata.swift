import ComputeCore
import HTTPTypes

/// Nova's server metadata API: `/servers/{id}/metadata` (list, merge with POST, replace with
/// PUT) and `/servers/{id}/metadata/{key}` (show, set, delete one). Each change is one
/// read-modify-write of the server, so it holds on every store and never loses a concurrent one.
extension NovaAPI {
    func registerMetadata(into router: inout Router<RequestContext>) {
        route(&router, .get, "/servers/{id}/metadata", .metadataRead) { n, p in
            Self.metadataDocument("metadata", try inventory.server(.id(p["id"]), caller: n.caller).metadata)
        }
        route(&router, .post, "/servers/{id}/metadata", .metadataChange) { n, p in
            let body = try n.decodeBody(MetadataBody<AllItems>.self)
            let server = try inventory.changeMetadata(of: .id(p["id"]), caller: n.caller) { metadata in
                metadata.merge(body.items) { _, new in new }
            }
            return Self.metadataDocument("metadata", server.metadata)
        }
        route(&router, .put, "/servers/{id}/metadata", .metadataChange) { n, p in
            let body = try n.decodeBody(MetadataBody<AllItems>.self)
            let server = try inventory.changeMetadata(of: .id(p["id"]), caller: n.caller) { metadata in
                metadata = body.items
            }
            return Self.metadataDocument("metadata", server.metadata)
        }
        route(&router, .get, "/servers/{id}/metadata/{key}", .metadataRead) { n, p in
            let server = try inventory.server(.id(p["id"]), caller: n.caller)
            guard let value = server.metadata[p["key"]] else { throw ComputeError.notFound("Metadata item was not found") }
            return Self.metadataDocument("meta", [p["key"]: value])
        }
        route(&router, .put, "/servers/{id}/metadata/{key}", .metadataChange) { n, p in
            let body = try n.decodeBody(MetadataBody<OneItem>.self)
            guard body.items.count == 1, let (key, value) = body.items.first else {
                throw ComputeError.invalidInput("Request body contains too many items: one key and its value.")
            }
            guard key == p["key"] else { throw ComputeError.invalidInput("Request body and URI mismatch") }
            _ = try inventory.changeMetadata(of: .id(p["id"]), caller: n.caller) { metadata in metadata[key] = value }
            return Self.metadataDocument("meta", [key: value])
        }
        route(&router, .delete, "/servers/{id}/metadata/{key}", .metadataChange) { n, p in
            _ = try inventory.changeMetadata(of: .id(p["id"]), caller: n.caller) { metadata throws(ComputeError) in
                guard metadata.removeValue(forKey: p["key"]) != nil else {
                    throw .notFound("Metadata item was not found")
                }
            }
            return .empty(.noContent)
        }
    }

    static func metadataDocument(_ key: StaticString, _ items: [String: String]) -> APIResponse {
        APIResponse.document(key) { w in w.stringDictionary(items) }
    }
}

/// `{"metadata": {"key": "value", …}}` (`MetadataBody<AllItems>`) or `{"meta": {"key":
/// "value"}}` (`MetadataBody<OneItem>`).
struct MetadataBody<Member: MetadataMember>: Decodable {
    var items: [String: String]

    init(from decoder: any Decoder) throws {
        let body = try StrictObject(decoder, allowed: [Member.name])
        guard let items = try body.stringMap(Member.name) else {
            throw ComputeError.invalidField(Member.name, "'\(Member.name)' is a required property.")
        }
        self.items = items
    }
}

protocol MetadataMember { static var name: String { get } }
enum AllItems: MetadataMember { static let name = "metadata" }
enum OneItem: MetadataMember { static let name = "meta" }
