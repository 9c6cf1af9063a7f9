public import ComputeCore
import Dispatch
public import InMemoryStore
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
    /// Serialises commits (the inventory already does; this keeps the store safe on its own),
    /// and holds the file name of each flavor by id: flavor ids may be `..` or 255 characters
    /// long, so they cannot name files; a UUID chosen when the flavor is first written does.
    private let flavorFiles: Mutex<[String: String]>
    /// Why the last commit failed; cleared by the next one that succeeds (or a passing probe).
    private let lastFailure: Mutex<PersistenceFailure.Reason?>
    /// When the last health probe ran (monotonic nanoseconds): at most one a second.
    private let lastProbe = Mutex<UInt64>(0)
    private let posix: POSIX

    /// Opens (creating if needed) and locks `directory`, rolls back unfinished multi-record
    /// commits, and loads every record. Damaged or foreign files are moved to `damaged/`.
    /// `faults` makes chosen system calls fail, for tests of the error paths.
    public static func open(directory: String, logger: Logger, faults: (any SystemCallFaults)? = nil) throws(StoreOpenError)
        -> (JSONFileStore, LoadedRecords)
    {
        do {
            return try openThrowingSystemErrors(directory: directory, logger: logger, posix: POSIX(faults: faults))
        } catch let error as StoreOpenError {
            throw error
        } catch let error as SystemCallError {
            throw .system(error)
        } catch {
            throw .system(SystemCallError(call: "open", path: directory, errno: EIO))
        }
    }

    private static func openThrowingSystemErrors(directory: String, logger: Logger, posix: POSIX) throws -> (
        JSONFileStore, LoadedRecords
    ) {
        do {
            try posix.call(.mkdir, directory) { mkdir(directory, 0o750) }
        } catch {
            guard error.errno == EEXIST else { throw error }
        }
        let directoryFD = try posix.openDirectory(path: directory)
        let lockFD = try lock(directoryFD, directory: directory, posix: posix)
        let isNew = try readMeta(directoryFD, directory: directory, posix: posix)

        var createdAny = false
        var kindFDs: [RecordKind: Int32] = [:]
        for kind in RecordKind.allCases {
            let (fd, created) = try posix.openDirectory(
                parent: directoryFD, name: kind.rawValue, path: "\(directory)/\(kind.rawValue)", create: true)
            kindFDs[kind] = fd
            createdAny = createdAny || created
        }
        let (intentsFD, createdIntents) = try posix.openDirectory(
            parent: directoryFD, name: "intents", path: "\(directory)/intents", create: true)
        let (damagedFD, createdDamaged) = try posix.openDirectory(
            parent: directoryFD, name: "damaged", path: "\(directory)/damaged", create: true)
        defer { posix.close(damagedFD) }
        if createdAny || createdIntents || createdDamaged {
            try posix.fsync(directoryFD, path: directory)
        }

        var loader = Loader(
            directory: directory, kindFDs: kindFDs, intentsFD: intentsFD, damagedFD: damagedFD, logger: logger, posix: posix)
        let unfinished = try loader.rollBackUnfinishedCommits()
        let records = try loader.loadRecords(isNew: isNew, excluding: unfinished)
        ControlDirectory.removeLeftovers(dataDirectory: directoryFD, path: directory, logger: logger, posix: posix)

        let readOnly = posix.isOnReadOnlyFilesystem(directoryFD)
        if readOnly {
            logger.warning("data directory \(directory) is read-only: serving reads; writes get 503 until it is writable")
        }
        let store = JSONFileStore(
            directory: directory, directoryFD: directoryFD, lockFD: lockFD, kindFDs: kindFDs, intentsFD: intentsFD,
            logger: logger, damaged: loader.damaged, problem: readOnly ? .readOnly : nil, posix: posix,
            flavorFiles: loader.flavorFiles)
        return (store, records)
    }

    /// Reads `store.json`: true when there is none (a new directory); an error when it was
    /// written by another release.
    private static func readMeta(_ directoryFD: Int32, directory: String, posix: POSIX) throws -> Bool {
        guard let meta = try? posix.readFile(directory: directoryFD, name: "store.json", path: "\(directory)/store.json")
        else { return true }
        let format = (try? JSONDecoder().decode(DirectoryMeta.self, from: Data(meta)))?.format ?? 0
        guard format == directoryFormat else {
            throw StoreOpenError.unsupportedFormat(directory: directory, format: format)
        }
        return false
    }

    /// What `inspect` found.
    public struct Inspection: Sendable {
        public var records: LoadedRecords
        public var damaged: [DamagedFile]
        public var temporaryFiles: [String]
        public var unfinishedCommits: [String]
    }

    /// Reads every record without taking the lock or changing anything (a running worker may
    /// own the directory): what `alliance-compute check` reports.
    public static func inspect(directory: String, logger: Logger) throws(StoreOpenError) -> Inspection {
        let posix = POSIX.live
        var opened: [Int32] = []
        defer { for fd in opened { posix.close(fd) } }
        do {
            let directoryFD = try posix.openDirectory(path: directory)
            opened.append(directoryFD)
            let isNew = try readMeta(directoryFD, directory: directory, posix: posix)
            var kindFDs: [RecordKind: Int32] = [:]
            for kind in RecordKind.allCases {
                kindFDs[kind] = try posix.openDirectory(
                    parent: directoryFD, name: kind.rawValue, path: "\(directory)/\(kind.rawValue)", create: false
                ).fd
                opened.append(kindFDs[kind]!)
            }
            let intentsFD = try posix.openDirectory(
                parent: directoryFD, name: "intents", path: "\(directory)/intents", create: false
            ).fd
            opened.append(intentsFD)
            var loader = Loader(
                directory: directory, kindFDs: kindFDs, intentsFD: intentsFD, damagedFD: -1, logger: logger, posix: posix,
                readOnly: true)
            let unfinished = try loader.rollBackUnfinishedCommits()
            let records = try loader.loadRecords(isNew: isNew, excluding: unfinished)
            return Inspection(
                records: records, damaged: loader.damaged, temporaryFiles: loader.temporaryFiles,
                unfinishedCommits: loader.unfinishedCommits)
        } catch let error as StoreOpenError {
            throw error
        } catch let error as SystemCallError {
            throw .system(error)
        } catch {
            throw .system(SystemCallError(call: "open", path: directory, errno: EIO))
        }
    }

    private init(
        directory: String, directoryFD: Int32, lockFD: Int32, kindFDs: [RecordKind: Int32], intentsFD: Int32,
        logger: Logger, damaged: [DamagedFile], problem: PersistenceFailure.Reason?, posix: POSIX,
        flavorFiles: [String: String]
    ) {
        self.posix = posix
        self.flavorFiles = Mutex(flavorFiles)
        self.lastFailure = Mutex(problem)
        self.directory = directory
        self.directoryFD = directoryFD
        self.lockFD = lockFD
        self.kindFDs = kindFDs
        self.intentsFD = intentsFD
        self.logger = logger
        self.damaged = damaged
    }

    deinit {
        for fd in kindFDs.values { posix.close(fd) }
        posix.close(intentsFD)
        posix.close(directoryFD)
        posix.close(lockFD)  // releases the flock
    }

    /// Takes the directory's exclusive lock, or says who holds it. The lock is held through a
    /// read-only descriptor, so the worker keeps no file open for writing between commits
    /// (an operator can remount the filesystem read-only under a running worker).
    private static func lock(_ directoryFD: Int32, directory: String, posix: POSIX) throws -> Int32 {
        let path = "\(directory)/.lock"
        let fd: Int32
        do {
            fd = try posix.open(directoryFD, ".lock", O_RDONLY | O_CREAT, mode: 0o640, path: path)
        } catch {
            guard error.errno == EROFS else { throw error }
            fd = try posix.open(directoryFD, ".lock", O_RDONLY, path: path)
        }
        do {
            try posix.call(.flock, path) { flock(fd, LOCK_EX | LOCK_NB) }
        } catch {
            let holder = (try? posix.readFile(directory: directoryFD, name: ".lock", path: path))
                .map { String(decoding: $0, as: UTF8.self).filter { !$0.isWhitespace } }
            posix.close(fd)
            if error.errno == EWOULDBLOCK { throw StoreOpenError.locked(directory: directory, holder: holder) }
            throw error
        }
        // Informational only: who holds the lock, for the message a second process prints.
        if let writer = try? posix.open(directoryFD, ".lock", O_WRONLY | O_TRUNC, path: path) {
            try? posix.writeAll(writer, Array("\(getpid())\n".utf8), path: path)
            posix.close(writer)
        }
        return fd
    }

    /// Records that the directory is initialised (the default flavors are in it), so a restart
    /// does not seed them again.
    public func markInitialized(now: Timestamp) throws(SystemCallError) {
        let meta = "{\"format\": \(Self.directoryFormat), \"created\": \"\(now.iso8601Seconds)\"}\n"
        try posix.writeFileDurably(
            directory: directoryFD, name: "store.json", bytes: Array(meta.utf8), path: "\(directory)/store.json")
    }

    // MARK: Committing

    /// A change as files: which file, and its new bytes (nil: delete it).
    private struct FileChange {
        var kind: RecordKind
        var key: String
        var bytes: [UInt8]?
        /// The flavor id this file holds, for the map of flavor files.
        var flavorID: String?

        var name: String { key + ".json" }
    }

    public func commit(_ changes: [RecordChange]) throws(PersistenceFailure) {
        try flavorFiles.withLock { files throws(PersistenceFailure) in
            let fileChanges = try changes.map { change throws(PersistenceFailure) in try fileChange(change, files) }
            do throws(PersistenceFailure) {
                if fileChanges.count == 1 {
                    try apply(fileChanges[0])
                } else if !fileChanges.isEmpty {
                    try applyAtomically(fileChanges)
                }
                lastFailure.withLock { $0 = nil }
            } catch {
                lastFailure.withLock { $0 = error.reason }
                if error.changeIsOnDisk { Self.note(fileChanges, in: &files) }
                throw error
            }
            Self.note(fileChanges, in: &files)
        }
    }

    /// The file a change writes or removes, and the bytes it writes.
    private func fileChange(_ change: RecordChange, _ files: [String: String]) throws(PersistenceFailure) -> FileChange {
        do {
            switch change {
            case .put(.server(let server)):
                return FileChange(kind: .server, key: server.id, bytes: try ServerRecord.encode(server))
            case .put(.flavor(let flavor)):
                let key = files[flavor.id] ?? UUID().uuidString.lowercased()
                return FileChange(
                    kind: .flavor, key: key, bytes: try FlavorRecord.encode(flavor, recordKey: key), flavorID: flavor.id)
            case .delete(let reference) where reference.kind == .server:
                return FileChange(kind: .server, key: reference.key, bytes: nil)
            case .delete(let reference):
                return FileChange(kind: .flavor, key: files[reference.key] ?? reference.key, bytes: nil, flavorID: reference.key)
            }
        } catch {
            throw failure("could not encode a record", error)
        }
    }

    private static func note(_ changes: [FileChange], in files: inout [String: String]) {
        for change in changes {
            guard let id = change.flavorID else { continue }
            files[id] = change.bytes == nil ? nil : change.key
        }
    }

    private func path(_ change: FileChange) -> String {
        "\(directory)/\(change.kind.rawValue)/\(change.name)"
    }

    /// What the client is told (through the inventory) about a failed system call.
    static func reason(_ error: any Error) -> PersistenceFailure.Reason {
        switch (error as? SystemCallError)?.errno {
        case ENOSPC, EDQUOT: .storageFull
        case EROFS, EACCES, EPERM: .readOnly
        default: .ioError
        }
    }

    /// Logs a failed step and says how to report it.
    private func failure(_ what: String, _ error: any Error, changeIsOnDisk: Bool = false) -> PersistenceFailure {
        logger.error("\(what): \(error)")
        return PersistenceFailure(Self.reason(error), changeIsOnDisk: changeIsOnDisk)
    }

    /// One change: atomic by rename (or unlink), durable by the directory fsync.
    private func apply(_ change: FileChange) throws(PersistenceFailure) {
        let directoryFD = kindFDs[change.kind]!
        do {
            if let bytes = change.bytes {
                try posix.writeFileDurably(
                    directory: directoryFD, name: change.name, bytes: bytes, path: path(change), syncDirectory: false)
            } else {
                try posix.unlink(directoryFD, change.name, path: path(change))
            }
        } catch {
            throw failure("could not change a record", error)
        }
        do {
            try posix.fsync(directoryFD, path: "\(directory)/\(change.kind.rawValue)")
        } catch {
            throw failure("could not make a change durable", error, changeIsOnDisk: true)
        }
    }

    /// Several new records, all or none across a crash: an intent naming them is made durable
    /// first; start-up deletes whatever an intent names, so only a finished commit survives.
    /// Removing the intent is the commit point.
    private func applyAtomically(_ changes: [FileChange]) throws(PersistenceFailure) {
        precondition(changes.allSatisfy { $0.bytes != nil }, "multi-record commits hold new records only")
        let intentName = "\(UUID().uuidString.lowercased()).json"
        let intentPath = "\(directory)/intents/\(intentName)"
        let intent = Intent(format: 1, records: changes.map { .init(kind: $0.kind.rawValue, key: $0.key) })
        do {
            try posix.writeFileDurably(
                directory: intentsFD, name: intentName, bytes: try JSONEncoder().encode(intent).bytes, path: intentPath)
        } catch {
            throw failure("could not write an intent", error)
        }
        var written: [FileChange] = []
        do {
            for change in changes {
                try posix.writeFileDurably(
                    directory: kindFDs[change.kind]!, name: change.name, bytes: change.bytes!, path: path(change),
                    syncDirectory: false)
                written.append(change)
            }
            for kind in Set(written.map(\.kind)) {
                try posix.fsync(kindFDs[kind]!, path: "\(directory)/\(kind.rawValue)")
            }
            try posix.unlink(intentsFD, intentName, path: intentPath)
        } catch {
            let undone = undo(written, intent: intentName)
            throw failure(
                "could not commit \(changes.count) records (\(undone ? "undone" : "left for start-up to roll back"))", error)
        }
        do {
            try posix.fsync(intentsFD, path: "\(directory)/intents")
        } catch {
            // The intent is gone from the directory, perhaps not durably: the records are in
            // place and durable, and memory follows them. A crash now may bring the intent back,
            // and start-up then rolls back all of them, never some.
            throw failure("could not make a commit of \(changes.count) records durable", error, changeIsOnDisk: true)
        }
    }

    /// Removes what a failed multi-record commit wrote, then its intent, each step durable
    /// before the next. When a step fails the intent stays, so start-up rolls back the rest:
    /// records memory never had are never left without an intent that names them.
    private func undo(_ written: [FileChange], intent: String) -> Bool {
        do {
            for change in written {
                try posix.unlink(kindFDs[change.kind]!, change.name, path: path(change))
            }
            for kind in Set(written.map(\.kind)) {
                try posix.fsync(kindFDs[kind]!, path: "\(directory)/\(kind.rawValue)")
            }
            try posix.unlink(intentsFD, intent, path: "\(directory)/intents/\(intent)")
            try posix.fsync(intentsFD, path: "\(directory)/intents")
            return true
        } catch {
            logger.error("could not undo a failed commit: \(error); the next start-up rolls it back (intents/\(intent))")
            return false
        }
    }

    // MARK: Health

    /// Writable unless the last commit failed; after a failure, a small probe write decides (at
    /// most once a second, however often health is asked for), so health recovers when space
    /// returns even if no client has written since.
    public var health: StoreHealth {
        var problem = lastFailure.withLock { $0 }
        if problem != nil {
            let now = DispatchTime.now().uptimeNanoseconds
            let due = lastProbe.withLock { last in
                guard now &- last >= 1_000_000_000 else { return false }
                last = now
                return true
            }
            if due {
                problem = probeWrite()
                lastFailure.withLock { $0 = problem }
            }
        }
        return StoreHealth(problem: problem?.rawValue, counters: ["damaged_files": damaged.count])
    }

    /// Writes and removes a 4 KiB file; nil when that works, else why not.
    private func probeWrite() -> PersistenceFailure.Reason? {
        do {
            try posix.writeFileDurably(
                directory: intentsFD, name: ".probe", bytes: Array(repeating: 0x20, count: 4096),
                path: "\(directory)/intents/.probe")
            try posix.unlink(intentsFD, ".probe", path: "\(directory)/intents/.probe")
            return nil
        } catch {
            return Self.reason(error)
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
