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
    func aPageWhoseServerChangedBetweenItsTwoStatementsIsNotMixed(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        try f.create("a")
        let decoding = try #require(try f.restarted().inventory.store as? PostgresStore)
        let fresh = try #require(try f.restarted().inventory.store as? PostgresStore)
        let names = { (page: [Server]?) in page?.map(\.name) }
        let pages = try decoding.pool.withConnection { c throws(PostgresError) in
            let listing = "SELECT id, version, updated_us FROM servers"
            let first = try decoding.servers(try c.execute(listing), readingMissingFrom: "servers", c)
            // Listed, then renamed before a host that has not decoded it reads its record.
            let listed = try c.execute(listing)
            _ = try? f.inventory.updateServer("a", caller: f.caller, with: ServerUpdate(name: "a2"))
            let renamed = (
                decoded: try decoding.servers(listed, readingMissingFrom: "servers", c),
                fresh: try fresh.servers(listed, readingMissingFrom: "servers", c)
            )
            _ = try? f.inventory.deleteServer("a2", caller: f.caller)
            let deleted = try fresh.servers(listed, readingMissingFrom: "servers", c)
            return (first: first, renamed: renamed, deleted: deleted)
        }
        #expect(names(pages.first) == ["a"])
        // A host that decoded the listed version serves it: the page is the moment it was listed.
        #expect(names(pages.renamed.decoded) == ["a"])
        // One that reads the record finds another version, and the caller reads the page again.
        #expect(pages.renamed.fresh == nil)
        #expect(pages.deleted == nil)
        #expect(try fresh.servers(matching: ServerFilter(projectID: "p1"), after: nil, limit: 10).servers.isEmpty)
    }

    @Test func textArraysQuoteWhatTheirItemsHold() throws {
        #expect(PostgresStore.textArray([]) == "{}")
        #expect(PostgresStore.textArray(["a", #"b"c"#, #"d\e"#, "f,g", "{}"]) == #"{"a","b\"c","d\\e","f,g","{}"}"#)
    }
}
