import ComputeCore
import ComputeTesting
import Foundation
import InMemoryStore
import JSONFileStore
import Logging
import Testing

@testable import PostgresStore

#if canImport(Glibc)
    import Glibc
#endif

/// Every implementation of `InventoryStore` the contract runs against.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// In-memory indexes over records in memory (the test double).
    case memory
    /// In-memory indexes over JSON files in a temporary data directory (the embedded default).
    case jsonFiles
    /// PostgreSQL, in a schema of its own per test, in the database `ALLIANCE_TEST_DATABASE_URL`
    /// names (deploy/test starts a throwaway cluster and sets it).
    case postgres

    var testDescription: String { rawValue }

    /// The stores this run can reach: all of them under deploy/test. Plain `swift test` without
    /// a database leaves PostgreSQL out, unless ALLIANCE_REQUIRE_POSTGRES says it must be there.
    static var all: [StoreKind] {
        if testDatabaseURL != nil { return allCases }
        precondition(
            ProcessInfo.processInfo.environment["ALLIANCE_REQUIRE_POSTGRES"] == nil,
            "ALLIANCE_REQUIRE_POSTGRES is set but ALLIANCE_TEST_DATABASE_URL is not: the contract must run against PostgreSQL")
        return [.memory, .jsonFiles]
    }

    static var testDatabaseURL: String? {
        ProcessInfo.processInfo.environment["ALLIANCE_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }
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
    /// The PostgreSQL schema of this test, and the URL that uses it.
    private let schema: String?
    private let databaseURL: String?

    init(
        _ kind: StoreKind, networks: [NetworkConfig] = [.defaultPrivate], quotaDefaults: QuotaLimits = .unlimited,
        keepDeletedServersSeconds: Int = 0
    ) throws {
        self.kind = kind
        self.networks = networks
        let store: any InventoryStore
        switch kind {
        case .memory:
            let memory = MemoryPersistence()
            store = InMemoryStore.inMemory(networks: networks, persistence: memory)
            (self.memory, directory, faults, schema, databaseURL) = (memory, nil, nil, nil, nil)
        case .jsonFiles:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "alliance-contract-\(UUID().uuidString)"
            ).path
            let faults = FaultPlan()
            let (files, records) = try JSONFileStore.open(directory: directory, logger: quiet, faults: faults)
            store = InMemoryStore(records: records, networks: networks, images: Image.defaults, persistence: files)
            (memory, self.directory, self.faults, schema, databaseURL) = (nil, directory, faults, nil, nil)
        case .postgres:
            let schema = "contract_" + UUID().uuidString.lowercased().filter { $0 != "-" }
            try Self.sql("CREATE SCHEMA \(schema)")
            let url = StoreKind.testDatabaseURL! + "&options=-c%20search_path%3D\(schema)"
            _ = try PostgresStore.upgrade(url: url)
            store = try PostgresStore(url: url, networks: networks, logger: quiet)
            (memory, directory, faults, self.schema, databaseURL) = (nil, nil, nil, schema, url)
        }
        inventory = Inventory(
            store: store, networks: networks,
            settings: .init(quotaDefaults: quotaDefaults, keepDeletedServersSeconds: keepDeletedServersSeconds),
            clock: clock,
            identifiers: SequentialIdentifiers())
        try inventory.seedDefaultFlavors()
    }

    deinit {
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
        if let schema { try? Self.sql("DROP SCHEMA \(schema) CASCADE") }
    }

    /// Runs SQL on the test database as it is (its own schemas and triggers).
    static func sql(_ text: String, schema: String? = nil) throws {
        let url = StoreKind.testDatabaseURL! + (schema.map { "&options=-c%20search_path%3D\($0)" } ?? "")
        try PostgresConnection(url: url, timeoutSeconds: 5).run(text)
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
        case .postgres:
            // Nothing is held in memory: a new store on the same database is a restart.
            let store = try PostgresStore(url: databaseURL!, networks: networks, logger: quiet)
            return (Inventory(store: store, networks: networks, settings: inventory.currentSettings, clock: clock), [])
        }
        let store = InMemoryStore(
            records: records, networks: networks, images: Image.defaults, persistence: MemoryPersistence())
        return (
            Inventory(store: store, networks: networks, settings: inventory.currentSettings, clock: clock), store.loadWarnings
        )
    }

    /// Writes fail before anything reaches the storage, as on a read-only one: the next write
    /// (memory), or every write until `storageWorksAgain` (files).
    func storageTurnsReadOnly() throws {
        switch kind {
        case .memory: memory!.failNextCommits([PersistenceFailure(.readOnly)])
        case .jsonFiles: faults!.arm(.open, errno: EROFS, persistent: true)
        case .postgres:
            // What a read-only database (a standby) answers: SQLSTATE 25006.
            try Self.sql(
                """
                CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN RAISE EXCEPTION 'read-only' USING ERRCODE = '25006'; END $$;
                CREATE TRIGGER refuse BEFORE INSERT OR UPDATE OR DELETE ON servers FOR EACH STATEMENT EXECUTE FUNCTION refuse();
                """, schema: schema)
        }
    }

    func storageWorksAgain() throws {
        faults?.disarm()
        if kind == .postgres { try Self.sql("DROP TRIGGER refuse ON servers", schema: schema) }
    }

    /// How the store words read-only storage.
    var readOnlyProblem: String { kind == .postgres ? "database is read-only" : "storage is read-only" }

    /// The next `count` writes fail after their records are in place (each directory sync
    /// fails; on files, every write until `storageWorksAgain`).
    func writesFailAfterReachingTheStorage(count: Int) throws {
        switch kind {
        case .memory: memory!.failNextCommits(Array(repeating: PersistenceFailure(changeIsOnDisk: true), count: count))
        case .jsonFiles: faults!.arm([.init(call: .fsync, pathSuffix: "/servers", persistent: true)])
        case .postgres: preconditionFailure("a COMMIT whose answer is lost is proven by the crash test, which kills PostgreSQL")
        }
    }

    /// The next single write fails after its record is in place (the directory's fsync fails):
    /// the change may survive a restart, so memory must show it.
    func failNextWriteAfterItReachedTheStorage() {
        switch kind {
        case .memory: memory!.failNextCommits([PersistenceFailure(changeIsOnDisk: true)])
        case .jsonFiles: faults!.arm(.fsync, occurrence: 2)
        case .postgres: preconditionFailure("a COMMIT whose answer is lost is proven by the crash test, which kills PostgreSQL")
        }
    }
}
