import ComputeCore
import HTTPTypes

/// The Keystone v3 subset at `/identity` (so `auth_url: https://HOST/identity/v3` works):
/// version discovery, tokens (issue, validate, revoke), projects, users, roles, domains, role
/// grants and application credentials, over `Identity`. Faults on these paths take Keystone's
/// shape (`ComputeService` decides by path).
struct KeystoneAPI: Sendable {
    let identity: Identity

    func register(into router: inout Router<RequestContext>) {
        router.add(.get, "/identity", .identityVersions) { c, _ in
            var w = JSONWriter()
            w.beginObject()
            w.key("versions")
            w.beginObject()
            w.key("values")
            w.beginArray()
            KeystoneView.version(base: Self.base(c), into: &w)
            w.endArray()
            w.endObject()
            w.endObject()
            return .json(.multipleChoices, w.bytes)
        }
        router.add(.get, "/identity/v3", .identityVersions) { c, _ in
            APIResponse.document("version") { w in KeystoneView.version(base: Self.base(c), into: &w) }
        }
        registerTokens(into: &router)
        registerProjects(into: &router)
        registerUsers(into: &router)
        registerRoles(into: &router)
        registerApplicationCredentials(into: &router)
    }

    static let subjectToken = HTTPField.Name("X-Subject-Token")!

    static func base(_ c: RequestContext) -> String { c.request.baseURL ?? "http://localhost" }

    /// A Keystone collection: `{"<key>": […], "links": {"next": null, "previous": null, "self": null}}`.
    static func list<Item>(_ key: String, _ items: [Item], _ write: (Item, inout JSONWriter) -> Void) -> APIResponse {
        APIResponse.list(key, items, itemBytes: 256, write) { w in
            w.key("links")
            w.beginObject()
            w.field("next", nil)
            w.field("previous", nil)
            w.field("self", nil)
            w.endObject()
        }
    }

    func stored<T>(_ body: () throws(ComputeError) -> T) throws(IdentityError) -> T {
        do { return try body() } catch { throw .store(error) }
    }

    // MARK: Tokens

    private func registerTokens(into router: inout Router<RequestContext>) {
        router.add(.post, "/identity/v3/auth/tokens", .identityAuthenticate) { c, _ in
            let body = try c.decodeBody(AuthRequestBody.self)
            let (methods, scope) = try body.signIn()
            let issued = try identity.signIn(methods, scope: scope)
            let query = try QueryParameters(c.request.query)
            let withCatalog = !query.pairs.contains { $0.name == "nocatalog" }
            var response = APIResponse.document("token", status: .created) { w in
                KeystoneView.token(issued.details, catalog: withCatalog ? Self.base(c) : nil, into: &w)
            }
            response.headerFields[Self.subjectToken] = issued.token
            return response
        }
        router.add(.get, "/identity/v3/auth/tokens", .identityValidate) { c, _ in
            let details = try subject(c)
            let query = try QueryParameters(c.request.query)
            let withCatalog = !query.pairs.contains { $0.name == "nocatalog" }
            var response = APIResponse.document("token") { w in
                KeystoneView.token(details, catalog: withCatalog ? Self.base(c) : nil, into: &w)
            }
            response.headerFields[Self.subjectToken] = c.request.headerFields[Self.subjectToken]
            return response
        }
        router.add(.delete, "/identity/v3/auth/tokens", .identityRevoke) { c, _ in
            _ = try subject(c)
            _ = try stored { () throws(ComputeError) in try identity.revoke(token: c.request.headerFields[Self.subjectToken]!) }
            return .empty(.noContent)
        }
        router.add(.get, "/identity/v3/auth/catalog", .identityCatalog) { c, _ in
            var w = JSONWriter()
            w.beginObject()
            w.key("catalog")
            KeystoneView.catalog(base: Self.base(c), into: &w)
            w.endObject()
            return .json(.ok, w.bytes)
        }
        router.add(.get, "/identity/v3/auth/projects", .identityListOwnProjects) { c, _ in
            try projects(ofUser: c.caller.userID, c)
        }
    }

    /// The token `X-Subject-Token` names, valid now; a caller who is not an admin may only
    /// look at its own user's tokens. An invalid subject is a 404, as in Keystone.
    private func subject(_ c: RequestContext) throws(IdentityError) -> TokenDetails {
        guard let token = c.request.headerFields[Self.subjectToken], !token.isEmpty else {
            throw .badRequest("X-Subject-Token is missing: it names the token to look at.")
        }
        guard let details = try stored({ () throws(ComputeError) in try identity.details(ofToken: token) }) else {
            throw .notFound("Could not find token: the token is unknown, expired or revoked.")
        }
        guard c.caller.isAdmin || details.user.id == c.caller.userID else {
            throw .forbidden("You are not authorized to perform the requested action: identity:validate_token.")
        }
        return details
    }

    /// The projects `userID` holds a role on (records, or the project's id as its name).
    func projects(ofUser userID: String, _ c: RequestContext) throws(IdentityError) -> APIResponse {
        let user = try stored { () throws(ComputeError) in try identity.store.record(UserRecord.self, id: userID) }
        // A static token's user is no record: its one project is the token's.
        guard user != nil || userID == c.caller.userID else { throw .notFound("Could not find user: \(userID).") }
        let ids = user.map { Array($0.roles.keys).sorted() } ?? [c.caller.projectID]
        var projects: [ProjectRecord] = []
        for id in ids {
            projects.append(
                try stored { () throws(ComputeError) in try identity.store.record(ProjectRecord.self, id: id) }
                    ?? ProjectRecord(id: id, name: id, created: .zero))
        }
        return Self.list("projects", projects) { p, w in KeystoneView.project(p, base: Self.base(c), into: &w) }
    }
}
