import ComputeCore
import Logging

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Small JSON files kept beside the records, one per item: the CLI's `tokens/` and `quotas/`,
/// and the identity records (`users/`, `projects/`, `application_credentials/`, `sessions/`),
/// which the worker writes too (`IdentityFiles`). Each is written durably, owned like the data
/// directory; the worker reads the CLI's through `WatchedDirectory`.
///
/// The CLI often runs as root in a directory the worker's user owns, so nothing in it is
/// trusted: the subdirectory and its files are opened relative to the data directory's
/// descriptor without following symbolic links, and only a directory and regular files of at
/// most `POSIX.maxFileBytes` are used. A symlinked `tokens` pointing at `/etc` is refused, never
/// written through (and never `fchown`ed to the worker's user).
enum ControlDirectory {
    static func path(_ dataDirectory: String, _ subdirectory: String) -> String { "\(dataDirectory)/\(subdirectory)" }

    /// The data directory's descriptor; a clear error when it does not exist.
    static func openDataDirectory(_ dataDirectory: String, posix: POSIX) throws -> Int32 {
        do {
            return try posix.openDirectory(path: dataDirectory)
        } catch {
            guard error.errno == ENOENT || error.errno == ENOTDIR else { throw error }
            throw ComputeError.invalidInput(
                "There is no data directory at \(dataDirectory): give the --data-dir the worker serves.")
        }
    }

    /// The subdirectory's descriptor (nil when it does not exist and `create` is false). A new
    /// one is made mode 0700, owned like the data directory, and its creation made durable.
    private static func openSubdirectory(
        _ dataFD: Int32, dataDirectory: String, subdirectory: String, create: Bool, posix: POSIX
    ) throws -> Int32? {
        let directory = path(dataDirectory, subdirectory)
        let fd: Int32
        let created: Bool
        do {
            (fd, created) = try posix.openDirectory(
                parent: dataFD, name: subdirectory, path: directory, create: create, mode: 0o700)
        } catch {
            if error.errno == ENOENT && !create { return nil }
            guard error.errno == ELOOP || error.errno == ENOTDIR else { throw error }
            throw ComputeError.invalidInput(
                "\(directory) is a symbolic link or not a directory; refusing to use it. Move it away and try again.")
        }
        do {
            if created {
                if let (uid, gid) = try owner(of: dataFD, path: dataDirectory, posix: posix) {
                    try posix.call(.fchown, directory) { fchown(fd, uid, gid) }
                }
                try posix.fsync(fd, path: directory)
                try posix.fsync(dataFD, path: dataDirectory)
            }
        } catch {
            posix.close(fd)
            throw error
        }
        return fd
    }

    /// The data directory's owner, when running as root: what the CLI's files must belong to,
    /// so the worker's user can read them.
    private static func owner(of dataFD: Int32, path: String, posix: POSIX) throws -> (uid_t, gid_t)? {
        guard getuid() == 0 else { return nil }
        var status = stat()
        try posix.call(.fstat, path) { fstat(dataFD, &status) }
        return (status.st_uid, status.st_gid)
    }

