import ComputeAPI
import ComputeCore
import Foundation
import HTTPTypes
import Testing

/// Nova's flavor access: a non-public flavor is visible to and usable by admins and the projects
/// given access; everyone else gets what they would for a flavor that does not exist.
@Suite struct FlavorAccessTests {
    /// An admin's client with a private flavor `gpu` (id `g1`) that nobody has access to.
    static func clientWithPrivateFlavor() -> TestClient {
        let client = TestClient()
        let created = client.nova(
            .post, "/v2.1/flavors",
            #"{"flavor": {"name": "gpu", "id": "g1", "ram": 1024, "vcpus": 2, "disk": 10, "os-flavor-access:is_public": false}}"#)
        #expect(created.status == 200)
        return client
    }

    static func names(_ response: TestResponse, _ key: String = "flavors") -> [String] {
        (response.json(key) as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
    }

    @Test func membersNeitherSeeNorUseAPrivateFlavor() {
        var client = Self.clientWithPrivateFlavor()
        client.token = "member-a"
        #expect(!Self.names(client.nova(.get, "/v2.1/flavors")).contains("gpu"))
        #expect(!Self.names(client.nova(.get, "/v2.1/flavors/detail?is_public=none")).contains("gpu"))
        #expect(client.nova(.get, "/v2.1/flavors/g1").fault?.message == "Flavor g1 could not be found.")
        #expect(client.nova(.get, "/v2.1/flavors/g1/os-extra_specs").status == 404)
        #expect(!Self.names(client.get("/flavors")).contains("gpu"))
        #expect(client.get("/flavors/gpu").fault?.message == "Flavor gpu could not be found.")
        let v1 = client.createServer("web", flavor: "gpu")
        #expect(v1.status == 400 && v1.fault?.message.hasPrefix("Flavor gpu could not be found. The flavors there are:") == true)
        #expect(v1.fault?.message.contains("gpu,") == false && v1.fault?.message.hasSuffix("gpu.") == false, "nor listed")
        let nova = client.nova(
            .post, "/v2.1/servers", #"{"server": {"name": "n", "imageRef": "\#(Image.defaults[0].id)", "flavorRef": "g1"}}"#)
        #expect(nova.status == 400 && nova.fault?.message.hasPrefix("Flavor g1 could not be found. ") == true)
    }

    @Test func accessGivenAndTakenAway() {
        var client = Self.clientWithPrivateFlavor()
        let added = client.nova(.post, "/v2.1/flavors/g1/action", #"{"addTenantAccess": {"tenant": "a"}}"#)
        #expect(added.status == 200)
        #expect(added.json("flavor_access") as? [[String: String]] == [["flavor_id": "g1", "tenant_id": "a"]])
        let again = client.nova(.post, "/v2.1/flavors/g1/action", #"{"addTenantAccess": {"tenant": "a"}}"#)
        #expect(again.status == 409)
        #expect(again.fault?.message == "Flavor access already exists for flavor g1 and project a combination.")
        #expect(client.nova(.get, "/v2.1/flavors/g1/os-flavor-access").json("flavor_access", 0, "tenant_id") as? String == "a")

        client.token = "member-a"
        #expect(Self.names(client.nova(.get, "/v2.1/flavors")).contains("gpu"))
        #expect(client.get("/flavors/gpu").status == 200)
        #expect(client.createServer("web", flavor: "gpu").status == 200)
        client.token = "member-b"
        #expect(client.nova(.get, "/v2.1/flavors/g1").status == 404, "another project still does not see it")

        client.token = "admin"
        let removed = client.nova(.post, "/v2.1/flavors/g1/action", #"{"removeTenantAccess": {"tenant": "a"}}"#)
        #expect(removed.status == 200 && (removed.json("flavor_access") as? [Any])?.isEmpty == true)
        let missing = client.nova(.post, "/v2.1/flavors/g1/action", #"{"removeTenantAccess": {"tenant": "a"}}"#)
        #expect(missing.status == 404 && missing.fault?.message == "Flavor access not found for g1 / a combination.")
        client.token = "member-a"
        #expect(client.nova(.get, "/v2.1/flavors/g1").status == 404)
        #expect(client.get("/servers/web").json("server", "flavor", "name") as? String == "gpu", "its server keeps its snapshot")
    }

    @Test func publicFlavorsHaveNoAccessList() {
        let client = TestClient()
        let list = client.nova(.get, "/v2.1/flavors/1/os-flavor-access")
        #expect(list.status == 404 && list.fault?.message == "Access list not available for public flavors.")
        let add = client.nova(.post, "/v2.1/flavors/1/action", #"{"addTenantAccess": {"tenant": "a"}}"#)
        #expect(add.status == 409 && add.fault?.message == "Can not add access to a public flavor.")
    }

    @Test func onlyAdminsManageAccess() {
        var client = Self.clientWithPrivateFlavor()
        client.token = "member-a"
        #expect(client.nova(.post, "/v2.1/flavors/g1/action", #"{"addTenantAccess": {"tenant": "a"}}"#).status == 403)
        #expect(client.nova(.get, "/v2.1/flavors/1/os-flavor-access").status == 403)
    }

    @Test(arguments: [
        #"{}"#, #"{"addTenantAccess": {}}"#, #"{"addTenantAccess": {"tenant": ""}}"#,
        #"{"addTenantAccess": {"tenant": "a", "x": 1}}"#,
        #"{"addTenantAccess": {"tenant": "a"}, "removeTenantAccess": {"tenant": "a"}}"#,
        #"{"addTenantAccess": {"tenant": "../x"}}"#,
    ])
    func badActionBodiesAre400(body: String) {
        let client = Self.clientWithPrivateFlavor()
        #expect(client.nova(.post, "/v2.1/flavors/g1/action", body).status == 400)
    }

    @Test func adminsChooseWithIsPublic() {
        let client = Self.clientWithPrivateFlavor()
        #expect(!Self.names(client.nova(.get, "/v2.1/flavors")).contains("gpu"), "the default lists public flavors")
        #expect(Self.names(client.nova(.get, "/v2.1/flavors?is_public=false")) == ["gpu"])
        #expect(Self.names(client.nova(.get, "/v2.1/flavors?is_public=none")).contains("gpu"))
        #expect(client.nova(.get, "/v2.1/flavors/g1").status == 200)
        #expect(Self.names(client.get("/flavors")).contains("gpu"), "the v1 API shows admins every flavor")
    }
}
