import ComputeCore
import ComputeTesting
import Foundation
import InMemoryStore
import JSONFileStore
import Logging
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Every implementation of `InventoryStore` the contract runs against.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// In-memory indexes over records in memory (the test double).
    case memory
    /// In-memory indexes over JSON files in a temporary data directory (the embedded default).
    case jsonFiles

    var testDescription: String { rawValue }
}

let quiet = Logger(label: "contract", factory: { _ in SwiftLogNoOpLogHandler() })

/// An inventory over a fresh store of one kind, with the default flavors, a clock tests move,
/// identifiers that count, and a member of project `p1` as the usual caller.
final class StoreFixture: Sendable {
    let kind: StoreKind
    let networks: [NetworkConfig]
    let clock = TestClock()
    let inventory: Inventory
    let caller = Caller(projectID: "p1", userID: "u1")
    let admin = Caller(projectID: "ops", userID: "root", role: .admin)
    private let memory: MemoryPersistence?
    private let directory: String?
    private let faults: FaultPlan?

    init(_ kind: StoreKind, networks: [NetworkConfig] = [.defaultPrivate], quotas: any QuotaSource = FixedQuotas(.unlimited))
        throws
    {
        self.kind = kind
        self.networks = networks
        let store: any InventoryStore
        switch kind {
        case .memory:
            let memory = MemoryPersistence()
            store = InMemoryStore.inMemory(networks: networks, persistence: memory)
            (self.memory, directory, faults) = (memory, nil, nil)
        case .jsonFiles:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "alliance-contract-\(UUID().uuidString)"
            ).path
            let faults = FaultPlan()
            let (files, records) = try JSONFileStore.open(directory: directory, logger: quiet, faults: faults)
            store = InMemoryStore(records: records, networks: networks, images: Image.defaults, persistence: files)
            (memory, self.directory, self.faults) = (nil, directory, faults)
        }
        inventory = Inventory(
            store: store, networks: networks, quotas: quotas, clock: clock, identifiers: SequentialIdentifiers())
        try inventory.seedDefaultFlavors()
    }

    deinit {
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }

    func draft(
        _ name: String, flavor: String = "m1.small", min: Int = 1, max: Int? = nil,
        network: ServerDraft.NetworkChoice = .automatic
    ) throws -> ServerDraft {
        try ServerDraft(
            name: name, flavorReference: .idOrName(flavor), image: "cirros-0.3.4-x86_64-uec", network: network, minCount: min,
            maxCount: max)
    }

    @discardableResult
    func create(_ name: String, flavor: String = "m1.small", as caller: Caller? = nil) throws -> Server {
        try inventory.createServers(draft(name, flavor: flavor), caller: caller ?? self.caller)[0]
    }

    /// What a restart finds: the records as stored now, loaded by a new store.
    func restarted() throws -> (inventory: Inventory, warnings: [String]) {
        let records: LoadedRecords
        switch kind {
        case .memory: records = memory!.load()
        case .jsonFiles: records = try JSONFileStore.inspect(directory: directory!, logger: quiet).records
        }
        let store = InMemoryStore(
            records: records, networks: networks, images: Image.defaults, persistence: MemoryPersistence())
        return (Inventory(store: store, networks: networks, clock: clock), store.loadWarnings)
    }

    /// Writes fail before anything reaches the storage, as on a read-only one: the next write
    /// (memory), or every write until `storageWorksAgain` (files).
    func storageTurnsReadOnly() {
        switch kind {
        case .memory: memory!.failNextCommits([PersistenceFailure(.readOnly)])
        case .jsonFiles: faults!.arm(.open, errno: EROFS, persistent: true)
        }
    }

    func storageWorksAgain() {
        faults?.disarm()
    }

    /// The next single write fails after its record is in place (the directory's fsync fails):
    /// the change may survive a restart, so memory must show it.
    func failNextWriteAfterItReachedTheStorage() {
        switch kind {
        case .memory: memory!.failNextCommits([PersistenceFailure(changeIsOnDisk: true)])
        case .jsonFiles: faults!.arm(.fsync, occurrence: 2)
        }
    }
}
