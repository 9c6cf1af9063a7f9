import ComputeCore
import Foundation
import Testing

@Suite struct ServerLifecycleTests {
    @Test func createAssignsLowestFreeAddressFromDotTwo() throws {
        let f = InventoryFixture()
        let a = try f.create("a")
        let b = try f.create("b")
        #expect(a.address?.description == "10.0.0.2")
        #expect(b.address?.description == "10.0.0.3")
        #expect(a.network == "private")
        #expect(a.status == .active)
        try f.inventory.deleteServer("a", caller: f.caller)
        #expect(try f.create("c").address?.description == "10.0.0.2", "a released address is the lowest free again")
    }

    @Test func createSnapshotsTheFlavor() throws {
        let f = InventoryFixture()
        let server = try f.create("a", flavor: "2")
        #expect(server.flavor.name == "m1.small")
        try f.inventory.deleteFlavor("m1.small")
        #expect(try f.inventory.server("a", caller: f.caller).flavor == server.flavor)
    }

    @Test func unknownFlavorOrNetworkIsInvalidInput() throws {
        let f = InventoryFixture()
        #expect(throws: ComputeError.invalidInput("Flavor m9.huge could not be found.")) {
            try f.inventory.createServers(f.draft("a", flavor: "m9.huge"), caller: f.caller)
        }
        #expect(throws: ComputeError.invalidInput("Network public could not be found.")) {
            try f.inventory.createServers(f.draft("a", network: .named("public")), caller: f.caller)
        }
    }

    @Test func namesAreUniquePerProject() throws {
        let f = InventoryFixture()
        try f.create("a")
        #expect(throws: ComputeError.conflict("Server name a is already in use.")) { try f.create("a") }
        let other = Caller(projectID: "p2", userID: "u2")
        #expect(try f.inventory.createServers(f.draft("a"), caller: other).count == 1)
    }

    @Test func referenceIsIdFirstThenName() throws {
        let f = InventoryFixture()
        let a = try f.create("a")
        let b = try f.create(a.id)  // a server whose name is another's id
        #expect(try f.inventory.server(.id(a.id), caller: f.caller) == a)
        #expect(try f.inventory.server("a", caller: f.caller) == a)
        #expect(try f.inventory.server(.id(b.id), caller: f.caller) == b)
        #expect(throws: ComputeError.notFound("Server a could not be found.")) {
            try f.inventory.server("a", caller: Caller(projectID: "p2", userID: "u2"))
        }
    }

    @Test func renameChecksConflictsAndKeepsItsOwnName() throws {
        let f = InventoryFixture()
        let a = try f.create("a")
        try f.create("b")
        #expect(throws: ComputeError.conflict("Server name b is already in use.")) {
            try f.inventory.updateServer("a", caller: f.caller, with: ServerUpdate(name: "b"))
        }
        f.clock.advance(seconds: 5)
        let same = try f.inventory.updateServer("a", caller: f.caller, with: ServerUpdate(name: "a", metadata: ["k": "v"]))
        #expect(same.metadata == ["k": "v"])
        #expect(same.updated > a.updated)
        let renamed = try f.inventory.updateServer(.id(a.id), caller: f.caller, with: ServerUpdate(name: "z"))
        #expect(renamed.name == "z")
        #expect(throws: ComputeError.self) { try f.inventory.server("a", caller: f.caller) }
        #expect(try f.create("a").name == "a", "the old name is free again")
    }

    @Test func deleteUnknownIsNotFound() {
        let f = InventoryFixture()
        #expect(throws: ComputeError.notFound("Server nope could not be found.")) {
            try f.inventory.deleteServer("nope", caller: f.caller)
        }
    }
}

@Suite struct MultiCreateTests {
    @Test func namesAreSuffixedAndShareAReservation() throws {
        let f = InventoryFixture()
        let servers = try f.inventory.createServers(f.draft("web", min: 3), caller: f.caller)
        #expect(servers.map(\.name) == ["web-1", "web-2", "web-3"])
        #expect(Set(servers.map(\.reservationID)).count == 1)
        #expect(servers.map(\.launchIndex) == [0, 1, 2])
        #expect(servers.compactMap(\.address?.description) == ["10.0.0.2", "10.0.0.3", "10.0.0.4"])
        #expect(f.persistence.commitCount == 2, "the seed, then one atomic commit for all three")
    }

