public import ComputeCore
import Dispatch
public import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Why a data directory could not be opened.
public enum StoreOpenError: Error, Sendable, CustomStringConvertible {
    /// Another process holds the directory's lock.
    case locked(directory: String, holder: String?)
    /// The directory was written by a newer release.
    case unsupportedFormat(directory: String, format: Int)
    case system(SystemCallError)

    public var description: String {
        switch self {
        case .locked(let directory, let holder):
            "data directory \(directory) is in use by another alliance-compute process"
                + (holder.map { " (pid \($0))" } ?? "") + "; refusing to share it"
        case .unsupportedFormat(let directory, let format):
            "data directory \(directory) has format \(format); this release reads format \(JSONFileStore.directoryFormat)"
        case .system(let error):
            "cannot open the data directory: \(error)"
        }
    }
}

/// A file found at start-up that is not a healthy record, and where it was moved.
public struct DamagedFile: Sendable, Equatable {
    /// Relative to the data directory: `servers/abc.json`.
    public var path: String
    public var reason: String
    /// Relative to the data directory, or nil if it could not be moved (read-only directory).
    public var movedTo: String?
}

/// Records as JSON files, one per record, in a data directory only this process may use.
///
/// ```
/// DIR/.lock                 flock()ed while a process owns DIR; holds its pid
/// DIR/store.json            {"format": 1, "created": …}, written once the defaults are seeded
/// DIR/servers/<id>.json     one server
/// DIR/flavors/<key>.json    one flavor
/// DIR/intents/<id>.json     a multi-record commit in progress (rolled back at start-up)
/// DIR/damaged/              files set aside at start-up, with the reason logged
/// ```
/// A write is a temporary file, fsync, rename, fsync of the directory: its cost does not
/// depend on how many records exist, and a crash leaves every file old or new.
public final class JSONFileStore: RecordPersistence {
    public static let directoryFormat = 1

    public let directory: String
    private let directoryFD: Int32
    private let lockFD: Int32
    private let kindFDs: [RecordKind: Int32]
    private let intentsFD: Int32
    private let logger: Logger
    /// Files set aside at start-up.
    public let damaged: [DamagedFile]
    /// Serialises commits (the inventory already does; this keeps the store safe on its own).
    private let commitLock = Mutex(())
    /// Set when a commit fails, cleared by the next one that succeeds (or a passing probe).
    private let lastCommitFailed = Atomic(false)

    /// Opens (creating if needed) and locks `directory`, rolls back unfinished multi-record
    /// commits, and loads every record. Damaged or foreign files are moved to `damaged/`.
    public static func open(directory: String, logger: Logger) throws(StoreOpenError) -> (JSONFileStore, LoadedRecords) {
        do {
            return try openThrowingSystemErrors(directory: directory, logger: logger)
        } catch let error as StoreOpenError {
            throw error
        } catch let error as SystemCallError {
            throw .system(error)
        } catch {
            throw .system(SystemCallError(call: "open", path: directory, errno: EIO))
        }
    }

