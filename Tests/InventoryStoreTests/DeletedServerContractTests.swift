import ComputeCore
import ComputeTesting
import Testing

/// Deleted servers kept for a while (Nova's `changes-since` lists them as `DELETED`), on every
/// store: the tombstone is stored with the deletion, survives a restart, frees the name, the
/// address and the quota at once, and is forgotten after its time.
@Suite struct DeletedServerContract {
    static let keep = 3600

    func listing(
        _ f: StoreFixture, _ deleted: ServerFilter.DeletedServers, since: Timestamp? = nil, limit: Int = 100,
        marker: String? = nil, inventory: Inventory? = nil
    ) throws -> [Server] {
        var filter = ServerFilter(projectID: f.caller.projectID)
        filter.deleted = deleted
        filter.changedSince = since
        return try (inventory ?? f.inventory).servers(matching: filter, limit: limit, marker: marker)
    }

    @Test(arguments: StoreKind.all)
    func aDeletedServerIsListedSinceItsDeletionAndSurvivesARestart(kind: StoreKind) throws {
        let f = try StoreFixture(kind, keepDeletedServersSeconds: Self.keep)
        let a = try f.create("a")
        try f.create("b")
        f.clock.advance(seconds: 1)
        let since = f.clock.now()
        try f.inventory.deleteServer("a", caller: f.caller)

        let changed = try listing(f, .included, since: since)
        #expect(changed.map(\.name) == ["a"], "b did not change since; a was deleted")
        let tombstone = try #require(changed.first)
        #expect(tombstone.id == a.id)
        #expect(tombstone.deleted == since && tombstone.updated == since)
        #expect(tombstone.version == a.version + 1)
        #expect(tombstone.actions.map(\.action) == ["create", "delete"])
        #expect(try listing(f, .excluded).map(\.name) == ["b"])
        #expect(try listing(f, .only).map(\.name) == ["a"])
        #expect(try listing(f, .included).map(\.name).sorted() == ["a", "b"])

        #expect(try f.inventory.deletedServer(id: a.id, caller: f.caller)?.id == a.id)
        #expect(try f.inventory.deletedServer(id: a.id, caller: Caller(projectID: "p2", userID: "u2")) == nil)
        #expect(try f.inventory.deletedServer(id: a.id, caller: f.admin)?.id == a.id)
        #expect(throws: ComputeError.notFound("Instance \(a.id) could not be found.")) {
            try f.inventory.server(.id(a.id), caller: f.caller)
        }

        let restarted = try f.restarted().inventory
        #expect(try listing(f, .only, inventory: restarted) == [tombstone])
        #expect(try listing(f, .excluded, inventory: restarted).map(\.name) == ["b"])
        let again = try f.create("a")
        #expect(again.address == a.address, "the name and the address are free at once")
        #expect(try f.inventory.store.usage(projectID: f.caller.projectID).instances == 2)
    }

    @Test(arguments: StoreKind.all)
    func aDeletedServerIsForgottenAfterItsTime(kind: StoreKind) throws {
        let f = try StoreFixture(kind, keepDeletedServersSeconds: Self.keep)
        let a = try f.create("a")
        try f.create("b")
        try f.inventory.deleteServer("a", caller: f.caller)
        f.clock.advance(seconds: Int64(Self.keep) + 1)
        #expect(try listing(f, .only).isEmpty, "past its time it is not listed, purged or not")
        #expect(try f.inventory.deletedServer(id: a.id, caller: f.caller) == nil)
        #expect(try f.inventory.store.deletedServer(id: a.id) != nil, "not forgotten yet")
        try f.inventory.deleteServer("b", caller: f.caller)
        #expect(f.inventory.forgetExpiredDeletedServers() == 1)
        #expect(try f.inventory.store.deletedServer(id: a.id) == nil)
        #expect(try listing(f, .only, inventory: f.restarted().inventory).map(\.name) == ["b"])
    }

    @Test(arguments: StoreKind.all)
    func manyExpiredOnesAreForgottenBatchAfterBatch(kind: StoreKind) throws {
        let f = try StoreFixture(kind, keepDeletedServersSeconds: Self.keep)
        var servers: [Server] = []
        for batch in 0..<3 {
            servers += try f.inventory.createServers(
                try f.draft("m\(batch)", min: 100, max: 100, network: .none), caller: f.caller)
        }
        let count = servers.count  // more than one batch
        #expect(count > Inventory.purgeBatch)
        for server in servers { try f.inventory.deleteServer(.id(server.id), caller: f.caller) }
        try f.create("live")
        #expect(f.inventory.forgetExpiredDeletedServers() == 0, "none is past its time yet")
        f.clock.advance(seconds: Int64(Self.keep) + 1)
        #expect(f.inventory.forgetExpiredDeletedServers() == count)
        let restarted = try f.restarted().inventory
        #expect(try listing(f, .only, inventory: restarted).isEmpty)
        #expect(try restarted.store.deletedServer(id: servers[0].id) == nil)
        #expect(try listing(f, .excluded, inventory: restarted).map(\.name) == ["live"])
    }

    @Test(arguments: StoreKind.all)
    func aListingByStatusAddressOrTagListsNoDeletedServer(kind: StoreKind) throws {
        let f = try StoreFixture(kind, keepDeletedServersSeconds: Self.keep)
        let gone = try f.create("gone")
        try f.inventory.deleteServer("gone", caller: f.caller)
        try f.create("live")
        var filter = ServerFilter(projectID: f.caller.projectID)
        filter.deleted = .included
        #expect(try f.inventory.servers(matching: filter, limit: 10, marker: nil).count == 2)
        filter.status = .active
        #expect(try f.inventory.servers(matching: filter, limit: 10, marker: nil).map(\.name) == ["live"])
        filter.status = nil
        filter.addressPattern = try NamePattern(try #require(gone.address).description, filter: "ip", anchored: true)
        #expect(
            try f.inventory.servers(matching: filter, limit: 10, marker: nil).map(\.name) == ["live"],
            "its address is the new one's")
    }

    @Test(arguments: StoreKind.all)
    func nothingIsKeptWhenTheTimeIsZero(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        let a = try f.create("a")
        try f.inventory.deleteServer("a", caller: f.caller)
        #expect(try f.inventory.store.deletedServer(id: a.id) == nil)
        #expect(try listing(f, .included).isEmpty)
    }

    @Test(arguments: StoreKind.all)
    func pagesRunThroughLiveAndDeletedServersInOneOrder(kind: StoreKind) throws {
        let f = try StoreFixture(kind, keepDeletedServersSeconds: Self.keep)
        for name in ["a", "b", "c", "d", "e"] {
            try f.create(name)
            f.clock.advance(seconds: 1)
        }
        try f.inventory.deleteServer("b", caller: f.caller)
        try f.inventory.deleteServer("d", caller: f.caller)
        let whole = try listing(f, .included)
        #expect(whole.map(\.name) == ["e", "d", "c", "b", "a"])
        #expect(whole.map { $0.deleted != nil } == [false, true, false, true, false])
        var paged: [Server] = []
        while true {
            let page = try listing(f, .included, limit: 2, marker: paged.last?.id)
            paged += page
            if page.count < 2 { break }
        }
        #expect(paged == whole, "a deleted server is a marker like any other")
        #expect(throws: ComputeError.invalidInput("Marker \(whole[1].id) could not be found.")) {
            try listing(f, .excluded, marker: whole[1].id)
        }
    }
}
