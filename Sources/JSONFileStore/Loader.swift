import ComputeCore
import Dispatch
import InMemoryStore
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Start-up work on a locked data directory: roll back unfinished commits, then read every
/// record, setting aside what cannot be read. Nothing found in the directory stops start-up
/// but an I/O error: a symlink, a device, a file larger than a record can be, a name that is
/// not UTF-8 are set aside as damaged.
struct Loader {
    let directory: String
    let kindFDs: [RecordKind: Int32]
    let intentsFD: Int32
    let damagedFD: Int32
    let logger: Logger
    let posix: POSIX
    /// Inspecting (`alliance-compute check`): report what start-up would change, change nothing.
    let readOnly: Bool
    private(set) var damaged: [DamagedFile] = []
    /// Temporary files of writes that never finished (start-up deletes them).
    private(set) var temporaryFiles: [String] = []
    /// Intents of multi-record commits that never finished (start-up rolls them back).
    private(set) var unfinishedCommits: [String] = []
    /// Each loaded flavor's file name (without `.json`), by flavor id.
    private(set) var flavorFiles: [String: String] = [:]

    init(
        directory: String, kindFDs: [RecordKind: Int32], intentsFD: Int32, damagedFD: Int32, logger: Logger, posix: POSIX,
        readOnly: Bool = false
    ) {
        self.directory = directory
        self.kindFDs = kindFDs
        self.intentsFD = intentsFD
        self.damagedFD = damagedFD
        self.logger = logger
        self.posix = posix
        self.readOnly = readOnly
    }

    /// A leftover temporary file: deleted, or noted when inspecting.
    private mutating func leftover(_ name: String, in fd: Int32, kind: String) {
        if readOnly {
            // A spare holds a replaced version for the next write: nothing unfinished.
            if !POSIX.isSpare(name) { temporaryFiles.append("\(kind)/\(name)") }
        } else {
            _ = try? posix.unlink(fd, name, path: "\(directory)/\(kind)/\(name)")
        }
    }

    /// Deletes the records of every commit that did not finish (its intent is still there).
    /// Returns the records of commits it could not roll back (a read-only directory): they are
    /// left out of what is loaded, so a half-made commit is never served.
    mutating func rollBackUnfinishedCommits() throws -> Set<RecordReference> {
        var excluded = Set<RecordReference>()
        let entries = try posix.directoryEntries(intentsFD, path: "\(directory)/intents")
        for entry in entries.sorted(by: { $0.bytes.lexicographicallyPrecedes($1.bytes) }) {
            guard let name = entry.name else {
                setAside(entry, in: intentsFD, kind: "intents", reason: "its name is not UTF-8")
                continue
            }
            if POSIX.isTemporary(name) {
                leftover(name, in: intentsFD, kind: "intents")
                continue
            }
            let path = "intents/\(name)"
            guard name.hasSuffix(".json"),
                let bytes = try? posix.readFile(directory: intentsFD, name: name, path: "\(directory)/\(path)"),
                let intent = try? JSONDecoder().decode(Intent.self, from: Data(bytes))
            else {
                logger.error("\(directory)/\(path) is not a readable intent; records it may name were not rolled back")
                setAside(entry, in: intentsFD, kind: "intents", reason: "not a readable intent")
                continue
            }
            let references = intent.records.compactMap { entry in
                RecordKind(rawValue: entry.kind).map { RecordReference(kind: $0, key: entry.key) }
            }.filter { !$0.key.contains("/") }
            unfinishedCommits.append(path)
            if readOnly {
                excluded.formUnion(references)
                continue
            }
            do {
                for reference in references {
                    let file = "\(directory)/\(reference.kind.rawValue)/\(reference.key).json"
                    try posix.unlink(kindFDs[reference.kind]!, reference.key + ".json", path: file)
                }
                for (kind, fd) in kindFDs { try posix.fsync(fd, path: "\(directory)/\(kind.rawValue)") }
                try posix.unlink(intentsFD, name, path: "\(directory)/\(path)")
                try posix.fsync(intentsFD, path: "\(directory)/intents")
                logger.warning("rolled back an unfinished commit of \(references.count) records (\(path))")
            } catch {
                logger.error("cannot roll back the unfinished commit \(path) (\(error)); its records stay hidden until it can be")
                excluded.formUnion(references)
            }
        }
        return excluded
    }

