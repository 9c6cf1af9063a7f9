import ComputeCore
import ComputeTesting
import Foundation
import InMemoryStore
import Synchronization
import Testing

@Suite struct RestartContract {
    @Test(arguments: StoreKind.all)
    func aRestartFindsTheSameInventory(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        try f.create("a")
        let b = try f.create("b")
        _ = try f.inventory.createServers(f.draft("g", min: 2), caller: f.caller)
        try f.inventory.deleteServer("a", caller: f.caller)
        let (restarted, warnings) = try f.restarted()
        #expect(warnings.isEmpty)
        #expect(try restarted.counts() == f.inventory.counts())
        #expect(try restarted.server("b", caller: f.caller) == b)
        let all = ServerFilter(projectID: "p1")
        #expect(
            try restarted.servers(matching: all, limit: 10, marker: nil)
                == f.inventory.servers(matching: all, limit: 10, marker: nil))
        // Derived state, not stored: the freed .2 is free after the restart too.
        #expect(try restarted.createServers(f.draft("c"), caller: f.caller)[0].address?.description == "10.0.0.2")
        #expect(throws: ComputeError.serverNameInUse("b")) { try restarted.createServers(f.draft("b"), caller: f.caller) }
    }

    @Test(arguments: StoreKind.all)
    func aFailedWriteChangesNothing(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        try f.create("a")
        try f.storageTurnsReadOnly()
        #expect(throws: ComputeError.cannotSave(f.readOnlyProblem)) {
            try f.inventory.updateServer("a", caller: f.caller, with: ServerUpdate(name: "b"))
        }
        #expect(try f.inventory.server("a", caller: f.caller).name == "a")
        #expect(
            f.inventory.storeHealth == StoreHealth(problem: f.readOnlyProblem, counters: f.inventory.storeHealth.counters))
        try f.storageWorksAgain()
        #expect(try f.create("b").address?.description == "10.0.0.3", "writes work again once the store does")
        #expect(f.inventory.storeHealth.writable)
        #expect(try f.restarted().inventory.server("a", caller: f.caller).name == "a")
    }

    /// A write whose outcome reached the storage although it failed. (PostgreSQL's equivalent,
    /// a COMMIT whose answer is lost, is proven by the crash test, which kills the database.)
    @Test(arguments: [StoreKind.memory, .jsonFiles])
    func aWriteThatReachedTheStorageIsFollowedInMemory(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        f.failNextWriteAfterItReachedTheStorage()
        #expect(throws: ComputeError.cannotSave("storage reports I/O errors")) { try f.create("a") }
        #expect(try f.inventory.server("a", caller: f.caller).name == "a")
        #expect(try f.restarted().inventory.counts() == f.inventory.counts())
    }
}

@Suite struct VersionContract {
    /// Optimistic concurrency, at the store itself: a change over a version that is no longer
    /// the stored one is refused, never applied over the newer one.
    @Test(arguments: StoreKind.all)
    func aChangeOverAStaleVersionIsRefused(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        let read = try f.create("a")
        var first = read
        first.metadata = ["by": "first"]
        first.version = 2
        try f.inventory.store.replace(first, expecting: 1)
        var second = read
        second.metadata = ["by": "second"]
        second.version = 2
        #expect(throws: ComputeError.serverChanged(read.id)) { try f.inventory.store.replace(second, expecting: 1) }
        #expect(throws: ComputeError.serverChanged(read.id)) {
            try f.inventory.store.deleteServer(id: read.id, expecting: 1, keeping: nil)
        }
        #expect(try f.inventory.server("a", caller: f.caller).metadata == ["by": "first"])
        var flavor = try f.inventory.flavor(.id("1"))
        flavor.description = "x"
        flavor.version = 2
        try f.inventory.store.replace(flavor, expecting: 1)
        #expect(throws: ComputeError.flavorChanged("1")) { try f.inventory.store.replace(flavor, expecting: 1) }
        #expect(throws: ComputeError.flavorChanged("1")) { try f.inventory.store.deleteFlavor(id: "1", expecting: 1) }
    }

    /// The rules make a change again over the newer version, so racing clients lose nothing:
    /// 16 threads each add their own metadata key to one server, and every key is there.
    @Test(arguments: StoreKind.all)
    func racingChangesAreAllKept(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        try f.create("shared")
        let inventory = f.inventory
        let caller = f.caller
        DispatchQueue.concurrentPerform(iterations: 16) { index in
            // Read, add a key, write back over the version read: a race on every write.
            for attempt in 0..<20 {
                do {
                    let server = try inventory.server("shared", caller: caller)
                    var new = server
                    new.metadata["k\(index)"] = "v"
                    new.version = server.version + 1
                    try inventory.store.replace(new, expecting: server.version)
                    return
                } catch ComputeError.staleVersion {
                    _ = attempt  // lost the race: read again
                } catch {
                    Issue.record("unexpected \(error)")
                    return
                }
            }
            Issue.record("thread \(index) never won")
        }
        let server = try inventory.server("shared", caller: caller)
        #expect(server.metadata.count == 16 && server.version == 17)
    }
}

@Suite struct ConcurrencyContract {
    @Test(arguments: StoreKind.all)
    func racingCreatesOfOneNameHaveOneWinner(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        let inventory = f.inventory
        let draft = try f.draft("contested")
        let caller = f.caller
        let wins = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 32) { _ in
            if (try? inventory.createServers(draft, caller: caller)) != nil { wins.wrappingAdd(1, ordering: .relaxed) }
        }
        #expect(wins.load(ordering: .relaxed) == 1)
        #expect(try inventory.counts().servers == 1)
    }

    @Test(arguments: StoreKind.all)
    func concurrentCreatesNeverShareAnAddress(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        let inventory = f.inventory
        let caller = f.caller
        let drafts = try (0..<64).map { try f.draft("s\($0)") }
        DispatchQueue.concurrentPerform(iterations: 64) { index in
            _ = try? inventory.createServers(drafts[index], caller: caller)
        }
        let servers = try inventory.servers(matching: ServerFilter(projectID: "p1"), limit: 1000, marker: nil)
        #expect(servers.count == 64)
        #expect(Set(servers.compactMap(\.address)).count == 64)
        #expect(try f.restarted().inventory.counts() == inventory.counts())
    }

    @Test(arguments: StoreKind.all)
    func renamesIntoEachOthersNamesKeepNamesUnique(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        for index in 0..<8 { try f.create("n\(index)") }
        let inventory = f.inventory
        let caller = f.caller
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            for round in 0..<10 {
                _ = try? inventory.updateServer(
                    .idOrName("n\(index)"), caller: caller, with: try ServerUpdate(name: "n\((index + round + 1) % 8)"))
            }
        }
        let names = try inventory.servers(matching: ServerFilter(projectID: "p1"), limit: 100, marker: nil).map(\.name)
        #expect(names.count == 8 && Set(names).count == 8)
    }
}
