import ComputeCore
import ComputeTesting
import Foundation
import Testing

/// The `InventoryStore` contract for servers, run against every store: a store is correct when
/// all of these pass. (These were the in-memory inventory's tests before the stores split.)
@Suite struct ServerLifecycleContract {
    @Test(arguments: StoreKind.all)
    func createAssignsLowestFreeAddressFromDotTwo(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        let a = try f.create("a")
        let b = try f.create("b")
        #expect(a.address?.description == "10.0.0.2")
        #expect(b.address?.description == "10.0.0.3")
        #expect(a.network == "private")
        #expect(a.status == .active)
        #expect(a.version == 1)
        try f.inventory.deleteServer("a", caller: f.caller)
        #expect(try f.create("c").address?.description == "10.0.0.2", "a released address is the lowest free again")
    }

    @Test(arguments: StoreKind.all)
    func createSnapshotsTheFlavor(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        let server = try f.create("a", flavor: "2")
        #expect(server.flavor.name == "m1.small")
        try f.inventory.deleteFlavor("m1.small")
        #expect(try f.inventory.server("a", caller: f.caller).flavor == server.flavor)
    }

    @Test(arguments: StoreKind.all)
    func accessAddressesAndDiskConfigAreStoredAndChanged(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        var draft = try f.draft("a")
        draft.access = ServerAccess(ipv4: IPv4Address("192.0.2.1"), ipv6: "2001:db8::1", diskConfig: .auto)
        let created = try f.inventory.createServers(draft, caller: f.caller)[0]
        #expect(created.access == draft.access)
        #expect(try f.restarted().inventory.server("a", caller: f.caller).access == draft.access)
        _ = try f.inventory.updateServer(.idOrName("a"), caller: f.caller, with: ServerUpdate(accessIPv6: "2001:db8::2"))
        let expected = ServerAccess(ipv4: IPv4Address("192.0.2.1"), ipv6: "2001:db8::2", diskConfig: .auto)
        #expect(try f.restarted().inventory.server("a", caller: f.caller).access == expected, "the rest is kept")
    }

    @Test(arguments: StoreKind.all)
    func tagsAreStoredChangedAndFilterListings(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        var draft = try f.draft("ab")
        draft.tags = ["a", "b"]
        _ = try f.inventory.createServers(draft, caller: f.caller)
        try f.create("none")
        _ = try f.inventory.changeTags(of: .idOrName("none"), caller: f.caller) { tags in tags = ["c", "quote\"d"] }
        let restarted = try f.restarted().inventory
        #expect(try restarted.server("ab", caller: f.caller).tags == ["a", "b"])
        #expect(try restarted.server("none", caller: f.caller).tags == ["c", "quote\"d"])
        func names(_ tags: ServerTags.Filter) throws -> Set<String> {
            var filter = ServerFilter(projectID: f.caller.projectID)
            filter.tags = tags
            return Set(try f.inventory.servers(matching: filter, limit: 10, marker: nil).map(\.name))
        }
        #expect(try names(ServerTags.Filter(all: ["a", "b"])) == ["ab"])
        #expect(try names(ServerTags.Filter(all: ["a", "c"])) == [])
        #expect(try names(ServerTags.Filter(any: ["b", "quote\"d"])) == ["ab", "none"])
        #expect(try names(ServerTags.Filter(notAll: ["a", "b"])) == ["none"])
        #expect(try names(ServerTags.Filter(notAny: ["c"])) == ["ab"])
    }

