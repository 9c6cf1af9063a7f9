import ComputeCore
import ComputeTesting
import Foundation
import InMemoryStore
import Synchronization
import Testing

@testable import JSONFileStore

/// Every way a system call can fail under a change, and what a restart then finds: memory and
/// disk must agree, whatever failed and wherever.
@Suite(.serialized) struct StoreFaultTests {
    enum Operation: String, CaseIterable, Sendable {
        case create, multiCreate, rename, delete
        /// A delete that keeps a tombstone in the record's place (`--keep-deleted-servers`).
        case deleteKeeping
    }

    /// The servers as `(id, name, address)`, sorted: what "agree" compares.
    static func summary(_ servers: [Server]) -> [String] {
        servers.map { "\($0.id) \($0.name) \($0.address?.description ?? "-")\($0.deleted == nil ? "" : " deleted")" }.sorted()
    }

    static let caller = Caller(projectID: "p", userID: "u")

    static func draft(_ name: String, count: Int = 1) throws -> ServerDraft {
        try ServerDraft(name: name, flavorReference: "1", image: "cirros", minCount: count)
    }

    /// `persistent`: from that call on, every call of the kind fails (a disk going bad in the
    /// middle of a commit, so that its undo fails too).
    @Test(
        arguments: Operation.allCases,
        [
            (SystemCall.write, false), (.fsync, false), (.rename, false), (.unlink, false), (.open, false), (.fsync, true),
            (.unlink, true), (.write, true),
        ])
    func memoryAndDiskAgreeAfterAnyFailedCall(operation: Operation, failing: (call: SystemCall, persistent: Bool)) throws {
        let call = failing.call
        // Each occurrence in turn, until the operation makes no more calls of this kind.
        for occurrence in 1...12 {
            let dir = TemporaryDirectory()
            let plan = FaultPlan()
            let memory: [String]
            let outcome: String
            do {
                let (store, records) = try JSONFileStore.open(directory: dir.path, logger: quiet, faults: plan)
                let inventory = Inventory(
                    store: InMemoryStore(
                        records: records, networks: [.defaultPrivate], images: Image.defaults, persistence: store),
                    networks: [.defaultPrivate],
                    settings: .init(keepDeletedServersSeconds: operation == .deleteKeeping ? 3600 : 0))
                try inventory.seedDefaultFlavors()
                _ = try inventory.createServers(Self.draft("a"), caller: Self.caller)
                _ = try inventory.createServers(Self.draft("b"), caller: Self.caller)
                plan.arm(call, occurrence: occurrence, persistent: failing.persistent)
                do {
                    switch operation {
                    case .create: _ = try inventory.createServers(Self.draft("c"), caller: Self.caller)
                    case .multiCreate: _ = try inventory.createServers(Self.draft("m", count: 3), caller: Self.caller)
                    case .rename: _ = try inventory.updateServer("a", caller: Self.caller, with: ServerUpdate(name: "z"))
                    case .delete, .deleteKeeping: try inventory.deleteServer("b", caller: Self.caller)
                    }
                    outcome = "ok"
                } catch ComputeError.unavailable(let message) {
                    #expect(message.hasPrefix("The service cannot save changes right now: its storage reports I/O errors"))
                    outcome = "503"
                }
                plan.disarm()
                var everything = ServerFilter(projectID: nil)
                everything.deleted = .included
                memory = Self.summary(try inventory.servers(matching: everything, limit: 100, marker: nil))
                #expect(plan.badCloses.isEmpty, "descriptors closed twice: \(plan.badCloses)")
            }
            guard plan.fired else { break }  // no call of this kind left to fail
            #expect(plan.openDescriptors.isEmpty, "descriptors left open after the store was released")
            let (_, reloaded) = try JSONFileStore.open(directory: dir.path, logger: quiet)
            #expect(
                Self.summary(reloaded.servers) == memory,
                "\(operation) with \(call) #\(occurrence)\(failing.persistent ? " and later" : "") failing (\(outcome)): a restart found other servers than memory had"
            )
        }
    }

    /// On a full disk a delete still works (it is how room is made): it goes ahead without its
    /// tombstone, memory and disk agreeing.
    @Test func aDeleteOnAFullDiskGoesAheadWithoutItsTombstone() throws {
        let dir = TemporaryDirectory()
        let plan = FaultPlan()
        let (store, records) = try JSONFileStore.open(directory: dir.path, logger: quiet, faults: plan)
        let inventory = Inventory(
            store: InMemoryStore(records: records, networks: [.defaultPrivate], images: Image.defaults, persistence: store),
            networks: [.defaultPrivate], settings: .init(keepDeletedServersSeconds: 3600))
        try inventory.seedDefaultFlavors()
        let doomed = try inventory.createServers(Self.draft("doomed"), caller: Self.caller)[0]
        plan.arm(.write, errno: ENOSPC, persistent: true)
        try inventory.deleteServer("doomed", caller: Self.caller)
        plan.disarm()
        #expect(try inventory.store.server(id: doomed.id) == nil && inventory.store.deletedServer(id: doomed.id) == nil)
        #expect(try JSONFileStore.inspect(directory: dir.path, logger: quiet).records.servers.isEmpty)
    }

    /// Two failures in one multi-create: a step after the records were written, then the
    /// undo's unlinks. Start-up must still find all three servers or none, as memory has them.
    @Test(arguments: [
        FaultPlan.Rule(call: .fsync, path: "/servers"), FaultPlan.Rule(call: .unlink, path: "/intents/"),
        FaultPlan.Rule(call: .fsync, path: "/intents"),
    ])
    func aFailedUndoNeverLeavesRecordsMemoryLacks(first: FaultPlan.Rule) throws {
        let dir = TemporaryDirectory()
        let plan = FaultPlan()
        let memory: [String]
        do {
            let (store, records) = try JSONFileStore.open(directory: dir.path, logger: quiet, faults: plan)
            let inventory = Inventory(
                store: InMemoryStore(records: records, networks: [.defaultPrivate], images: Image.defaults, persistence: store),
                networks: [.defaultPrivate])
            try inventory.seedDefaultFlavors()
            plan.arm([first, FaultPlan.Rule(call: .unlink, path: "/servers/", persistent: true)])
            _ = try? inventory.createServers(Self.draft("m", count: 3), caller: Self.caller)
            #expect(plan.fired)
            plan.disarm()
            memory = Self.summary(try inventory.servers(matching: ServerFilter(projectID: nil), limit: 100, marker: nil))
        }
        let (_, reloaded) = try JSONFileStore.open(directory: dir.path, logger: quiet)
        #expect(Self.summary(reloaded.servers) == memory)
        #expect([0, 3].contains(memory.count), "all of a multi-create or none")
    }

    /// What the client is told for each errno the disk may answer (the classification, tested
    /// through its behaviour).
    @Test(arguments: [
        (ENOSPC, "storage is full"), (EDQUOT, "storage is full"), (EROFS, "storage is read-only"),
        (EACCES, "storage is read-only"), (EIO, "storage reports I/O errors"), (EBADF, "storage reports I/O errors"),
    ])
    func theFailureNamesTheTrouble(errno: Int32, words: String) throws {
        let dir = TemporaryDirectory()
        let plan = FaultPlan()
        let (store, records) = try JSONFileStore.open(directory: dir.path, logger: quiet, faults: plan)
        let inventory = Inventory(
            store: InMemoryStore(records: records, networks: [.defaultPrivate], images: Image.defaults, persistence: store),
            networks: [.defaultPrivate])
        try inventory.seedDefaultFlavors()
        plan.arm(.write, errno: errno, persistent: true)
        #expect(
            throws: ComputeError.unavailable("The service cannot save changes right now: its \(words). Try again later.")
        ) {
            try inventory.createServers(Self.draft("a"), caller: Self.caller)
        }
        #expect(store.health.problem == words)
    }

    @Test func aFailedRenameClosesTheTemporaryFileOnce() throws {
        let dir = TemporaryDirectory()
        let plan = FaultPlan()
        let (store, _) = try JSONFileStore.open(directory: dir.path, logger: quiet, faults: plan)
        plan.arm(.rename)
        #expect(throws: PersistenceFailure(.ioError)) { try store.commit([.put(.server(sampleServer("a")))]) }
        #expect(plan.fired)
        #expect(plan.badCloses.isEmpty, "a descriptor was closed twice: another thread may have owned it by then")
        #expect(dir.contents(of: "servers").isEmpty, "the temporary file is removed")
    }

    /// A replace writes into the spare left by an earlier one and cuts it to length: when that
    /// fails, the record keeps its old version and the half-written spare is gone.
    @Test func aFailedTruncationOfTheSpareLeavesTheRecordAsItWas() throws {
        let dir = TemporaryDirectory()
        let plan = FaultPlan()
        let (store, _) = try JSONFileStore.open(directory: dir.path, logger: quiet, faults: plan)
        var server = sampleServer("a-long-name-that-leaves-a-long-spare")
        try store.commit([.put(.server(server))])
        server.name = "b-long-name-that-leaves-a-long-spare"
        try store.commit([.put(.server(server))])  // the first version is now the spare
        let before = try String(contentsOfFile: dir.file("servers/\(server.id).json"), encoding: .utf8)
        server.name = "c"
        plan.arm(.ftruncate)
        #expect(throws: PersistenceFailure(.ioError)) { try store.commit([.put(.server(server))]) }
        #expect(plan.fired, "the shorter record cut the spare to length")
        #expect(try String(contentsOfFile: dir.file("servers/\(server.id).json"), encoding: .utf8) == before)
        #expect(dir.contents(of: "servers") == ["\(server.id).json"], "the spare is removed")
        #expect(plan.badCloses.isEmpty)
    }

    @Test func healthProbesAtMostOnceASecond() throws {
        let dir = TemporaryDirectory()
        let plan = FaultPlan()
        let (store, _) = try JSONFileStore.open(directory: dir.path, logger: quiet, faults: plan)
        plan.arm(.write, errno: ENOSPC, persistent: true)
        #expect(throws: PersistenceFailure(.storageFull)) { try store.commit([.put(.server(sampleServer("a")))]) }
        let before = plan.calls(.write).count
        for _ in 0..<20 { #expect(store.health.problem == "storage is full") }
        #expect(plan.calls(.write).count - before <= 1, "each health check wrote a probe file")
    }
}
