public import ComputeCore
public import InMemoryStore

/// Records in memory, for tests, the fuzzer and benchmarks of the core: `InMemoryStore` over
/// nothing durable. It can be told to fail commits, to exercise the error paths.
public final class MemoryPersistence: RecordPersistence {
    private struct Contents {
        var records: [RecordReference: Record] = [:]
        var failures: [PersistenceFailure] = []
        var commits = 0
        var lastFailure: PersistenceFailure.Reason?
    }
    private let contents = Locked(Contents())

    public init(_ records: [Record] = []) {
        contents.withLock { c in
            for record in records { c.records[record.reference] = record }
        }
    }

    public func commit(_ changes: [RecordChange]) throws(PersistenceFailure) {
        try contents.withLock { c throws(PersistenceFailure) in
            if !c.failures.isEmpty {
                let failure = c.failures.removeFirst()
                if failure.changeIsOnDisk { Self.apply(changes, to: &c) }
                c.lastFailure = failure.reason
                throw failure
            }
            Self.apply(changes, to: &c)
            c.commits += 1
            c.lastFailure = nil
        }
    }

    private static func apply(_ changes: [RecordChange], to c: inout Contents) {
        for change in changes {
            switch change {
            case .put(let record): c.records[record.reference] = record
            case .delete(let reference): c.records[reference] = nil
            }
        }
    }

    /// The next commits throw these failures, in order.
    public func failNextCommits(_ failures: [PersistenceFailure]) {
        contents.withLock { $0.failures += failures }
    }

    public var health: StoreHealth {
        contents.withLock { StoreHealth(problem: $0.lastFailure?.rawValue) }
    }

    public var records: [Record] { contents.withLock { Array($0.records.values) } }
    public var commitCount: Int { contents.withLock { $0.commits } }

    /// What a restart would load.
    public func load() -> LoadedRecords {
        var loaded = LoadedRecords(isNew: false)
        for record in records {
            switch record {
            case .server(let server): loaded.servers.append(server)
            case .flavor(let flavor): loaded.flavors.append(flavor)
            }
        }
        return loaded
    }
}

extension InMemoryStore {
    /// A store in memory only, on `persistence` (a new one unless given).
    public static func inMemory(
        networks: [NetworkConfig] = [.defaultPrivate], images: [Image] = Image.defaults,
        persistence: MemoryPersistence = MemoryPersistence()
    ) -> InMemoryStore {
        InMemoryStore(records: persistence.load(), networks: networks, images: images, persistence: persistence)
    }
}