    @Test(arguments: StoreKind.all)
    func unknownFlavorOrNetworkIsInvalidInput(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        let flavors = try f.inventory.flavors(visibleTo: f.caller).map(\.name)
        let networks = f.inventory.networks.map(\.name)
        #expect(
            throws: ComputeError.invalidInput(
                "Flavor m9.huge could not be found. The flavors there are: \(flavors.prefix(5).joined(separator: ", "))"
                    + (flavors.count > 5 ? " and \(flavors.count - 5) more." : "."))
        ) {
            try f.inventory.createServers(f.draft("a", flavor: "m9.huge"), caller: f.caller)
        }
        #expect(
            throws: ComputeError.invalidInput(
                "Network public could not be found. The networks there are: \(networks.joined(separator: ", ")).")
        ) {
            try f.inventory.createServers(f.draft("a", network: .named("public")), caller: f.caller)
        }
    }

    @Test(arguments: StoreKind.all)
    func namesAreUniquePerProject(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        try f.create("a")
        #expect(throws: ComputeError.conflict("Server name a is already in use.")) { try f.create("a") }
        #expect(try f.create("a", as: Caller(projectID: "p2", userID: "u2")).name == "a")
    }

    @Test(arguments: StoreKind.all)
    func referenceIsIdFirstThenName(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        let a = try f.create("a")
        let b = try f.create(String(a.id.dropLast()))  // a name close to another's id, but not one
        #expect(try f.inventory.server(.idOrName(a.id), caller: f.caller) == a)
        #expect(try f.inventory.server("a", caller: f.caller) == a)
        #expect(try f.inventory.server(.idOrName(b.name), caller: f.caller) == b)
        // A name in the form of an id could never be reached by it: refused, with the reason.
        #expect(
            throws: ComputeError.invalidInput(
                "Invalid input for field 'server.name': must not be in the form of a UUID: servers are found by id or name, and ids are UUIDs."
            )
        ) { try f.create(a.id.uppercased()) }
        #expect(throws: ComputeError.notFound("Server a could not be found.")) {
            try f.inventory.server("a", caller: Caller(projectID: "p2", userID: "u2"))
        }
        #expect(throws: ComputeError.notFound("Instance \(a.id) could not be found.")) {
            try f.inventory.server(.id(a.id), caller: Caller(projectID: "p2", userID: "u2"))
        }
        #expect(try f.inventory.server(.id(a.id), caller: f.admin) == a, "admins reach every project's servers by id")
    }

    @Test(arguments: StoreKind.all)
    func renameChecksConflictsAndKeepsItsOwnName(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        let a = try f.create("a")
        try f.create("b")
        #expect(throws: ComputeError.conflict("Server name b is already in use.")) {
            try f.inventory.updateServer("a", caller: f.caller, with: ServerUpdate(name: "b"))
        }
        f.clock.advance(seconds: 5)
        let same = try f.inventory.updateServer("a", caller: f.caller, with: ServerUpdate(name: "a", metadata: ["k": "v"]))
        #expect(same.metadata == ["k": "v"])
        #expect(same.updated > a.updated)
        #expect(same.version == 2)
        let renamed = try f.inventory.updateServer(.id(a.id), caller: f.caller, with: ServerUpdate(name: "z"))
        #expect(renamed.name == "z" && renamed.version == 3)
        #expect(throws: ComputeError.notFound("Server a could not be found.")) {
            try f.inventory.server("a", caller: f.caller)
        }
        #expect(try f.create("a").name == "a", "the old name is free again")
    }

    @Test(arguments: StoreKind.all)
    func actionsFollowNovasStateTable(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        let a = try f.create("a")
        #expect(try f.inventory.perform(.stop, on: "a", caller: f.caller).status == .shutoff)
        #expect(throws: ComputeError.conflict("Cannot 'stop' instance \(a.id) while it is in vm_state stopped")) {
            try f.inventory.perform(.stop, on: "a", caller: f.caller)
        }
        #expect(try f.inventory.perform(.start, on: "a", caller: f.caller).status == .active)
        #expect(try f.restarted().inventory.server("a", caller: f.caller).status == .active)
    }

    @Test(arguments: StoreKind.all)
    func deleteUnknownIsNotFound(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        #expect(throws: ComputeError.notFound("Server nope could not be found.")) {
            try f.inventory.deleteServer("nope", caller: f.caller)
        }
    }
}

@Suite struct MultiCreateContract {
    @Test(arguments: StoreKind.all)
    func namesAreSuffixedAndShareAReservation(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        let servers = try f.inventory.createServers(f.draft("web", min: 3), caller: f.caller)
        #expect(servers.map(\.name) == ["web-1", "web-2", "web-3"])
        #expect(Set(servers.map(\.reservationID)).count == 1)
        #expect(servers.map(\.launchIndex) == [0, 1, 2])
        #expect(servers.compactMap(\.address?.description) == ["10.0.0.2", "10.0.0.3", "10.0.0.4"])
        #expect(try f.restarted().inventory.counts().servers == 3)
    }