    @Test func aClashCreatesNothing() throws {
        let f = InventoryFixture()
        try f.create("web-2")
        #expect(throws: ComputeError.conflict("Server name web-2 is already in use.")) {
            try f.inventory.createServers(f.draft("web", min: 3), caller: f.caller)
        }
        #expect(f.inventory.counts.servers == 1)
        #expect(f.inventory.counts.networks[0].used == 1)
    }

    @Test func createsAsManyAsAddressesAllowBetweenMinAndMax() throws {
        let f = InventoryFixture(networks: [try NetworkConfig(name: "tiny", cidr: "10.9.0.0/29")])  // .2 … .6: 5 addresses
        try f.create("one")
        #expect(try f.inventory.createServers(f.draft("m", min: 2, max: 10), caller: f.caller).count == 4)
        #expect(throws: ComputeError.conflict("Network tiny has not enough free addresses for 1 more servers.")) {
            try f.inventory.createServers(f.draft("x"), caller: f.caller)
        }
    }

    /// How many addresses are free tells of other projects' servers: a member is not told.
    @Test func onlyAdminsLearnHowManyAddressesAreFree() throws {
        let f = InventoryFixture(networks: [try NetworkConfig(name: "tiny", cidr: "10.9.0.0/29")])
        _ = try f.inventory.createServers(f.draft("other", min: 3), caller: Caller(projectID: "p2", userID: "u2"))
        #expect(throws: ComputeError.conflict("Network tiny has not enough free addresses for 3 more servers.")) {
            try f.inventory.createServers(f.draft("m", min: 3), caller: f.caller)
        }
        #expect(throws: ComputeError.conflict("Network tiny has 2 free addresses; 3 needed.")) {
            try f.inventory.createServers(f.draft("m", min: 3), caller: Caller(projectID: "ops", userID: "root", role: .admin))
        }
    }

    @Test func tooFewAddressesForMinCreatesNothing() throws {
        let f = InventoryFixture(networks: [try NetworkConfig(name: "tiny", cidr: "10.9.0.0/29")])
        #expect(throws: ComputeError.self) { try f.inventory.createServers(f.draft("m", min: 6), caller: f.caller) }
        #expect(f.inventory.counts.servers == 0)
    }

    @Test func noNetworkMeansNoAddress() throws {
        let f = InventoryFixture()
        let server = try f.inventory.createServers(f.draft("a", network: .none), caller: f.caller)[0]
        #expect(server.network == nil && server.address == nil)
    }
}

@Suite struct ListingTests {
    @Test func newestFirstWithLimitAndMarker() throws {
        let f = InventoryFixture()
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
    }

    @Test func sameSecondMultiCreateListsByLaunchIndexDescending() throws {
        let f = InventoryFixture()
        _ = try f.inventory.createServers(f.draft("w", min: 3), caller: f.caller)
        #expect(
            try f.inventory.servers(matching: ServerFilter(projectID: "p1"), limit: 10, marker: nil).map(\.name) == [
                "w-3", "w-2", "w-1",
            ])
    }

    @Test func filters() throws {
        let f = InventoryFixture()
        try f.create("a", flavor: "m1.tiny")
        let b = try f.create("b", flavor: "2")
        let group = try f.inventory.createServers(f.draft("g", min: 2), caller: f.caller)
        func names(_ filter: ServerFilter) throws -> [String] {
            try f.inventory.servers(matching: filter, limit: 100, marker: nil).map(\.name).sorted()
        }
        #expect(try names(ServerFilter(projectID: "p1", name: "b")) == ["b"])
        #expect(try names(ServerFilter(projectID: "p1", name: "nope")) == [])
        #expect(try names(ServerFilter(projectID: "p1", flavor: "1")) == ["a"])
        #expect(try names(ServerFilter(projectID: "p1", flavor: "m1.small")) == ["b", "g-1", "g-2"])
        #expect(try names(ServerFilter(projectID: "p1", reservationID: group[0].reservationID)) == ["g-1", "g-2"])
        #expect(try names(ServerFilter(projectID: "p1", status: .shutoff)) == [])
        #expect(try names(ServerFilter(projectID: "p2")) == [])
        // The name fast path still honours the marker: nothing after b's own position.
        #expect(try f.inventory.servers(matching: ServerFilter(projectID: "p1", name: "b"), limit: 5, marker: b.id).isEmpty)
    }
}

@Suite struct FlavorTests {
    @Test func startsWithTheClassicDefaultsInIdOrder() {
        let f = InventoryFixture()
        #expect(f.inventory.flavors.map(\.name) == ["m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"])
        #expect(f.inventory.flavors.map(\.ram) == [512, 2048, 4096, 8192, 16384])
    }

    @Test func seedingTwiceAddsNothing() throws {
        let f = InventoryFixture()
        let commits = f.persistence.commitCount
        try f.inventory.seedDefaultFlavors()
        #expect(f.persistence.commitCount == commits)
    }