    /// Reads every record, decoding in parallel on all cores; `progress` is told how many are
    /// read, now and then, from any of the threads reading.
    mutating func loadRecords(
        isNew: Bool, excluding excluded: Set<RecordReference>, progress: @Sendable (Int) -> Void = { _ in }
    ) throws -> LoadedRecords {
        var candidates: [(kind: RecordKind, name: String)] = []
        for kind in RecordKind.allCases {
            let fd = kindFDs[kind]!
            for entry in try posix.directoryEntries(fd, path: "\(directory)/\(kind.rawValue)") {
                guard let name = entry.name else {
                    setAside(entry, in: fd, kind: kind.rawValue, reason: "its name is not UTF-8")
                    continue
                }
                if POSIX.isTemporary(name) {
                    leftover(name, in: fd, kind: kind.rawValue)  // a write that never reached its rename
                } else if name.hasSuffix(".json") && name.count > 5 {
                    if !excluded.contains(RecordReference(kind: kind, key: String(name.dropLast(5)))) {
                        candidates.append((kind, name))
                    }
                } else {
                    setAside(entry, in: fd, kind: kind.rawValue, reason: "not a record file (foreign file or directory)")
                }
            }
        }

        // Each thread keeps what it read, and the parts go into one array of servers sized once.
        // Copying every thread's results into one list and then into the servers (and sorting a
        // copy of those, see `Indexes.load`), the worker peaked at 239 MB at 100,000 servers;
        // 202 MB without those copies (VmHWM).
        let parts = Locked<[LoadedPart]>([])
        let chunkCount = max(1, min(candidates.count / 256, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) * 4))
        let chunkSize = (candidates.count + chunkCount - 1) / max(chunkCount, 1)
        let work = candidates
        let fds = kindFDs
        let directory = directory
        let posix = posix
        let read = Atomic(0)
        let reportEvery = 1000
        DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
            let range = (chunk * chunkSize)..<min(work.count, (chunk + 1) * chunkSize)
            guard !range.isEmpty else { return }
            let buffer = POSIX.ReadBuffer()
            var part = LoadedPart()
            part.servers.reserveCapacity(range.count)
            for (done, (kind, name)) in work[range].enumerated() {
                let path = "\(directory)/\(kind.rawValue)/\(name)"
                do throws(RecordProblem) {
                    switch try Self.readRecord(kind: kind, name: name, fd: fds[kind]!, path: path, buffer: buffer, posix: posix) {
                    case .server(let server): part.servers.append(server)
                    case .flavor(let flavor): part.flavors.append((flavor, name))
                    }
                } catch {
                    part.problems.append((kind, name, error))
                }
                if (done + 1) % reportEvery == 0 { progress(read.add(reportEvery, ordering: .relaxed).newValue) }
            }
            progress(read.add(range.count % reportEvery, ordering: .relaxed).newValue)
            parts.withLock { $0.append(part) }
        }

        var loaded = parts.withLock { parts in
            defer { parts = [] }
            return parts
        }
        var records = LoadedRecords(isNew: isNew)
        records.servers.reserveCapacity(loaded.reduce(0) { $0 + $1.servers.count })
        while let part = loaded.popLast() {
            records.servers.append(contentsOf: part.servers)
            for (flavor, name) in part.flavors {
                records.flavors.append(flavor)
                flavorFiles[flavor.id] = String(name.dropLast(5))
            }
            for (kind, name, problem) in part.problems {
                switch problem {
                case .unreadable(let error): throw error
                case .damaged(let reason):
                    setAside(
                        POSIX.DirectoryEntry(bytes: Array(name.utf8)), in: kindFDs[kind]!, kind: kind.rawValue, reason: reason)
                }
            }
        }
        return records
    }

    /// What one loading thread read.
    private struct LoadedPart: Sendable {
        var servers: [Server] = []
        var flavors: [(Flavor, name: String)] = []
        var problems: [(RecordKind, name: String, RecordProblem)] = []
    }

    enum RecordProblem: Error {
        /// The file could not be read at all (I/O error): fatal, the disk needs attention.
        case unreadable(SystemCallError)
        /// The file is not a valid record: set it aside.
        case damaged(String)
    }

    private static func readRecord(
        kind: RecordKind, name: String, fd: Int32, path: String, buffer: POSIX.ReadBuffer, posix: POSIX
    ) throws(RecordProblem) -> Record {
        do {
            try buffer.read(directory: fd, name: name, path: path, posix: posix)
        } catch {
            switch error {
            case .system(let error) where error.errno != ELOOP && error.errno != ENXIO: throw .unreadable(error)
            default: throw .damaged(error.reason)
            }
        }
        let bytes = buffer.bytes
        let key = String(name.dropLast(5))
        do {
            switch kind {
            case .server:
                let server = try ServerRecord.decode(bytes)
                guard server.id == key else { throw RecordProblem.damaged("its id \(server.id) does not match its file name") }
                try Validation.name(server.name, field: "name")
                return .server(server)
            case .flavor:
                let (flavor, recordKey) = try FlavorRecord.decode(bytes)
                guard recordKey == key else { throw RecordProblem.damaged("its record_key does not match its file name") }
                try Validation.identifier(flavor.id, field: "id")
                try Validation.name(flavor.name, field: "name")
                return .flavor(flavor)
            }
        } catch let problem as RecordProblem {
            throw problem
        } catch let error as RecordFormatError {
            throw .damaged("not a valid \(kind) record: \(error)")
        } catch {
            throw .damaged("not a valid \(kind) record: \(error)")
        }
    }

    /// Moves a file to `damaged/` and reports it; never fatal. Inspecting only reports it.
    private mutating func setAside(_ entry: POSIX.DirectoryEntry, in fd: Int32, kind: String, reason: String) {
        let shown = entry.printable
        if readOnly {
            damaged.append(DamagedFile(path: "\(kind)/\(shown)", reason: reason, movedTo: nil))
            return
        }
        let stamp = String(SystemClock().now().iso8601Seconds.filter { $0 != ":" })
        let target = "\(kind)-\(shown)-\(stamp)"
        var movedTo: String? = nil
        let moved = entry.bytes.withCString { name in renameat(fd, name, damagedFD, target) } == 0
        if moved {
            _ = try? posix.fsync(fd, path: "\(directory)/\(kind)")
            _ = try? posix.fsync(damagedFD, path: "\(directory)/damaged")
            movedTo = "damaged/\(target)"
            logger.warning("set aside \(directory)/\(kind)/\(shown): \(reason); moved to \(directory)/damaged/\(target)")
        } else {
            logger.error("\(directory)/\(kind)/\(shown): \(reason); could not move it aside: \(String(cString: strerror(errno)))")
        }
        damaged.append(DamagedFile(path: "\(kind)/\(shown)", reason: reason, movedTo: movedTo))
    }
}
