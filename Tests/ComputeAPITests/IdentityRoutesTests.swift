import ComputeAPI
import ComputeCore
import ComputeTesting
import Foundation
import HTTPTypes
import Testing

/// The Keystone v3 subset at /identity as clients see it: token bodies and headers in
/// Keystone's shapes, faults in Keystone's shape, throttling, roles, and the Glance and Neutron
/// endpoints the catalog points at.
@Suite struct IdentityRoutesTests {
    static let subject = HTTPField.Name("X-Subject-Token")!

    /// A client whose identity has a project `demo` with member `ada` and reader `rita`.
    static func client(clock: TestClock = TestClock()) throws -> TestClient {
        let client = TestClient(
            identitySettings: .init(lockoutSeconds: 300, passwordIterations: 1_000), clock: clock)
        _ = try client.identity.createProject(name: "demo", id: "demo")
        _ = try client.identity.createUser(name: "ada", password: "pw-ada", defaultProject: "demo", roles: ["demo": .member])
        _ = try client.identity.createUser(name: "rita", password: "pw-rita", defaultProject: "demo", roles: ["demo": .reader])
        return client
    }

    static func passwordBody(_ user: String, _ password: String, project: String? = "demo") -> String {
        let scope = project.map { #", "scope": {"project": {"name": "\#($0)", "domain": {"name": "Default"}}}"# } ?? ""
        return
            #"{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "\#(user)", "domain": {"id": "default"}, "password": "\#(password)"}}}\#(scope)}}"#
    }

    /// Signs in; the token ("" when none was issued) and the response.
    static func signIn(
        _ client: TestClient, _ user: String, _ password: String, project: String = "demo"
    ) -> (String, TestResponse) {
        var anonymous = client
        anonymous.token = nil
        let response = anonymous.post("/identity/v3/auth/tokens", passwordBody(user, password, project: project))
        return (response.headers[subject] ?? "", response)
    }

    /// A client sending the token `user` signs in for.
    static func signedIn(_ client: TestClient, _ user: String, _ password: String, project: String = "demo") throws -> TestClient
    {
        let (token, response) = signIn(client, user, password, project: project)
        try #require(response.status == 201)
        var signed = client
        signed.token = token
        return signed
    }

    @Test func aPasswordSignInAnswers201WithTheTokenAndKeystonesBody() throws {
        let client = try Self.client()
        let (token, response) = Self.signIn(client, "ada", "pw-ada")
        #expect(response.status == 201)
        let token1 = token
        #expect(response.json("token", "methods") as? [String] == ["password"])
        #expect(response.json("token", "user", "name") as? String == "ada")
        #expect(response.json("token", "user", "domain", "id") as? String == "default")
        #expect(response.json("token", "project", "id") as? String == "demo")
        #expect(
            (response.json("token", "roles") as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["member", "reader"])
        let expires = try #require(response.json("token", "expires_at") as? String)
        #expect(expires.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z/) != nil)
        #expect((response.json("token", "audit_ids") as? [String])?.count == 1)
        let catalog = try #require(response.json("token", "catalog") as? [[String: Any]])
        #expect(Set(catalog.compactMap { $0["type"] as? String }) == ["compute", "image", "network", "identity"])
        let compute = try #require(catalog.first { $0["type"] as? String == "compute" }?["endpoints"] as? [[String: Any]])
        #expect(compute.contains { $0["interface"] as? String == "public" && ($0["url"] as? String)?.hasSuffix("/v2.1") == true })

        // The token works on the compute API, as the member it stands for.
        var ada = client
        ada.token = token1
        #expect(ada.get("/v2.1/servers").status == 200)
        #expect(ada.createServer("by-ada").status == 200)
        // It validates (with the catalog unless ?nocatalog), and a revoke ends it.
        var validate = APIRequest(method: .get, target: "/identity/v3/auth/tokens?nocatalog")
        validate.headerFields[HTTPField.Name("X-Auth-Token")!] = token1
        validate.headerFields[Self.subject] = token1
        let shown = TestResponse(client.service.respond(to: validate))
        #expect(
            shown.status == 200 && shown.json("token", "catalog") == nil
                && shown.json("token", "user", "name") as? String == "ada")
        var revoke = validate
        revoke.method = .delete
        #expect(client.service.respond(to: revoke).status.code == 204)
        #expect(ada.get("/v2.1/servers").status == 401)
        #expect(TestResponse(client.service.respond(to: validate)).status == 401)
    }

