public import ComputeCore
import Dispatch
public import InMemoryStore
public import Logging

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
/// depend on how many records exist, and a crash leaves every file old or new. A replace
/// exchanges the names instead, keeping the old version's file as a spare (`.tmp-spare-<n>`)
/// for the next write, which start-up removes like any temporary file.
public final class JSONFileStore: RecordPersistence {
    public static let directoryFormat = 1

    public let directory: String
    let directoryFD: Int32
    let lockFD: Int32
    let kindFDs: [RecordKind: Int32]
    let intentsFD: Int32
    let logger: Logger
    /// Files set aside at start-up.
    public let damaged: [DamagedFile]
    /// Serialises commits that touch flavors, and holds the file name of each flavor by id:
    /// flavor ids may be `..` or 255 characters long, so they cannot name files; a UUID chosen
    /// when the flavor is first written does. Commits of servers only run concurrently.
    let flavorFiles: Locked<[String: String]>
    /// The directory fsync of each kind's directory, shared by the commits waiting for it.
    let directorySyncs: [RecordKind: DirectorySync]
    /// The spare files of each kind's directory: one per write in progress, each holding the
    /// version its last write replaced (`POSIX.writeFileExchanging`).
    let spares: [RecordKind: SpareFiles]
    /// Why the last commit failed; cleared by the next one that succeeds (or a passing probe).
    let lastFailure: Locked<PersistenceFailure.Reason?>
    /// When the last health probe ran (monotonic nanoseconds): at most one a second.
    let lastProbe = Locked<UInt64>(0)
    let posix: POSIX

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
    /// `progress` is told how many records are read, now and then, from any thread.
    public static func inspect(
        directory: String, logger: Logger, progress: @Sendable (Int) -> Void = { _ in }
    ) throws(StoreOpenError) -> Inspection {
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
            let records = try loader.loadRecords(isNew: isNew, excluding: unfinished, progress: progress)
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
        self.flavorFiles = Locked(flavorFiles)
        self.lastFailure = Locked(problem)
        self.directory = directory
        self.directoryFD = directoryFD
        self.lockFD = lockFD
        self.kindFDs = kindFDs
        self.intentsFD = intentsFD
        self.logger = logger
        self.damaged = damaged
        directorySyncs = kindFDs.reduce(into: [:]) { syncs, entry in
            syncs[entry.key] = DirectorySync(fd: entry.value, path: "\(directory)/\(entry.key.rawValue)", posix: posix)
        }
        spares = kindFDs.mapValues { _ in SpareFiles() }
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
