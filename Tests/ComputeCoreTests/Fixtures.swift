import ComputeCore
import ComputeTesting
import InMemoryStore

/// An inventory over the in-memory test store with the default network and flavors: for the
/// rules that need no particular store (the contract suite in InventoryStoreTests runs the
/// store-dependent ones against every store).
struct InventoryFixture {
    let persistence = MemoryPersistence()
    let clock = TestClock()
    let inventory: Inventory
    let caller = Caller(projectID: "p1", userID: "u1")

    init(networks: [NetworkConfig] = [.defaultPrivate]) {
        inventory = Inventory(
            store: InMemoryStore.inMemory(networks: networks, persistence: persistence), networks: networks, clock: clock,
            identifiers: SequentialIdentifiers())
        try! inventory.seedDefaultFlavors()
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
    func create(_ name: String, flavor: String = "m1.small") throws -> Server {
        try inventory.createServers(draft(name, flavor: flavor), caller: caller)[0]
    }

    /// A second inventory loaded from what the first persisted: what a restart sees.
    func restarted() -> Inventory {
        Inventory(
            store: InMemoryStore.inMemory(networks: [.defaultPrivate], persistence: persistence), networks: [.defaultPrivate],
            clock: clock)
    }
}
