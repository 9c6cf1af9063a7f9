import Synchronization

/// A record the store keeps: one file (or one entry) each.
public enum Record: Sendable, Equatable {
    case server(Server)
    case flavor(Flavor)

    public var reference: RecordReference {
        switch self {
        case .server(let server): RecordReference(kind: .server, key: server.id)
        case .flavor(let flavor): RecordReference(kind: .flavor, key: flavor.recordKey)
        }
    }
}

public enum RecordKind: String, Sendable, CaseIterable {
    case server = "servers"
    case flavor = "flavors"
}

/// Names one record: its kind and its key (a server's id, a flavor's record key).
public struct RecordReference: Sendable, Hashable {
    public var kind: RecordKind
    public var key: String

    public init(kind: RecordKind, key: String) {
        self.kind = kind
        self.key = key
    }
}

public enum RecordChange: Sendable, Equatable {
    case put(Record)
    case delete(RecordReference)
}

/// What a store holds at start-up.
public struct LoadedRecords: Sendable {
    public var servers: [Server]
    public var flavors: [Flavor]
    /// True when the store was just created (no records were ever written): seed the defaults.
    public var isNew: Bool

    public init(servers: [Server] = [], flavors: [Flavor] = [], isNew: Bool) {
        self.servers = servers
        self.flavors = flavors
        self.isNew = isNew
    }
}

/// A failed commit. The persistence layer has logged the details; this says what kind of
/// trouble it was and whether the change may nevertheless have reached the disk.
public struct PersistenceFailure: Error, Sendable, Equatable {
    public var reason: Reason
    /// True when the records were already in place when a later step (a directory fsync)
    /// failed: the change is visible on disk and may survive a restart, so memory must follow it.
    public var changeIsOnDisk: Bool

    public enum Reason: String, Sendable, Equatable {
        case storageFull = "storage is full"
        case readOnly = "storage is read-only"
        case ioError = "storage reports I/O errors"
    }

    public init(_ reason: Reason = .ioError, changeIsOnDisk: Bool = false) {
        self.reason = reason
        self.changeIsOnDisk = changeIsOnDisk
    }
}

/// How the store is doing, for `/healthz`.
public struct StoreHealth: Sendable, Equatable {
    /// Why writes fail right now, or nil when they work.
    public var problem: PersistenceFailure.Reason?
    /// Files found damaged or foreign at start-up and set aside.
    public var damagedFiles: Int

    public var writable: Bool { problem == nil }

    public init(problem: PersistenceFailure.Reason?, damagedFiles: Int) {
        self.problem = problem
        self.damagedFiles = damagedFiles
    }
}

/// Durable storage of records, with no rules of its own: the `Inventory` decides what is
/// valid, persistence makes it survive.
public protocol RecordPersistence: Sendable {
    /// Makes the changes durable before returning. A single change is atomic; several are
    /// atomic across a crash too (after a restart all of them are there, or none).
    /// Throws `PersistenceFailure`.
    func commit(_ changes: [RecordChange]) throws

    var health: StoreHealth { get }
}

/// Records in memory: for tests, the fuzzer and benchmarks of the core. It can be told to
/// fail commits, to exercise the error paths.
public final class MemoryPersistence: RecordPersistence {
    private struct Contents {
        var records: [RecordReference: Record] = [:]
        var failures: [PersistenceFailure] = []
        var commits = 0
        var lastFailure: PersistenceFailure.Reason?
    }
    private let contents = Mutex(Contents())

    public init(_ records: [Record] = []) {
        contents.withLock { c in
            for record in records { c.records[record.reference] = record }
        }
    }

    public func commit(_ changes: [RecordChange]) throws {
        try contents.withLock { c in
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
        contents.withLock { StoreHealth(problem: $0.lastFailure, damagedFiles: 0) }
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
