import ComputeCore
import ComputeTesting
import Foundation
import Testing

@Suite struct ListingContract {
    @Test(arguments: StoreKind.all)
    func newestFirstWithLimitAndMarker(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        for name in ["a", "b", "c", "d"] {
            try f.create(name)
            f.clock.advance(seconds: 1)
        }
        let all = ServerFilter(projectID: "p1")
        let first = try f.inventory.servers(matching: all, limit: 3, marker: nil)
        #expect(first.map(\.name) == ["d", "c", "b"])
        let rest = try f.inventory.servers(matching: all, limit: 3, marker: first.last!.id)
        #expect(rest.map(\.name) == ["a"])
        #expect(throws: ComputeError.invalidInput("Marker nope could not be found.")) {
            try f.inventory.servers(matching: all, limit: 3, marker: "nope")
        }
        let other = try f.create("x", as: Caller(projectID: "p2", userID: "u2"))
        #expect(throws: ComputeError.invalidInput("Marker \(other.id) could not be found.")) {
            try f.inventory.servers(matching: all, limit: 3, marker: other.id)
        }
    }

    @Test(arguments: StoreKind.all)
    func sameSecondMultiCreateListsByLaunchIndexDescending(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        _ = try f.inventory.createServers(f.draft("w", min: 3), caller: f.caller)
        #expect(
            try f.inventory.servers(matching: ServerFilter(projectID: "p1"), limit: 10, marker: nil).map(\.name) == [
                "w-3", "w-2", "w-1",
            ])
    }

    @Test(arguments: StoreKind.all)
    func filters(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        try f.create("a", flavor: "m1.tiny")
        let b = try f.create("b", flavor: "2")
        let group = try f.inventory.createServers(f.draft("g", min: 2), caller: f.caller)
        _ = try f.inventory.perform(.stop, on: "a", caller: f.caller)
        func names(_ filter: ServerFilter) throws -> [String] {
            try f.inventory.servers(matching: filter, limit: 100, marker: nil).map(\.name).sorted()
        }
        #expect(try names(ServerFilter(projectID: "p1", name: "b")) == ["b"])
        #expect(try names(ServerFilter(projectID: "p1", name: "nope")) == [])
        #expect(try names(ServerFilter(projectID: "p1", flavor: "1")) == ["a"])
        #expect(try names(ServerFilter(projectID: "p1", flavor: "m1.small")) == ["b", "g-1", "g-2"])
        #expect(try names(ServerFilter(projectID: "p1", reservationID: group[0].reservationID)) == ["g-1", "g-2"])
        #expect(try names(ServerFilter(projectID: "p1", status: .shutoff)) == ["a"])
        #expect(try names(ServerFilter(projectID: "p2")) == [])
        #expect(try names(ServerFilter(projectID: nil)) == ["a", "b", "g-1", "g-2"])
        // The name fast path still honours the marker: nothing after b's own position.
        #expect(try f.inventory.servers(matching: ServerFilter(projectID: "p1", name: "b"), limit: 5, marker: b.id).isEmpty)
    }

    /// A filter that matches one server of many: the store may stop and resume its walk (to
    /// bound how long it holds a lock), and the listing still finds it.
    @Test(arguments: StoreKind.all)
    func aRareMatchAmongManyIsFound(kind: StoreKind) throws {
        let f = try StoreFixture(kind, networks: [try NetworkConfig(name: "private", cidr: "10.0.0.0/20")])
        let needle = try f.inventory.createServers(
            f.draft("needle", network: .none), caller: f.caller)[0]
        for batch in 0..<12 {
            f.clock.advance(seconds: 1)
            _ = try f.inventory.createServers(f.draft("hay\(batch)", min: 100), caller: f.caller)
        }
        var filter = ServerFilter(projectID: "p1")
        filter.changedBefore = needle.updated
        #expect(try f.inventory.servers(matching: filter, limit: 10, marker: nil).map(\.id) == [needle.id])
        filter = ServerFilter(projectID: "p1")
        filter.namePattern = try NamePattern("^needle$")
        #expect(try f.inventory.servers(matching: filter, limit: 10, marker: nil).map(\.id) == [needle.id])
        let everything = try f.inventory.servers(matching: ServerFilter(projectID: "p1"), limit: 1000, marker: nil)
        let next = try f.inventory.servers(matching: ServerFilter(projectID: "p1"), limit: 1000, marker: everything.last!.id)
        #expect(everything.count == 1000 && next.count == 201)
        #expect(Set(everything.map(\.id)).isDisjoint(with: next.map(\.id)), "keyset pages never repeat a server")
    }
}

