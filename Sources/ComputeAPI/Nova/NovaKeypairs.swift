import ComputeCore
import HTTPTypes

/// Nova's key pairs: `/os-keypairs` (list, import or make one) and `/os-keypairs/{name}` (show,
/// delete), each user's own; an admin names another user with `?user_id=` (2.10). A made key's
/// private half is in the create answer only. `type` shows from 2.2, when create answers 201
/// and delete 204 (200 and 202 before); from 2.92 a public key must be given.
extension NovaAPI {
    func registerKeypairs(_ identity: Identity, into router: inout Router<RequestContext>) {
        route(&router, .get, "/os-keypairs", .keypairsRead) { n, _ in
            let query = try n.query()
            try Self.checkParameters(query, known: ["user_id", "limit", "marker"], unsupported: [], n)
            var pairs = try identity.keypairs(user: try Self.keypairOwner(query.value("user_id"), n))
            if let marker = try query.value("marker") {
                guard pairs.contains(where: { $0.name == marker }) else {
                    throw ComputeError.invalidInput("marker [\(marker.prefix(255))] not found")
                }
                pairs = pairs.filter { $0.name > marker }
            }
            if let limit = try query.integer("limit", in: 0...Int.max) { pairs = Array(pairs.prefix(limit)) }
            return APIResponse.list("keypairs", pairs) { pair, w in
                w.beginObject()
                w.key("keypair")
                Self.keypair(pair, n, into: &w) { _ in }
                w.endObject()
            }
        }
        route(&router, .post, "/os-keypairs", .keypairsChange) { n, _ in
            let request = try n.decodeBody(NovaKeypairCreateRequest.self)
            let owner = try Self.keypairOwner(request.userID, n)
            let (pair, privateKey) = try identity.createKeypair(
                user: owner, name: request.name, publicKey: request.publicKey,
                limit: inventory.limits(projectID: n.caller.projectID).limit(.keyPairs))
            let status: HTTPResponse.Status = n.version >= Microversion(2) ? .created : .ok
            return APIResponse.document("keypair", status: status, capacity: 3000) { w in
                Self.keypair(pair, n, into: &w) { w in
                    w.field("user_id", pair.user)
                    if let privateKey { w.field("private_key", privateKey) }
                }
            }
        }
        route(&router, .get, "/os-keypairs/{name}", .keypairsRead) { n, p in
            let owner = try Self.keypairOwner(try n.query().value("user_id"), n)
            let pair = try identity.keypair(user: owner, name: p["name"])
            return APIResponse.document("keypair", capacity: 1200) { w in
                Self.keypair(pair, n, into: &w) { w in
                    w.field("user_id", pair.user)
                    w.field("id", Int(pair.id.prefix(7), radix: 16) ?? 0)
                    w.field("created_at", pair.created)
                    w.field("deleted", false)
                    w.field("deleted_at", nil)
                    w.field("updated_at", nil)
                }
            }
        }
        route(&router, .delete, "/os-keypairs/{name}", .keypairsChange) { n, p in
            let owner = try Self.keypairOwner(try n.query().value("user_id"), n)
            try identity.deleteKeypair(user: owner, name: p["name"])
            return .empty(n.version >= Microversion(2) ? .noContent : .accepted)
        }
    }

    /// Whose key pairs a request means: the caller's, or (2.10, admins only) `user_id`'s.
    static func keypairOwner(_ userID: String?, _ n: NovaContext) throws -> String {
        guard let userID, userID != n.caller.userID else { return n.caller.userID }
        guard n.version >= Microversion(10) else { throw ComputeError.invalidInput("user_id needs microversion 2.10.") }
        guard n.caller.isAdmin else { throw ComputeError.forbidden("Only an admin may name another user's key pairs.") }
        return userID
    }

    /// `{"name", "public_key", "fingerprint", "type" (2.2), …what `more` adds}`.
    static func keypair(
        _ pair: KeypairRecord, _ n: NovaContext, into w: inout JSONWriter, _ more: (inout JSONWriter) -> Void
    ) {
        w.beginObject()
        w.field("name", pair.name)
        w.field("public_key", pair.publicKey)
        w.field("fingerprint", pair.fingerprint)
        if n.version >= Microversion(2) { w.field("type", pair.type) }
        more(&w)
        w.endObject()
    }
}

/// `POST /os-keypairs`: `{"keypair": {"name", "public_key"?, "type"? (2.2), "user_id"? (2.10)}}`.
struct NovaKeypairCreateRequest: Decodable {
    var name: String
    var publicKey: String?
    var userID: String?

    init(from decoder: any Decoder) throws {
        let version = decoder.microversion
        var allowed = ["name", "public_key"]
        if version >= Microversion(2) { allowed.append("type") }
        if version >= Microversion(10) { allowed.append("user_id") }
        let keypair = try StrictObject(decoder, allowed: ["keypair"]).requiredObject("keypair", allowed: allowed)
        name = try keypair.requiredString("name")
        publicKey = try keypair.string("public_key")
        userID = try keypair.string("user_id")
        if let type = try keypair.string("type"), type != "ssh" {
            throw ComputeError.invalidField(
                "keypair.type",
                type == "x509" ? "x509 certificates are not offered here: 'ssh' only." : "must be 'ssh' or 'x509'.")
        }
        if publicKey == nil, version >= Microversion(92) {
            throw ComputeError.invalidField("keypair.public_key", "'public_key' is a required property.")
        }
    }
}
