import ComputeCore
import Foundation
import Synchronization
import Testing

/// Writes made at once, as group commit makes them: each planned against what the others
/// already hold, each durable before it is acknowledged, and memory and storage agreeing after
/// a failure that hits many of them together.
@Suite struct GroupCommitContract {
    /// Runs `body` on `count` threads started together (more than the cores, so commits overlap).
    static func atOnce(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        let start = DispatchSemaphore(value: 0)
        for index in 0..<count {
            group.enter()
            Thread.detachNewThread {
                start.wait()
                body(index)
                group.leave()
            }
        }
        for _ in 0..<count { start.signal() }
        group.wait()
    }

    @Test(arguments: StoreKind.all)
    func concurrentCreatesTakeTheQuotaOnce(kind: StoreKind) throws {
        let f = try StoreFixture(kind, quotaDefaults: QuotaLimits(instances: 5, cores: -1, ram: -1))
        let (inventory, caller) = (f.inventory, f.caller)
        let drafts = try (0..<24).map { try f.draft("q\($0)") }
        let created = Atomic(0)
        let refused = Atomic(0)
        Self.atOnce(24) { index in
            do {
                _ = try inventory.createServers(drafts[index], caller: caller)
                created.add(1, ordering: .relaxed)
            } catch ComputeError.forbidden {
                refused.add(1, ordering: .relaxed)
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        #expect(created.load(ordering: .relaxed) == 5 && refused.load(ordering: .relaxed) == 19)
        #expect(try inventory.quota(projectID: "p1").usage.instances == 5)
        #expect(try f.restarted().inventory.counts() == inventory.counts())
    }

    @Test(arguments: StoreKind.all)
    func concurrentMixedWritesLeaveMemoryAndStorageAgreeing(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        for index in 0..<16 { try f.create("m\(index)") }
        let (inventory, caller) = (f.inventory, f.caller)
        Self.atOnce(16) { index in
            do {
                switch index % 4 {
                case 0: try inventory.deleteServer(.idOrName("m\(index)"), caller: caller)
                case 1:
                    _ = try inventory.updateServer(.idOrName("m\(index)"), caller: caller, with: ServerUpdate(name: "r\(index)"))
                case 2:
                    _ = try inventory.createServers(
                        try ServerDraft(
                            name: "g\(index)", flavorReference: "m1.small", image: "cirros", network: .automatic, minCount: 3,
                            maxCount: 3
                        ), caller: caller)
                default:
                    _ = try inventory.createServers(
                        try ServerDraft(
                            name: "n\(index)", flavorReference: "m1.small", image: "cirros", network: .automatic), caller: caller)
                }
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        let servers = try inventory.servers(matching: ServerFilter(projectID: "p1"), limit: 1000, marker: nil)
        #expect(servers.count == 16 - 4 + 4 * 3 + 4)
        #expect(Set(servers.map(\.name)).count == servers.count && Set(servers.compactMap(\.address)).count == servers.count)
        let restarted = try f.restarted().inventory
        #expect(try restarted.counts() == inventory.counts())
        #expect(try restarted.servers(matching: ServerFilter(projectID: "p1"), limit: 1000, marker: nil) == servers)
    }

    /// The directory sync that many waiting commits share fails: every one of them is told,
    /// and since their records are in place, memory shows what a restart will find.
    @Test(arguments: [StoreKind.memory, .jsonFiles])
    func aSharedSyncThatFailsFailsEveryCommitWaitingForIt(kind: StoreKind) throws {
        let f = try StoreFixture(kind)
        try f.create("before")
        try f.writesFailAfterReachingTheStorage(count: 12)
        let (inventory, caller) = (f.inventory, f.caller)
        let drafts = try (0..<12).map { try f.draft("w\($0)") }
        let failed = Atomic(0)
        Self.atOnce(12) { index in
            do {
                _ = try inventory.createServers(drafts[index], caller: caller)
            } catch ComputeError.unavailable {
                failed.add(1, ordering: .relaxed)
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        #expect(failed.load(ordering: .relaxed) == 12)
        try f.storageWorksAgain()
        #expect(try inventory.counts().servers == 13, "memory follows the records that reached the storage")
        #expect(try f.restarted().inventory.counts() == inventory.counts())
        #expect(try f.create("after").name == "after")
    }
}