    @Test(arguments: StoreKind.all)
    func aClashCreatesNothing(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        try f.create("web-2")
        #expect(throws: ComputeError.conflict("Server name web-2 is already in use.")) {
            try f.inventory.createServers(f.draft("web", min: 3), caller: f.caller)
        }
        #expect(try f.inventory.counts().servers == 1)
        #expect(try f.inventory.counts().networks[0].used == 1)
        #expect(try f.restarted().inventory.counts().servers == 1)
    }

    @Test(arguments: StoreKind.all)
    func createsAsManyAsAddressesAllowBetweenMinAndMax(kind: StoreKind) throws {
        let f = try StoreFixture(kind, networks: [try NetworkConfig(name: "tiny", cidr: "10.9.0.0/29")])  // 5 addresses
        try f.create("one")
        #expect(try f.inventory.createServers(f.draft("m", min: 2, max: 10), caller: f.caller).count == 4)
        #expect(throws: ComputeError.conflict("Network tiny has not enough free addresses for 1 more servers.")) {
            try f.inventory.createServers(f.draft("x"), caller: f.caller)
        }
    }

    /// How many addresses are free tells of other projects' servers: a member is not told.
    @Test(arguments: StoreKind.all)
    func onlyAdminsLearnHowManyAddressesAreFree(kind: StoreKind) throws {
        let f = try StoreFixture(kind, networks: [try NetworkConfig(name: "tiny", cidr: "10.9.0.0/29")])
        _ = try f.inventory.createServers(f.draft("other", min: 3), caller: Caller(projectID: "p2", userID: "u2"))
        #expect(throws: ComputeError.conflict("Network tiny has not enough free addresses for 3 more servers.")) {
            try f.inventory.createServers(f.draft("m", min: 3), caller: f.caller)
        }
        #expect(throws: ComputeError.conflict("Network tiny has 2 free addresses; 3 needed.")) {
            try f.inventory.createServers(f.draft("m", min: 3), caller: f.admin)
        }
    }

    @Test(arguments: StoreKind.all)
    func tooFewAddressesForMinCreatesNothing(kind: StoreKind) throws {
        let f = try StoreFixture(kind, networks: [try NetworkConfig(name: "tiny", cidr: "10.9.0.0/29")])
        #expect(throws: ComputeError.conflict("Network tiny has not enough free addresses for 6 more servers.")) {
            try f.inventory.createServers(f.draft("m", min: 6), caller: f.caller)
        }
        #expect(try f.inventory.counts().servers == 0)
    }

    @Test(arguments: StoreKind.all)
    func noNetworkMeansNoAddress(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        let server = try f.inventory.createServers(f.draft("a", network: .none), caller: f.caller)[0]
        #expect(server.network == nil && server.address == nil)
    }
}

@Suite struct QuotaContract {
    static let quotas = QuotaLimits(instances: 3, cores: 4, ram: -1)

    @Test(arguments: StoreKind.all)
    func atTheLimitIsAllowedAndOneMoreIsRefusedInNovasWords(kind: StoreKind) throws {
        let f = try StoreFixture(kind, quotaDefaults: Self.quotas)
        _ = try f.inventory.createServers(f.draft("a", min: 2), caller: f.caller)
        try f.create("c")
        #expect(
            throws: ComputeError.forbidden(
                "Quota exceeded for instances: Requested 1, but already used 3 of 3 instances. The operator raises it with `alliance-compute quota set --project p1 --instances 4` (-1: unlimited)."
            )
        ) { try f.create("d") }
        #expect(try f.inventory.quota(projectID: "p1").usage == QuotaUsage(instances: 3, cores: 3, ram: 6144))
        #expect(try f.create("other", as: Caller(projectID: "p2", userID: "u2")).name == "other", "per project")
    }

    @Test(arguments: StoreKind.all)
    func betweenMinAndMaxAsManyAsFit(kind: StoreKind) throws {
        let f = try StoreFixture(kind, quotaDefaults: Self.quotas)
        #expect(try f.inventory.createServers(f.draft("m", min: 1, max: 10), caller: f.caller).count == 3)
        #expect(
            throws: ComputeError.forbidden(
                "Quota exceeded for cores: Requested 6, but already used 0 of 4 cores. The operator raises it with `alliance-compute quota set --project p3 --cores 6` (-1: unlimited)."
            )
        ) {
            try f.inventory.createServers(
                f.draft("big", flavor: "m1.medium", min: 3), caller: Caller(projectID: "p3", userID: "u3"))
        }
    }

    @Test(arguments: StoreKind.all)
    func deletesGiveQuotaBack(kind: StoreKind) throws {
        let f = try StoreFixture(kind, quotaDefaults: Self.quotas)
        _ = try f.inventory.createServers(f.draft("a", min: 3), caller: f.caller)
        try f.inventory.deleteServer("a-1", caller: f.caller)
        #expect(try f.create("b").name == "b")
        #expect(try f.restarted().inventory.quota(projectID: "p1").usage.instances == 3)
    }
}
