import ComputeCore
import Synchronization

/// A clock tests move by hand.
final class TestClock: Clock {
    private let current = Mutex(Timestamp(microsecondsSinceEpoch: 1_795_000_000_000_000))

    func now() -> Timestamp { current.withLock { $0 } }

    func advance(seconds: Int64) {
        current.withLock { $0.microsecondsSinceEpoch += seconds * 1_000_000 }
    }
}

/// Identifiers that count up, so tests can predict them.
final class SequentialIdentifiers: IdentifierSource {
    private let counter = Mutex(0)

    func uuid() -> String {
        let n = counter.withLock { value -> Int in
            value += 1
            return value
        }
        let hex = String(n, radix: 16)
        return "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex
    }

    func reservationID() -> String { "r-" + String(uuid().suffix(8)) }
}

/// An inventory on memory persistence with the default network and flavors.
struct InventoryFixture {
    let persistence = MemoryPersistence()
    let clock = TestClock()
    let inventory: Inventory
    let caller = Caller(projectID: "p1", userID: "u1")

    init(networks: [NetworkConfig] = [.defaultPrivate]) {
        inventory = Inventory(
            records: LoadedRecords(isNew: true), networks: networks, persistence: persistence, clock: clock,
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
        Inventory(records: persistence.load(), networks: [.defaultPrivate], persistence: persistence, clock: clock)
    }
}
