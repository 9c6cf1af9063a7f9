import ComputeCore
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

/// Committing changes: one record by rename (or unlink) and a directory fsync; several through
/// an intent that start-up rolls back if the commit did not finish.
///
/// Commits of servers run concurrently, each on its caller's thread: each writes its own
/// files, and concurrent ones share the directory fsync that makes them durable
/// (`DirectorySync`: group commit). Commits that touch a flavor run one at a time.
extension JSONFileStore {
    /// A change as files: which file, and its new bytes (nil: delete it).
    struct FileChange {
        var kind: RecordKind
        var key: String
        var bytes: [UInt8]?
        /// The flavor id this file holds, for the map of flavor files.
        var flavorID: String?

        var name: String { key + ".json" }
    }

    public func commit(_ changes: [RecordChange]) throws(PersistenceFailure) {
        let serversOnly = changes.allSatisfy { change in
            switch change {
            case .put(.server): true
            case .delete(let reference): reference.kind == .server
            case .put(.flavor): false
            }
        }
        if serversOnly {
            try write(try changes.map { change throws(PersistenceFailure) in try fileChange(change, [:]) })
            return
        }
        try flavorFiles.withLock { files throws(PersistenceFailure) in
            let fileChanges = try changes.map { change throws(PersistenceFailure) in try fileChange(change, files) }
            do throws(PersistenceFailure) {
                try write(fileChanges)
            } catch {
                if error.changeIsOnDisk { Self.note(fileChanges, in: &files) }
                throw error
            }
            Self.note(fileChanges, in: &files)
        }
    }

    /// Writes the files of one commit; notes the outcome for the health report.
    private func write(_ fileChanges: [FileChange]) throws(PersistenceFailure) {
        do throws(PersistenceFailure) {
            if fileChanges.count == 1 {
                try apply(fileChanges[0])
            } else if !fileChanges.isEmpty {
                try applyAtomically(fileChanges)
            }
            lastFailure.withLock { $0 = nil }
        } catch {
            lastFailure.withLock { $0 = error.reason }
            throw error
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

    /// One change: atomic by rename, exchange (a replace) or unlink, durable by a directory
    /// fsync that started after it (shared with the other commits waiting for one).
    private func apply(_ change: FileChange) throws(PersistenceFailure) {
        let directoryFD = kindFDs[change.kind]!
        do {
            if let bytes = change.bytes {
                let spares = spares[change.kind]!
                let spare = spares.take()
                defer { spares.giveBack(spare) }
                try posix.writeFileExchanging(
                    directory: directoryFD, name: change.name, bytes: bytes, spare: spare, path: path(change))
            } else {
                try posix.unlink(directoryFD, change.name, path: path(change))
            }
        } catch {
            throw failure("could not change a record", error)
        }
        do {
            try directorySyncs[change.kind]!.sync()
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
            for kind in Set(written.map(\.kind)) { try directorySyncs[kind]!.sync() }
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
}

/// The names of one directory's spare files, each used by one write at a time: as many exist as
/// writes ever ran at once there.
final class SpareFiles: Sendable {
    private struct Names {
        var free: [String] = []
        var made = 0
    }

    private let names = Locked(Names())

    func take() -> String {
        names.withLock { n in
            if let name = n.free.popLast() { return name }
            n.made += 1
            return POSIX.spareName(n.made)
        }
    }

    func giveBack(_ name: String) {
        names.withLock { $0.free.append(name) }
    }
}
