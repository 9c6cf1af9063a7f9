import ComputeAPI
import ComputeCore
import Foundation
import Testing

@Suite struct FlavorRoutesTests {
    @Test func listHasTheDefaults() throws {
        let response = TestClient().get("/flavors")
        #expect(response.status == 200)
        let flavors = try #require(response.json("flavors") as? [[String: Any]])
        #expect(flavors.map { $0["name"] as? String } == ["m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"])
        #expect(flavors.map { $0["id"] as? String } == ["1", "2", "3", "4", "5"])
        #expect(flavors.map { $0["vcpus"] as? Int } == [1, 1, 2, 4, 8])
        #expect(flavors.map { $0["disk"] as? Int } == [1, 20, 40, 80, 160])
        #expect(Set(flavors[0].keys) == ["id", "name", "vcpus", "ram", "disk", "swap", "ephemeral", "is_public", "description"])
    }

    @Test func getByIdOrName() {
        let client = TestClient()
        #expect(client.get("/flavors/2").json("flavor", "name") as? String == "m1.small")
        #expect(client.get("/flavors/m1.small").json("flavor", "id") as? String == "2")
        #expect(client.get("/flavors/m9").fault?.message == "Flavor m9 could not be found.")
    }

    @Test func createWithAnIdOrAGeneratedOne() throws {
        let client = TestClient()
        let made = client.post(
            "/flavors",
            #"{"flavor": {"name": "c1.big", "vcpus": 16, "ram": 65536, "disk": 200, "id": "c1", "description": "big"}}"#)
        #expect(made.status == 200)
        #expect(
            made.json("flavor") as? NSDictionary == [
                "id": "c1", "name": "c1.big", "vcpus": 16, "ram": 65536, "disk": 200, "swap": 0, "ephemeral": 0,
                "is_public": true, "description": "big",
            ])
        let generated = client.post("/flavors", #"{"flavor": {"name": "c2", "vcpus": 1, "ram": 1, "disk": 0}}"#)
        #expect(UUID(uuidString: try #require(generated.json("flavor", "id") as? String)) != nil)
        #expect(
            client.post("/flavors", #"{"flavor": {"name": "n", "vcpus": 1, "ram": 1, "disk": 0, "id": 42}}"#).json("flavor", "id")
                as? String == "42")
        #expect(client.createServer("on-c1", flavor: "c1").status == 200)
    }

    @Test(arguments: [
        (#"{"flavor": {"name": "x", "vcpus": 1, "ram": 1, "disk": 0, "id": "1"}}"#, 409, "Flavor with ID 1 already exists."),
        (#"{"flavor": {"name": "m1.tiny", "vcpus": 1, "ram": 1, "disk": 0}}"#, 409, "Flavor with name m1.tiny already exists."),
        (
            #"{"flavor": {"name": "x", "vcpus": 0, "ram": 1, "disk": 0}}"#, 400,
            "Invalid input for field 'flavor.vcpus': must be 1 or more."
        ),
        (
            #"{"flavor": {"name": "x", "vcpus": 1, "ram": 0, "disk": 0}}"#, 400,
            "Invalid input for field 'flavor.ram': must be 1 or more."
        ),
        (
            #"{"flavor": {"name": "x", "vcpus": 1, "ram": 1, "disk": -1}}"#, 400,
            "Invalid input for field 'flavor.disk': must be 0 or more."
        ),
        (
            #"{"flavor": {"name": "x", "vcpus": 1, "ram": 1e12, "disk": 0}}"#, 400,
            "Invalid input for field 'flavor.ram': must be 2147483647 or less."
        ),
        (
            #"{"flavor": {"name": "x", "vcpus": 1, "ram": 1, "disk": 0, "id": "a b"}}"#, 400,
            "Invalid input for field 'flavor.id': must be 1–255 characters of letters, digits, '.', '_' or '-'."
        ),
        (
            #"{"flavor": {"name": "x", "vcpus": 1, "ram": 1}}"#, 400,
            "Invalid input for field 'flavor': 'disk' is a required property."
        ),
        (
            #"{"flavor": {"name": "x", "vcpus": 1, "ram": 1, "disk": 0, "rxtx": 1}}"#, 400,
            "Invalid input for field 'flavor': unknown property 'rxtx'. Allowed: name, vcpus, ram, disk, id, swap, ephemeral, is_public, description."
        ),
        (
            #"{"flavor": {"name": " x", "vcpus": 1, "ram": 1, "disk": 0}}"#, 400,
            "Invalid input for field 'flavor.name': must not start or end with whitespace."
        ),
        (
            #"{"flavor": {"name": "x", "vcpus": true, "ram": 1, "disk": 0}}"#, 400,
            "Invalid input for field 'flavor.vcpus': must be an integer."
        ),
        (
            #"{"flavor": {"name": "x", "vcpus": 1, "ram": 1, "disk": 0, "id": -5}}"#, 400,
            "Invalid input for field 'flavor.id': must be a string or a non-negative integer."
        ),
    ])
    func createErrors(body: String, status: Int, message: String) {
        let response = TestClient().post("/flavors", body)
        #expect(response.status == status)
        #expect(response.fault?.message == message)
    }

    @Test func deleteReturns204AndKeepsServersSnapshots() {
        let client = TestClient()
        client.createServer("a", flavor: "m1.tiny")
        let response = client.delete("/flavors/m1.tiny")
        #expect(response.status == 204 && response.body.isEmpty)
        #expect(client.get("/flavors/1").status == 404)
        #expect(client.delete("/flavors/1").status == 404)
        #expect(client.get("/servers/a").json("server", "flavor", "name") as? String == "m1.tiny")
        #expect(client.createServer("b", flavor: "m1.tiny").status == 400)
    }
}
