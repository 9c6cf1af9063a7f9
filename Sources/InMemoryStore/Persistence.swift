public import ComputeCore

/// A record the store keeps: one file (or one entry) each.
public enum Record: Sendable, Equatable {
    case server(Server)
    case flavor(Flavor)

    public var reference: RecordReference {
        switch self {
        case .server(let server): RecordReference(kind: .server, key: server.id)
        case .flavor(let flavor): RecordReference(kind: .flavor, key: flavor.id)
        }
    }
}

public enum RecordKind: String, Sendable, CaseIterable {
    case server = "servers"
    case flavor = "flavors"
}

/// Names one record: its kind and its id.
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

/// What a persistence holds at start-up.
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

/// A failed commit. The persistence has logged the details; this says what kind of trouble it
/// was and whether the change may nevertheless have reached the disk.
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

/// Durable storage of records, with no rules of its own: `InMemoryStore` decides what is valid
/// and keeps every record in memory; persistence makes changes survive a crash.
public protocol RecordPersistence: Sendable {
    /// Makes the changes durable before returning. A single change is atomic; several are
    /// atomic across a crash too (after a restart all of them are there, or none).
    /// Throws `PersistenceFailure`.
    func commit(_ changes: [RecordChange]) throws(PersistenceFailure)

    /// Whether writes work.
    var health: StoreHealth { get }
}