@Suite struct FlavorContract {
    @Test(arguments: StoreKind.all)
    func startsWithTheClassicDefaultsInIdOrder(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        #expect(try f.inventory.flavors().map(\.name) == ["m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"])
        #expect(try f.inventory.flavors().map(\.ram) == [512, 2048, 4096, 8192, 16384])
    }

    @Test(arguments: StoreKind.all)
    func seedingTwiceAddsNothing(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        try f.inventory.seedDefaultFlavors()
        #expect(try f.inventory.flavors().count == 5)
        #expect(try f.restarted().inventory.flavors().count == 5)
    }

    @Test(arguments: StoreKind.all)
    func createGeneratesAnIdAndRefusesDuplicates(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        let made = try f.inventory.createFlavor(FlavorDraft(id: nil, name: "c1", vcpus: 1, ram: 64, disk: 0))
        #expect(UUID(uuidString: made.id) != nil)
        #expect(throws: ComputeError.conflict("Flavor with ID 2 already exists.")) {
            try f.inventory.createFlavor(FlavorDraft(id: "2", name: "other", vcpus: 1, ram: 64, disk: 0))
        }
        #expect(throws: ComputeError.conflict("Flavor with name m1.tiny already exists.")) {
            try f.inventory.createFlavor(FlavorDraft(id: "77", name: "m1.tiny", vcpus: 1, ram: 64, disk: 0))
        }
    }

    @Test(arguments: StoreKind.all)
    func deleteByIdOrName(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        try f.inventory.deleteFlavor("m1.tiny")
        try f.inventory.deleteFlavor("2")
        #expect(try f.inventory.flavors().map(\.id) == ["3", "4", "5"])
        #expect(throws: ComputeError.notFound("Flavor 2 could not be found.")) { try f.inventory.deleteFlavor("2") }
        #expect(try f.restarted().inventory.flavors().map(\.id) == ["3", "4", "5"])
    }

    @Test(arguments: StoreKind.all)
    func numericIdsSortNumerically(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        _ = try f.inventory.createFlavor(FlavorDraft(id: "10", name: "ten", vcpus: 1, ram: 1, disk: 0))
        _ = try f.inventory.createFlavor(FlavorDraft(id: "abc", name: "letters", vcpus: 1, ram: 1, disk: 0))
        _ = try f.inventory.createFlavor(FlavorDraft(id: "..", name: "dots", vcpus: 1, ram: 1, disk: 0))
        #expect(try f.inventory.flavors().map(\.id) == ["1", "2", "3", "4", "5", "10", "..", "abc"])
        #expect(try f.restarted().inventory.flavor(.id("..")).name == "dots", "an id that cannot name a file")
    }

    @Test(arguments: StoreKind.all)
    func extraSpecsDescriptionAndAccessChangeDurably(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        let updated = try f.inventory.updateFlavor(.id("2")) { flavor in
            flavor.description = "general purpose"
            flavor.extraSpecs["hw:cpu_policy"] = "shared"
        }
        #expect(updated.description == "general purpose" && updated.extraSpecs == ["hw:cpu_policy": "shared"])
        #expect(updated.version == 2)
        #expect(try f.restarted().inventory.flavor(.id("2")) == updated)
        #expect(throws: ComputeError.invalidInput("A flavor has at most 128 extra specs.")) {
            try f.inventory.updateFlavor(.id("2")) { flavor in
                for index in 0..<128 { flavor.extraSpecs["k\(index)"] = "v" }
            }
        }
        #expect(try f.inventory.flavor(.id("2")) == updated, "a refused update changes nothing")
        _ = try f.inventory.createFlavor(FlavorDraft(id: "p", name: "private", vcpus: 1, ram: 1, disk: 0, isPublic: false))
        _ = try f.inventory.addFlavorAccess(.id("p"), projectID: "p1")
        let restarted = try f.restarted().inventory
        #expect(try restarted.flavor(.id("p"), visibleTo: f.caller).accessProjects == ["p1"])
        #expect(throws: ComputeError.notFound("Flavor p could not be found.")) {
            try restarted.flavor(.id("p"), visibleTo: Caller(projectID: "p2", userID: "u"))
        }
        let draft = try f.draft("x", flavor: "p")
        do throws(ComputeError) {
            _ = try f.inventory.createServers(draft, caller: Caller(projectID: "p2", userID: "u"))
            Issue.record("a project made a server of a flavor it cannot see")
        } catch {
            #expect(error.message.hasPrefix("Flavor p could not be found. The flavors there are: "))
            #expect(!error.message.contains("private"), "nor is it listed")
        }
    }
}