    @Test func createGeneratesAnIdAndRefusesDuplicates() throws {
        let f = InventoryFixture()
        let made = try f.inventory.createFlavor(FlavorDraft(id: nil, name: "c1", vcpus: 1, ram: 64, disk: 0))
        #expect(UUID(uuidString: made.id) != nil)
        #expect(throws: ComputeError.conflict("Flavor with ID 2 already exists.")) {
            try f.inventory.createFlavor(FlavorDraft(id: "2", name: "other", vcpus: 1, ram: 64, disk: 0))
        }
        #expect(throws: ComputeError.conflict("Flavor with name m1.tiny already exists.")) {
            try f.inventory.createFlavor(FlavorDraft(id: "77", name: "m1.tiny", vcpus: 1, ram: 64, disk: 0))
        }
    }

    @Test func deleteByIdOrName() throws {
        let f = InventoryFixture()
        try f.inventory.deleteFlavor("m1.tiny")
        try f.inventory.deleteFlavor("2")
        #expect(f.inventory.flavors.map(\.id) == ["3", "4", "5"])
        #expect(throws: ComputeError.notFound("Flavor 2 could not be found.")) { try f.inventory.deleteFlavor("2") }
    }

    @Test func numericIdsSortNumerically() throws {
        let f = InventoryFixture()
        _ = try f.inventory.createFlavor(FlavorDraft(id: "10", name: "ten", vcpus: 1, ram: 1, disk: 0))
        _ = try f.inventory.createFlavor(FlavorDraft(id: "abc", name: "letters", vcpus: 1, ram: 1, disk: 0))
        #expect(f.inventory.flavors.map(\.id) == ["1", "2", "3", "4", "5", "10", "abc"])
    }
}

@Suite struct PersistenceTests {
    @Test func aRestartRebuildsTheSameIndexes() throws {
        let f = InventoryFixture()
        try f.create("a")
        let b = try f.create("b")
        _ = try f.inventory.createServers(f.draft("g", min: 2), caller: f.caller)
        try f.inventory.deleteServer("a", caller: f.caller)
        let restarted = f.restarted()
        #expect(restarted.loadWarnings.isEmpty)
        #expect(restarted.counts == f.inventory.counts)
        #expect(try restarted.server("b", caller: f.caller) == b)
        let all = ServerFilter(projectID: "p1")
        #expect(
            try restarted.servers(matching: all, limit: 10, marker: nil)
                == f.inventory.servers(matching: all, limit: 10, marker: nil))
        // Derived state, not stored: the freed .2 is free after the restart too.
        #expect(try restarted.createServers(f.draft("c"), caller: f.caller)[0].address?.description == "10.0.0.2")
        #expect(throws: ComputeError.self) { try restarted.createServers(f.draft("b"), caller: f.caller) }
    }

    @Test func aFailedWriteChangesNothing() throws {
        let f = InventoryFixture()
        try f.create("a")
        f.persistence.failNextCommits([PersistenceFailure(.readOnly)])
        #expect(
            throws: ComputeError.unavailable(
                "The service cannot save changes right now: its storage is read-only. Try again later.")
        ) {
            try f.inventory.updateServer("a", caller: f.caller, with: ServerUpdate(name: "b"))
        }
        #expect(try f.inventory.server("a", caller: f.caller).name == "a")
        #expect(f.inventory.storeHealth.writable == false)
        #expect(try f.create("b").address?.description == "10.0.0.3", "writes work again once the store does")
        #expect(f.inventory.storeHealth.writable)
    }

    @Test func aWriteThatReachedTheDiskIsFollowedInMemory() throws {
        let f = InventoryFixture()
        f.persistence.failNextCommits([PersistenceFailure(changeIsOnDisk: true)])
        #expect(throws: ComputeError.self) { try f.create("a") }
        #expect(try f.inventory.server("a", caller: f.caller).name == "a")
        #expect(f.restarted().counts == f.inventory.counts)
    }

    @Test func damagedInvariantsInLoadedRecordsAreReportedNotFatal() throws {
        let f = InventoryFixture()
        let a = try f.create("a")
        var twin = a
        twin.id = "ffffffff-0000-4000-8000-000000000000"
        twin.created.microsecondsSinceEpoch += 1
        let records = LoadedRecords(servers: [a, twin], flavors: [], isNew: false)
        let loaded = Inventory(records: records, networks: [.defaultPrivate], persistence: MemoryPersistence())
        #expect(loaded.loadWarnings.count == 2, "a duplicate name and a duplicate address")
        #expect(try loaded.server("a", caller: f.caller).id == a.id, "the older server keeps the name")
        #expect(try loaded.server(.id(twin.id), caller: f.caller).id == twin.id, "the other stays reachable by id")
    }
}

@Suite struct ConcurrencyTests {
    @Test func racingCreatesOfOneNameHaveOneWinner() async throws {
        let f = InventoryFixture()
        let inventory = f.inventory
        let draft = try f.draft("contested")
        let caller = f.caller
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<32 {
                group.addTask {
                    (try? inventory.createServers(draft, caller: caller)) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 1)
        #expect(inventory.counts.servers == 1)
    }

    @Test func concurrentCreatesNeverShareAnAddress() async throws {
        let f = InventoryFixture()
        let inventory = f.inventory
        let caller = f.caller
        let drafts = try (0..<64).map { try f.draft("s\($0)") }
        await withTaskGroup(of: Void.self) { group in
            for draft in drafts { group.addTask { _ = try? inventory.createServers(draft, caller: caller) } }
        }
        let servers = try inventory.servers(matching: ServerFilter(projectID: "p1"), limit: 1000, marker: nil)
        #expect(servers.count == 64)
        #expect(Set(servers.compactMap(\.address)).count == 64)
    }
}