    private static func openThrowingSystemErrors(directory: String, logger: Logger) throws -> (JSONFileStore, LoadedRecords) {
        if mkdir(directory, 0o750) != 0 && errno != EEXIST {
            throw SystemCallError(call: "mkdir", path: directory, errno: errno)
        }
        let directoryFD = try POSIX.call("open", directory) { Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        let lockFD = try lock(directoryFD, directory: directory)

        var isNew = true
        if let meta = try? POSIX.readFile(directory: directoryFD, name: "store.json", path: "\(directory)/store.json") {
            let format = (try? JSONDecoder().decode(DirectoryMeta.self, from: Data(meta)))?.format ?? 0
            guard format == directoryFormat else {
                throw StoreOpenError.unsupportedFormat(directory: directory, format: format)
            }
            isNew = false
        }

        var createdAny = false
        var kindFDs: [RecordKind: Int32] = [:]
        for kind in RecordKind.allCases {
            let (fd, created) = try POSIX.openDirectory(
                parent: directoryFD, name: kind.rawValue, path: "\(directory)/\(kind.rawValue)", create: true)
            kindFDs[kind] = fd
            createdAny = createdAny || created
        }
        let (intentsFD, createdIntents) = try POSIX.openDirectory(
            parent: directoryFD, name: "intents", path: "\(directory)/intents", create: true)
        let (damagedFD, createdDamaged) = try POSIX.openDirectory(
            parent: directoryFD, name: "damaged", path: "\(directory)/damaged", create: true)
        defer { close(damagedFD) }
        if createdAny || createdIntents || createdDamaged {
            try POSIX.call("fsync", directory) { fsync(directoryFD) }
        }

        var loader = Loader(directory: directory, kindFDs: kindFDs, intentsFD: intentsFD, damagedFD: damagedFD, logger: logger)
        try loader.rollBackUnfinishedCommits()
        let records = try loader.loadRecords(isNew: isNew)

        let store = JSONFileStore(
            directory: directory, directoryFD: directoryFD, lockFD: lockFD, kindFDs: kindFDs, intentsFD: intentsFD,
            logger: logger, damaged: loader.damaged)
        return (store, records)
    }

    private init(
        directory: String, directoryFD: Int32, lockFD: Int32, kindFDs: [RecordKind: Int32], intentsFD: Int32,
        logger: Logger, damaged: [DamagedFile]
    ) {
        self.directory = directory
        self.directoryFD = directoryFD
        self.lockFD = lockFD
        self.kindFDs = kindFDs
        self.intentsFD = intentsFD
        self.logger = logger
        self.damaged = damaged
    }

    deinit {
        for fd in kindFDs.values { close(fd) }
        close(intentsFD)
        close(directoryFD)
        close(lockFD)  // releases the flock
    }

    /// Takes the directory's exclusive lock, or says who holds it.
    private static func lock(_ directoryFD: Int32, directory: String) throws -> Int32 {
        let path = "\(directory)/.lock"
        let fd = try POSIX.call("open", path) { openat(directoryFD, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o640) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let error = errno
            let holder = (try? POSIX.readFile(directory: directoryFD, name: ".lock", path: path))
                .map { String(decoding: $0, as: UTF8.self).filter { !$0.isWhitespace } }
            close(fd)
            if error == EWOULDBLOCK { throw StoreOpenError.locked(directory: directory, holder: holder) }
            throw SystemCallError(call: "flock", path: path, errno: error)
        }
        // Informational only: who holds the lock, for the message a second process prints.
        let pid = Array("\(getpid())\n".utf8)
        ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return fd
    }

    /// Records that the directory is initialised (the default flavors are in it), so a restart
    /// does not seed them again.
    public func markInitialized(now: Timestamp) throws(SystemCallError) {
        let meta = "{\"format\": \(Self.directoryFormat), \"created\": \"\(now.iso8601Seconds)\"}\n"
        try POSIX.writeFileDurably(
            directory: directoryFD, name: "store.json", bytes: Array(meta.utf8), path: "\(directory)/store.json")
    }

    // MARK: Committing

    public func commit(_ changes: [RecordChange]) throws {
        try commitLock.withLock { _ in
            do {
                if changes.count == 1 {
                    try apply(changes[0])
                } else if !changes.isEmpty {
                    try applyAtomically(changes)
                }
                lastCommitFailed.store(false, ordering: .relaxed)
            } catch let failure as PersistenceFailure {
                lastCommitFailed.store(true, ordering: .relaxed)
                throw failure
            }
        }
    }

    private func path(_ reference: RecordReference) -> String {
        "\(directory)/\(reference.kind.rawValue)/\(reference.key).json"
    }

    /// One change: atomic by rename (or unlink), durable by the directory fsync.
    private func apply(_ change: RecordChange) throws {
        switch change {
        case .put(let record):
            let reference = record.reference
            let fd = kindFDs[reference.kind]!
            let bytes = try encode(record)
            do {
                try POSIX.writeFileDurably(
                    directory: fd, name: reference.key + ".json", bytes: bytes, path: path(reference), syncDirectory: false)
            } catch {
                logger.error("could not write a record: \(error)")
                throw PersistenceFailure(changeIsOnDisk: false)
            }
            try syncDirectory(fd, reference.kind.rawValue, changeIsOnDisk: true)
        case .delete(let reference):
            let fd = kindFDs[reference.kind]!
            if unlinkat(fd, reference.key + ".json", 0) != 0 && errno != ENOENT {
                logger.error("could not delete a record: \(SystemCallError(call: "unlink", path: path(reference), errno: errno))")
                throw PersistenceFailure(changeIsOnDisk: false)
            }
            try syncDirectory(fd, reference.kind.rawValue, changeIsOnDisk: true)
        }
    }

    /// Several new records, all or none across a crash: an intent naming them is made durable
    /// first; start-up deletes whatever an intent names, so only a finished commit survives.
    private func applyAtomically(_ changes: [RecordChange]) throws {
        var records: [Record] = []
        for change in changes {
            guard case .put(let record) = change else {
                preconditionFailure("multi-record commits hold new records only")
            }
            records.append(record)
        }
        let intentName = "\(UUID().uuidString.lowercased()).json"
        let intent = Intent(format: 1, records: records.map { .init(kind: $0.reference.kind.rawValue, key: $0.reference.key) })
        do {
            try POSIX.writeFileDurably(
                directory: intentsFD, name: intentName, bytes: try JSONEncoder().encode(intent).bytes,
                path: "\(directory)/intents/\(intentName)")
        } catch {
            logger.error("could not write an intent: \(error)")
            throw PersistenceFailure(changeIsOnDisk: false)
        }
        var written: [RecordReference] = []
        do {
            for record in records {
                let reference = record.reference
                try POSIX.writeFileDurably(
                    directory: kindFDs[reference.kind]!, name: reference.key + ".json", bytes: try encode(record),
                    path: path(reference), syncDirectory: false)
                written.append(reference)
            }
            for kind in Set(written.map(\.kind)) {
                try POSIX.call("fsync", "\(directory)/\(kind.rawValue)") { fsync(kindFDs[kind]!) }
            }
            try POSIX.call("unlink", "\(directory)/intents/\(intentName)") { unlinkat(intentsFD, intentName, 0) }
            try POSIX.call("fsync", "\(directory)/intents") { fsync(intentsFD) }
        } catch {
            logger.error("could not commit \(records.count) records; undoing: \(error)")
            // Undo what is in place. If this fails too, the intent is still there and the next
            // start-up rolls the records back.
            for reference in written { unlinkat(kindFDs[reference.kind]!, reference.key + ".json", 0) }
            for fd in kindFDs.values { fsync(fd) }
            if unlinkat(intentsFD, intentName, 0) == 0 { fsync(intentsFD) }
            throw PersistenceFailure(changeIsOnDisk: false)
        }
    }

    private func syncDirectory(_ fd: Int32, _ name: String, changeIsOnDisk: Bool) throws {
        do {
            try POSIX.call("fsync", "\(directory)/\(name)") { fsync(fd) }
        } catch {
            logger.error("could not make a change durable: \(error)")
            throw PersistenceFailure(changeIsOnDisk: changeIsOnDisk)
        }
    }

    private func encode(_ record: Record) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            var bytes: [UInt8]
            switch record {
            case .server(let server): bytes = try encoder.encode(server).bytes
            case .flavor(let flavor): bytes = try encoder.encode(flavor).bytes
            }
            bytes.append(UInt8(ascii: "\n"))
            return bytes
        } catch {
            logger.error("could not encode a record: \(error)")
            throw PersistenceFailure(changeIsOnDisk: false)
        }
    }

    // MARK: Health

    /// Writable unless the last commit failed; after a failure, a small probe write decides,
    /// so health recovers when space returns even if no client has written since.
    public var health: StoreHealth {
        var writable = !lastCommitFailed.load(ordering: .relaxed)
        if !writable {
            writable = probeWrite()
            if writable { lastCommitFailed.store(false, ordering: .relaxed) }
        }
        return StoreHealth(writable: writable, damagedFiles: damaged.count)
    }

    private func probeWrite() -> Bool {
        do {
            try POSIX.writeFileDurably(
                directory: intentsFD, name: ".probe", bytes: Array(repeating: 0x20, count: 4096),
                path: "\(directory)/intents/.probe")
            unlinkat(intentsFD, ".probe", 0)
            return true
        } catch {
            return false
        }
    }
}

/// The store's own file, `store.json`.
struct DirectoryMeta: Codable {
    var format: Int
}

/// An unfinished multi-record commit.
struct Intent: Codable {
    var format: Int
    var records: [Entry]

    struct Entry: Codable {
        var kind: String
        var key: String
    }
}

extension Data {
    var bytes: [UInt8] { [UInt8](self) }
}