    @Test func faultsOnIdentityPathsTakeKeystonesShape() throws {
        let client = try Self.client()
        let (token, wrong) = Self.signIn(client, "ada", "not-it")
        #expect(token.isEmpty && wrong.status == 401)
        #expect(wrong.json("error", "code") as? Int == 401 && wrong.json("error", "title") as? String == "Unauthorized")
        #expect(wrong.json("error", "message") as? String == "The request you have made requires authentication.")
        let (_, unknown) = Self.signIn(client, "nobody", "pw")
        #expect(unknown.body == wrong.body)
        var anonymous = client
        anonymous.token = nil
        let malformed = anonymous.post("/identity/v3/auth/tokens", #"{"auth": {"identity": {"methods": ["password"]}}}"#)
        #expect(malformed.status == 400 && malformed.json("error", "title") as? String == "Bad Request")
        #expect(anonymous.get("/identity/v3/users").json("error", "code") as? Int == 401)
        #expect(client.get("/identity/v3/nothing-here").json("error", "code") as? Int == 404)
        // Compute paths keep Nova's shape.
        #expect(anonymous.get("/v2.1/servers").fault?.name == "unauthorized")
    }

    @Test func repeatedFailuresAreSlowedThenLockedOut() throws {
        let clock = TestClock()
        let client = try Self.client(clock: clock)
        for _ in 0..<3 { #expect(Self.signIn(client, "ada", "wrong").1.status == 401) }
        // The fourth attempt within a second is refused without checking, even with the right password.
        let soon = Self.signIn(client, "ada", "pw-ada").1
        #expect(soon.status == 401 && (soon.json("error", "message") as? String)?.hasPrefix("Too many failed attempts") == true)
        clock.advance(seconds: 2)
        #expect(Self.signIn(client, "ada", "pw-ada").1.status == 201)  // a success clears the count
        for _ in 0..<6 {
            clock.advance(seconds: 60)
            _ = Self.signIn(client, "ada", "wrong")
        }
        clock.advance(seconds: 60)
        let locked = Self.signIn(client, "ada", "pw-ada").1
        #expect(locked.status == 401 && (locked.json("error", "message") as? String)?.contains("locked") == true)
        #expect(client.identity.signInStatistics.lockouts == 1 && client.identity.signInStatistics.lockedOut == 1)
        // A name that does not exist is locked out the same way, in the same words.
        for _ in 0..<6 {
            _ = Self.signIn(client, "nobody", "guess")
            clock.advance(seconds: 60)
        }
        let lockedToo = Self.signIn(client, "nobody", "guess").1
        #expect(
            lockedToo.status == 401 && lockedToo.json("error", "message") as? String == locked.json("error", "message") as? String
        )
        // ada's lock (5 minutes) ended while those were made; nobody's holds.
        #expect(client.identity.signInStatistics.lockouts == 2 && client.identity.signInStatistics.lockedOut == 1)
        #expect(Self.signIn(client, "ada", "pw-ada").1.status == 201)
        // Another user was never slowed.
        #expect(Self.signIn(client, "rita", "pw-rita").1.status == 201)
    }

    @Test func aReaderLooksButChangesNothing() throws {
        let client = try Self.client()
        let rita = try Self.signedIn(client, "rita", "pw-rita")
        #expect(rita.get("/v2.1/servers").status == 200)
        #expect(rita.get("/servers").status == 200)
        let refused = rita.createServer("by-rita")
        #expect(
            refused.status == 403 && refused.fault?.message == "Policy doesn't allow alliance:servers:create to be performed.")
        #expect(
            rita.post("/v2.1/servers", #"{"server": {"name": "x", "imageRef": "cirros", "flavorRef": "1"}}"#).status == 403)
    }

    @Test func aTokenOfOneProjectDoesNotReachAnothers() throws {
        let client = try Self.client()
        _ = try client.identity.createProject(name: "other", id: "other")
        _ = try client.identity.createUser(name: "olga", password: "pw-olga", defaultProject: "other", roles: ["other": .member])
        let ada = try Self.signedIn(client, "ada", "pw-ada")
        let id = try #require(ada.createServer("ada-1").json("server", "id") as? String)
        let olga = try Self.signedIn(client, "olga", "pw-olga", project: "other")
        #expect(olga.get("/v2.1/servers/\(id)").status == 404)
        #expect(olga.delete("/servers/\(id)").status == 404)
        // And ada cannot scope a token to a project she holds no role on.
        var anonymous = client
        anonymous.token = nil
        let scoped = anonymous.post("/identity/v3/auth/tokens", Self.passwordBody("ada", "pw-ada", project: "other"))
        #expect(scoped.status == 401)
    }

    @Test func applicationCredentialSecretsAreShownOnce() throws {
        let client = try Self.client()
        let ada = try Self.signedIn(client, "ada", "pw-ada")
        let adaID = try #require(try client.identity.store.all(UserRecord.self).first { $0.name == "ada" }?.id)
        let made = ada.post("/identity/v3/users/\(adaID)/application_credentials", #"{"application_credential": {"name": "ci"}}"#)
        #expect(made.status == 201)
        let secret = try #require(made.json("application_credential", "secret") as? String)
        let id = try #require(made.json("application_credential", "id") as? String)
        let listed = ada.get("/identity/v3/users/\(adaID)/application_credentials")
        #expect(listed.status == 200 && !String(decoding: listed.body, as: UTF8.self).contains(secret))
        // Not even an admin makes one for someone else.
        #expect(
            client.post("/identity/v3/users/\(adaID)/application_credentials", #"{"application_credential": {"name": "x"}}"#)
                .status == 403)
        // Another user's credentials are not theirs to see.
        let rita = try Self.signedIn(client, "rita", "pw-rita")
        #expect(rita.get("/identity/v3/users/\(adaID)/application_credentials").status == 403)
        // Signing in with it.
        var anonymous = client
        anonymous.token = nil
        let body =
            #"{"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"id": "\#(id)", "secret": "\#(secret)"}}}}"#
        let signed = anonymous.post("/identity/v3/auth/tokens", body)
        #expect(signed.status == 201 && signed.json("token", "application_credential", "id") as? String == id)
        let wrong = anonymous.post("/identity/v3/auth/tokens", body.replacingOccurrences(of: secret, with: "x" + secret))
        #expect(wrong.status == 401 && !String(decoding: wrong.body, as: UTF8.self).contains(secret))
        // A token from the credential cannot mint another (nor delete one).
        var program = client
        program.token = signed.headers[Self.subject]
        #expect(program.get("/v2.1/servers").status == 200)
        let minted = program.post(
            "/identity/v3/users/\(adaID)/application_credentials", #"{"application_credential": {"name": "more"}}"#)
        #expect(minted.status == 403)
        #expect(program.delete("/identity/v3/users/\(adaID)/application_credentials/\(id)").status == 403)
        // A user that does not exist has no projects to list.
        #expect(client.get("/identity/v3/users/\(String(repeating: "0", count: 32))/projects").status == 404)
    }

    @Test func theCatalogsServicesAnswerWhereItSays() throws {
        let client = try Self.client()
        #expect(client.get("/identity").status == 300)
        #expect(client.get("/identity/v3").json("version", "id") as? String == "v3.14")
        #expect((client.get("/image/v2/images").json("images") as? [Any])?.isEmpty == false)
        let cirros = "9e6f3a44-2d1b-4f8e-8c5a-7b0d2e4f6a13"
        #expect((client.get("/image/v2/images?id=in:\(cirros)").json("images") as? [Any])?.count == 1)
        #expect(client.get("/image/v2/images/\(cirros)").json("name") as? String == "cirros")
        let networks = client.get("/network/v2.0/networks")
        let subnet = try #require((networks.json("networks", 0, "subnets") as? [String])?.first)
        #expect(client.get("/network/v2.0/subnets/\(subnet)").json("subnet", "cidr") as? String == "10.0.0.0/24")
        let server = try #require(client.createServer("with-port").json("server", "id") as? String)
        let ports = client.get("/network/v2.0/ports?device_id=\(server)")
        #expect(ports.json("ports", 0, "fixed_ips", 0, "ip_address") as? String == "10.0.0.2")
        #expect((client.get("/network/v2.0/ports?device_id=unknown").json("ports") as? [Any])?.isEmpty == true)
    }
}
