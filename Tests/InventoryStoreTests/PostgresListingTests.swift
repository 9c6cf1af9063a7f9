import ComputeCore
import ComputeTesting
import Testing

@testable import PostgresStore

/// A listing on PostgreSQL reads the page's ids and versions first and the records of only the
/// servers this host has not decoded at those versions (`PostgresStore.page`). These cover what
/// the contract suite cannot see: another host's cache, and a change between the two statements.
/// They run wherever the contract runs against PostgreSQL (always under deploy/test).
@Suite struct PostgresListing {
    static let postgres = StoreKind.all.filter { $0 == .postgres }

    @Test(arguments: postgres)
    func anotherHostsListingShowsEveryChangeMadeSinceItsLast(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        for name in ["a", "b", "c"] {
            try f.create(name)
            f.clock.advance(seconds: 1)
        }
        let other = try f.restarted().inventory
        let all = ServerFilter(projectID: "p1")
        #expect(try other.servers(matching: all, limit: 10, marker: nil).map(\.name) == ["c", "b", "a"])

        let renamed = try f.inventory.updateServer("b", caller: f.caller, with: ServerUpdate(name: "b2"))
        try f.inventory.deleteServer("c", caller: f.caller)
        f.clock.advance(seconds: 1)
        try f.create("d")
        let listed = try other.servers(matching: all, limit: 10, marker: nil)
        #expect(listed.map(\.name) == ["d", "b2", "a"])
        #expect(listed[1] == renamed, "the other host's decoded version of b is not served")
        #expect(try other.servers(matching: ServerFilter(projectID: "p1", name: "b"), limit: 10, marker: nil).isEmpty)
    }

    @Test(arguments: postgres)
    func aPageReadsByIdOnlyWhatItLacksAndIsNeverMixed(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        var made: [Server] = []
        for name in ["a", "b", "c"] {
            made.append(try f.create(name))
            f.clock.advance(seconds: 1)
        }
        let all = ServerFilter(projectID: "p1")
        func host(decoding ids: [String]) throws -> PostgresStore {
            let store = try #require(try f.restarted().inventory.store as? PostgresStore)
            for id in ids { _ = try store.server(id: id) }
            return store
        }
        let everything = try host(decoding: made.map(\.id))
        let allButA = try host(decoding: [made[1].id, made[2].id])
        let allButAAgain = try host(decoding: [made[1].id, made[2].id])
        let onlyC = try host(decoding: [made[2].id])
        let names = { (page: [Server]?) in page?.map(\.name) }
        let pages = try everything.pool.withConnection { c throws(PostgresError) in
            let listed = try c.execute("SELECT id, version, updated_us FROM servers ORDER BY created_us DESC")
            let beforeTheRename = (
                everything: try everything.servers(listed, readingMissingFrom: "servers", c),
                allButA: try allButA.servers(listed, readingMissingFrom: "servers", c),
                onlyC: try onlyC.servers(listed, readingMissingFrom: "servers", c)
            )
            // Listed, then renamed before a host that has not decoded it reads its record.
            _ = try? f.inventory.updateServer("a", caller: f.caller, with: ServerUpdate(name: "a2"))
            let afterTheRename = (
                everything: try everything.servers(listed, readingMissingFrom: "servers", c),
                allButA: try allButAAgain.servers(listed, readingMissingFrom: "servers", c)
            )
            _ = try? f.inventory.deleteServer("a2", caller: f.caller)
            let afterTheDelete = try allButAAgain.servers(listed, readingMissingFrom: "servers", c)
            return (beforeTheRename, afterTheRename, afterTheDelete)
        }
        #expect(names(pages.0.everything) == ["c", "b", "a"])
        #expect(names(pages.0.allButA) == ["c", "b", "a"], "a read by id")
        #expect(pages.0.onlyC == nil, "most of the page is missing: read it whole")
        // A host that decoded the listed versions serves them: the page is the moment it was listed.
        #expect(names(pages.1.everything) == ["c", "b", "a"])
        // One that reads a's record finds another version, and the page is read again whole.
        #expect(pages.1.allButA == nil)
        #expect(pages.2 == nil)
        for store in [everything, allButA, onlyC] {
            #expect(try store.servers(matching: all, after: nil, limit: 10).servers.map(\.name) == ["c", "b"])
        }
    }

    @Test func textArraysQuoteWhatTheirItemsHold() throws {
        #expect(PostgresStore.textArray([]) == "{}")
        #expect(PostgresStore.textArray(["a", #"b"c"#, #"d\e"#, "f,g", "{}"]) == #"{"a","b\"c","d\\e","f,g","{}"}"#)
    }
}