    /// Writes `item` as `<name>.json`, creating the subdirectory if needed.
    static func write<Item: Encodable>(
        _ item: Item, name: String, dataDirectory: String, subdirectory: String, posix: POSIX = .live
    ) throws {
        let dataFD = try openDataDirectory(dataDirectory, posix: posix)
        defer { posix.close(dataFD) }
        let fd = try openSubdirectory(
            dataFD, dataDirectory: dataDirectory, subdirectory: subdirectory, create: true, posix: posix)!
        defer { posix.close(fd) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try posix.writeFileDurably(
            directory: fd, name: "\(name).json", bytes: Array(try encoder.encode(item)) + [0x0a],
            path: "\(path(dataDirectory, subdirectory))/\(name).json", mode: 0o600,
            owner: try owner(of: dataFD, path: dataDirectory, posix: posix))
    }

    /// Removes `<name>.json`; false when there was none.
    static func remove(name: String, dataDirectory: String, subdirectory: String, posix: POSIX = .live) throws -> Bool {
        let dataFD = try openDataDirectory(dataDirectory, posix: posix)
        defer { posix.close(dataFD) }
        guard
            let fd = try openSubdirectory(
                dataFD, dataDirectory: dataDirectory, subdirectory: subdirectory, create: false, posix: posix)
        else { return false }
        defer { posix.close(fd) }
        let directory = path(dataDirectory, subdirectory)
        guard try posix.unlink(fd, "\(name).json", path: "\(directory)/\(name).json") else { return false }
        try posix.fsync(fd, path: directory)
        return true
    }

    /// Every `*.json` item, by name; files that do not decode are reported, not fatal. A data
    /// directory that does not exist is an error (the CLI says so); a missing subdirectory
    /// holds nothing.
    static func readAll<Item: Decodable>(
        _ type: Item.Type, dataDirectory: String, subdirectory: String, posix: POSIX = .live
    ) throws -> (items: [String: Item], problems: [String]) {
        let dataFD = try openDataDirectory(dataDirectory, posix: posix)
        defer { posix.close(dataFD) }
        let directory = path(dataDirectory, subdirectory)
        guard
            let fd = try openSubdirectory(
                dataFD, dataDirectory: dataDirectory, subdirectory: subdirectory, create: false, posix: posix)
        else { return ([:], []) }
        defer { posix.close(fd) }
        var items: [String: Item] = [:]
        var problems: [String] = []
        for entry in try posix.directoryEntries(fd, path: directory) {
            guard let name = entry.name, name.hasSuffix(".json"), !POSIX.isTemporary(name) else { continue }
            do {
                let bytes = try posix.readFile(directory: fd, name: name, path: "\(directory)/\(name)")
                items[String(name.dropLast(5))] = try JSONDecoder().decode(Item.self, from: Data(bytes))
            } catch let failure as POSIX.ReadFailure {
                problems.append("\(directory)/\(name) is not used: \(failure.reason)")
            } catch {
                problems.append("\(directory)/\(name) is not a valid file: \(error)")
            }
        }
        return (items, problems)
    }

    /// How old a temporary file must be before start-up takes it for a leftover of a CLI that
    /// died mid-write (a younger one may be a write in progress).
    static let leftoverAge: Int = 60

    /// Deletes the temporary files of writes that never finished in every control directory.
    /// Run by the worker at start-up, which owns the data directory.
    static func removeLeftovers(dataDirectory dataFD: Int32, path: String, logger: Logger, posix: POSIX) {
        let identity = IdentityCollection.allCases.map(\.rawValue) + [IdentityFiles.sessionsSubdirectory]
        for subdirectory in [TokenStore.subdirectory, QuotaFiles.subdirectory] + identity {
            let directory = "\(path)/\(subdirectory)"
            guard let fd = try? posix.openDirectory(parent: dataFD, name: subdirectory, path: directory, create: false).fd
            else { continue }
            defer { posix.close(fd) }
            var removed = 0
            for entry in (try? posix.directoryEntries(fd, path: directory)) ?? [] {
                guard let name = entry.name, POSIX.isTemporary(name), let age = posix.age(of: name, in: fd),
                    age >= leftoverAge, (try? posix.unlink(fd, name, path: "\(directory)/\(name)")) == true
                else { continue }
                removed += 1
            }
            if removed > 0 {
                _ = try? posix.fsync(fd, path: directory)
                logger.notice("removed \(removed) temporary files of unfinished writes from \(directory)")
            }
        }
    }
}

/// The worker's view of a control directory: reread when the directory changes (one `stat`
/// per look), so a token the CLI creates or revokes takes effect on the next request.
///
final class WatchedDirectory<Item: Decodable & Sendable>: Sendable {
    private struct Snapshot {
        var stamp: timespec?
        var items: [String: Item] = [:]
    }

    private let dataDirectory: String
    private let subdirectory: String
    private let snapshot = Locked(Snapshot())
    private let report: @Sendable ([String]) -> Void

    init(dataDirectory: String, subdirectory: String, report: @escaping @Sendable ([String]) -> Void) {
        self.dataDirectory = dataDirectory
        self.subdirectory = subdirectory
        self.report = report
    }

    var items: [String: Item] {
        let stamp = POSIX.live.modificationTime(ControlDirectory.path(dataDirectory, subdirectory))
        let exists = stamp != nil
        let cached = snapshot.withLock { $0.stamp.map { Self.same($0, stamp) } == true ? $0.items : nil }
        if let cached { return cached }
        var (items, problems): ([String: Item], [String]) = ([:], [])
        if exists {
            do {
                (items, problems) = try ControlDirectory.readAll(
                    Item.self, dataDirectory: dataDirectory, subdirectory: subdirectory)
            } catch {
                problems = ["cannot read \(ControlDirectory.path(dataDirectory, subdirectory)): \(error)"]
            }
        }
        if !problems.isEmpty { report(problems) }
        // A directory changed within the last second may change again with the same coarse
        // timestamp: keep rereading it until it has been quiet for a second.
        let settled = stamp.map { POSIX.now().tv_sec - $0.tv_sec > 1 } ?? true
        snapshot.withLock { $0 = Snapshot(stamp: settled ? (stamp ?? timespec()) : nil, items: items) }
        return items
    }

    private static func same(_ a: timespec, _ b: timespec?) -> Bool {
        guard let b else { return a.tv_sec == 0 && a.tv_nsec == 0 }
        return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec
    }
}

// Part of the POSIX layer, kept in this file: only the control directories look at times, and
// `timespec` resolves here (libcrypto's headers declare it too, and this file imports them).
extension POSIX {
    /// When `path` last changed (the link itself for a symlink); nil when there is nothing.
    func modificationTime(_ path: String) -> timespec? {
        var status = stat()
        return lstat(path, &status) == 0 ? status.st_mtim : nil
    }

    /// Seconds since `name` in `directory` last changed (not following a symlink); nil when
    /// there is nothing.
    func age(of name: String, in directory: Int32) -> Int? {
        var status = stat()
        guard fstatat(directory, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return Int(Self.now().tv_sec - status.st_mtim.tv_sec)
    }

    static func now() -> timespec {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return now
    }
}
