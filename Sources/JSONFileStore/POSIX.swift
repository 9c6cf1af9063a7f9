import CGlibcExtras
import ComputeCore

#if canImport(Glibc)
    import Glibc
#endif

/// The system calls the store makes, by name: for error messages and for failure injection.
public enum SystemCall: String, Sendable, CaseIterable {
    case open, read, write, fsync, rename, unlink, mkdir, fchown, fstat, flock, opendir, ftruncate
}

/// A failed system call: which call, on what, and errno.
public struct SystemCallError: Error, Sendable, CustomStringConvertible {
    public var call: String
    public var path: String
    public var errno: Int32

    public init(call: String, path: String, errno: Int32) {
        self.call = call
        self.path = path
        self.errno = errno
    }

    public var description: String {
        "\(call) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Makes system calls fail on purpose, so tests can drive every error path of the store
/// (ENOSPC on a write, EIO on an fsync, EROFS on a rename…) and see each descriptor closed.
/// The worker runs with none.
public protocol SystemCallFaults: AnyObject, Sendable {
    /// The errno `call` on `path` fails with instead of being made, or nil to make it.
    func injectedError(for call: SystemCall, path: String) -> Int32?
    /// `fd` was opened (by `open`, or as a copy by `opendir`).
    func opened(_ fd: Int32)
    /// `fd` was closed.
    func closed(_ fd: Int32)
}

/// The one place where the store's system calls are made and `-1`/errno become thrown errors
/// (EINTR is retried). Every descriptor is closed through `close`, exactly once.
struct POSIX: Sendable {
    let faults: (any SystemCallFaults)?

    static let live = POSIX(faults: nil)

    /// Record and control files are small; anything larger is not one of ours (a symlink to
    /// /dev/zero, a file grown by something else) and is never read whole.
    static let maxFileBytes = 1 << 20

    @discardableResult
    func call(_ call: SystemCall, _ path: String, _ body: () -> Int32) throws(SystemCallError) -> Int32 {
        if let faults, let error = faults.injectedError(for: call, path: path) {
            throw SystemCallError(call: call.rawValue, path: path, errno: error)
        }
        while true {
            let result = body()
            if result != -1 {
                if call == .open || call == .opendir { faults?.opened(result) }
                return result
            }
            let error = Glibc.errno
            if error != EINTR { throw SystemCallError(call: call.rawValue, path: path, errno: error) }
        }
    }

    /// Closes `fd` (never retried: Linux releases the descriptor even when close fails).
    func close(_ fd: Int32) {
        faults?.closed(fd)
        _ = Glibc.close(fd)
    }

    /// Opens `name` relative to `directory` without following a symbolic link.
    func open(_ directory: Int32, _ name: String, _ flags: Int32, mode: mode_t = 0, path: String) throws(SystemCallError)
        -> Int32
    {
        try call(.open, path) { openat(directory, name, flags | O_CLOEXEC | O_NOFOLLOW, mode) }
    }

    /// Writes all of `bytes` to `fd`.
    func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(SystemCallError) {
        var offset = 0
        while offset < bytes.count {
            let written = try call(.write, path) {
                Int32(clamping: bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) })
            }
            offset += Int(written)
        }
    }

    /// Why a file could not be read as one of ours.
    enum ReadFailure: Error {
        case system(SystemCallError)
        /// A directory, device, pipe or socket: `kind` says which.
        case notARegularFile(kind: String)
        case tooLarge(bytes: Int)

        var reason: String {
            switch self {
            case .system(let error) where error.errno == ELOOP: "a symbolic link, not a file of its own"
            case .system(let error): "\(error)"
            case .notARegularFile(let kind): "\(kind), not a regular file"
            case .tooLarge(let bytes): "\(bytes) bytes, larger than the \(POSIX.maxFileBytes)-byte limit"
            }
        }
    }

    /// Opens a file to read it whole: not through a symlink, never blocking (a FIFO), only a
    /// regular file of at most `maxFileBytes`. Returns the descriptor and the file's size.
    private func openForReading(_ directory: Int32, _ name: String, path: String) throws(ReadFailure) -> (Int32, Int) {
        let fd: Int32
        do {
            fd = try open(directory, name, O_RDONLY | O_NONBLOCK, path: path)
        } catch {
            throw .system(error)
        }
        var status = stat()
        do {
            try call(.fstat, path) { fstat(fd, &status) }
        } catch {
            close(fd)
            throw .system(error)
        }
        let type = status.st_mode & S_IFMT
        guard type == S_IFREG else {
            close(fd)
            throw .notARegularFile(kind: type == S_IFDIR ? "a directory" : "a device, pipe or socket")
        }
        guard status.st_size <= POSIX.maxFileBytes else {
            close(fd)
            throw .tooLarge(bytes: Int(status.st_size))
        }
        return (fd, Int(status.st_size))
    }

    /// Reads a whole file relative to a directory descriptor (see `openForReading`).
    func readFile(directory: Int32, name: String, path: String) throws(ReadFailure) -> [UInt8] {
        let buffer = ReadBuffer(capacity: 4096)
        try buffer.read(directory: directory, name: name, path: path, posix: self)
        return Array(buffer.bytes)
    }

    /// A buffer that one thread reuses for every file it reads (start-up reads 100,000 of them;
    /// a fresh zeroed buffer per file was most of the kernel's page-fault and memset time).
    final class ReadBuffer {
        private(set) var base: UnsafeMutableRawPointer
        private(set) var capacity: Int
        private(set) var count = 0

        init(capacity: Int = 64 * 1024) {
            self.capacity = capacity
            base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        }

        deinit { base.deallocate() }

        var bytes: UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: count)
        }

        /// Reads a whole file, replacing the contents: at most `maxFileBytes`, even if the file
        /// grows while it is read.
        func read(directory: Int32, name: String, path: String, posix: POSIX) throws(ReadFailure) {
            let (fd, size) = try posix.openForReading(directory, name, path: path)
            defer { posix.close(fd) }
            count = 0
            if capacity < size + 1 { grow(to: size + 1) }
            while true {
                if count == capacity {
                    guard capacity <= POSIX.maxFileBytes else { throw .tooLarge(bytes: count) }
                    grow(to: capacity * 2)
                }
                let got: Int32
                do {
                    got = try posix.call(.read, path) { Int32(clamping: Glibc.read(fd, base + count, capacity - count)) }
                } catch {
                    throw .system(error)
                }
                if got == 0 { return }
                count += Int(got)
            }
        }

        private func grow(to newCapacity: Int) {
            let bigger = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
            bigger.copyMemory(from: base, byteCount: count)
            base.deallocate()
            base = bigger
            capacity = newCapacity
        }
    }

    /// Writes a file durably: a temporary file in the same directory, fsync, rename over the
    /// final name, fsync the directory. A crash leaves the old file or the new one, never a mix.
    /// `owner` (uid, gid), when given, owns the file (the CLI, run as root, writes files the
    /// worker's user must read). The temporary file's descriptor is closed exactly once on
    /// every path, before the rename: a second close could hit a descriptor another thread
    /// has opened since.
    func writeFileDurably(
        directory: Int32, name: String, bytes: [UInt8], path: String, syncDirectory: Bool = true,
        mode: mode_t = 0o640, owner: (uid_t, gid_t)? = nil
    ) throws(SystemCallError) {
        let temporary = Self.temporaryName(for: name)
        let fd = try open(directory, temporary, O_WRONLY | O_CREAT | O_EXCL, mode: mode, path: path)
        do {
            if let (uid, gid) = owner { try call(.fchown, path) { fchown(fd, uid, gid) } }
            try writeAll(fd, bytes, path: path)
            try call(.fsync, path) { Glibc.fsync(fd) }
        } catch {
            close(fd)
            unlinkat(directory, temporary, 0)
            throw error
        }
        close(fd)
        do {
            try call(.rename, path) { renameat(directory, temporary, directory, name) }
        } catch {
            unlinkat(directory, temporary, 0)
            throw error
        }
        if syncDirectory { try call(.fsync, path) { Glibc.fsync(directory) } }
    }

    /// Writes a record durably through `spare`, a temporary name in the same directory that this
    /// write alone uses: the bytes go into the file `spare` names (a new one if it names none
    /// this process may reuse), fsync, then `spare` and `name` swap their files in one rename
    /// (RENAME_EXCHANGE) and `spare` keeps the version replaced, for the next write to reuse.
    /// A replace so allocates and frees no inode: on this machine's ext4 that was most of a
    /// write's CPU (finding a free inode skips every recently deleted one; 1,900–4,300 raw
    /// writes/s with a new file each, 5,200–5,900 reusing them). When `name` does not exist yet
    /// (a new record) it is a plain rename and `spare` names nothing afterwards. The caller
    /// makes the change durable with an fsync of the directory; a crash leaves `name` old or
    /// new, and a spare is a temporary file that start-up removes.
    func writeFileExchanging(directory: Int32, name: String, bytes: [UInt8], spare: String, path: String)
        throws(SystemCallError)
    {
        let (fd, oldSize) = try openSpare(directory: directory, spare: spare, path: path)
        do {
            // Written over in place, then cut to length only if it was longer: truncating to
            // zero first freed the file's block for the write to allocate again, and a
            // truncation is a synchronous inode write here (8% of a PATCH's CPU).
            try writeAll(fd, bytes, path: path)
            if oldSize > bytes.count { try call(.ftruncate, path) { Glibc.ftruncate(fd, off_t(bytes.count)) } }
            try call(.fsync, path) { Glibc.fsync(fd) }
        } catch {
            close(fd)
            unlinkat(directory, spare, 0)
            throw error
        }
        close(fd)
        do {
            try exchange(directory, spare, name, path: path)
        } catch {
            unlinkat(directory, spare, 0)
            throw error
        }
    }

    /// `spare`'s file takes `name`, and `name`'s file, if any, takes `spare`: one atomic
    /// exchange, or a plain rename when there is nothing to exchange with (a new record) or the
    /// filesystem cannot exchange.
    private func exchange(_ directory: Int32, _ spare: String, _ name: String, path: String) throws(SystemCallError) {
        do {
            try call(.rename, path) { alliance_exchange_names(directory, spare, name) }
        } catch {
            guard [ENOENT, EINVAL, ENOSYS, EOPNOTSUPP].contains(error.errno) else { throw error }
            try call(.rename, path) { renameat(directory, spare, directory, name) }
        }
    }

    /// `spare` opened for writing at its start, and its size: the file it names when that is a
    /// regular file of this user's, readable and writable by it, that no other name links to (a
    /// hard-link copy of the data directory, `cp -al` or `rsync --link-dest`, is never written
    /// through), else a new, empty file in its place.
    private func openSpare(directory: Int32, spare: String, path: String) throws(SystemCallError) -> (Int32, Int) {
        if let fd = try? open(directory, spare, O_WRONLY, path: path) {
            var status = stat()
            if fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_nlink == 1,
                status.st_uid == geteuid(), status.st_mode & 0o600 == 0o600
            {
                return (fd, Int(status.st_size))
            }
            close(fd)
        }
        unlinkat(directory, spare, 0)
        return (try open(directory, spare, O_WRONLY | O_CREAT | O_EXCL, mode: 0o640, path: path), 0)
    }

    /// Writes a new file (one that must not exist) without an fsync: for writing many files
    /// and syncing once (an export).
    func writeNewFile(directory: Int32, name: String, bytes: [UInt8], path: String, mode: mode_t = 0o640)
        throws(SystemCallError)
    {
        let fd = try open(directory, name, O_WRONLY | O_CREAT | O_EXCL, mode: mode, path: path)
        defer { close(fd) }
        try writeAll(fd, bytes, path: path)
    }

    /// `.tmp-<name>-<random>`: never ends in `.json`, so no reader takes it for a record.
    static func temporaryName(for name: String) -> String {
        ".tmp-\(name)-\(UInt32.random(in: 0...UInt32.max))"
    }

    static func isTemporary(_ name: String) -> Bool { name.hasPrefix(".tmp-") || name == ".probe" }

    /// `.tmp-spare-<n>`: a temporary file that holds a replaced version of a record for the next
    /// write to reuse (`writeFileExchanging`), not an unfinished write.
    static func spareName(_ number: Int) -> String { ".tmp-spare-\(number)" }

    static func isSpare(_ name: String) -> Bool { name.hasPrefix(".tmp-spare-") }

    /// Removes `name` from `directory`; false when it was not there.
    @discardableResult
    func unlink(_ directory: Int32, _ name: String, path: String) throws(SystemCallError) -> Bool {
        do {
            try call(.unlink, path) { unlinkat(directory, name, 0) }
            return true
        } catch {
            guard error.errno == ENOENT else { throw error }
            return false
        }
    }

    func fsync(_ fd: Int32, path: String) throws(SystemCallError) {
        try call(.fsync, path) { Glibc.fsync(fd) }
    }

    func rename(_ from: Int32, _ name: String, to: Int32, _ newName: String, path: String) throws(SystemCallError) {
        try call(.rename, path) { renameat(from, name, to, newName) }
    }

    /// One name in a directory, as its bytes: a name that is not UTF-8 is still a file to deal
    /// with (set it aside), never a reason to stop.
    struct DirectoryEntry {
        var bytes: [UInt8]
        /// Nil when the name is not valid UTF-8.
        var name: String? { String(strictUTF8: bytes) }
        /// For messages and new names: invalid bytes as `\xNN`.
        var printable: String {
            name
                ?? bytes.map { $0 < 0x80 && $0 >= 0x20 ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }
                .joined()
        }
    }

    /// Names in a directory, without `.` and `..`.
    func directoryEntries(_ fd: Int32, path: String) throws(SystemCallError) -> [DirectoryEntry] {
        let copy = try call(.opendir, path) { dup(fd) }
        guard let stream = fdopendir(copy) else {
            let error = SystemCallError(call: SystemCall.opendir.rawValue, path: path, errno: Glibc.errno)
            close(copy)
            throw error
        }
        faults?.closed(copy)  // closedir closes it
        defer { closedir(stream) }
        rewinddir(stream)
        var entries: [DirectoryEntry] = []
        while let entry = readdir(stream) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
            if bytes != [0x2E] && bytes != [0x2E, 0x2E] { entries.append(DirectoryEntry(bytes: bytes)) }
        }
        return entries
    }

    /// Opens (creating if needed, then making the creation durable in `parent`) a directory
    /// relative to `parent`; a symlink or a file in its place is an error, never followed.
    func openDirectory(parent: Int32, name: String, path: String, create: Bool, mode: mode_t = 0o750)
        throws(SystemCallError) -> (fd: Int32, created: Bool)
    {
        var created = false
        if create {
            do {
                try call(.mkdir, path) { mkdirat(parent, name, mode) }
                created = true
            } catch {
                guard error.errno == EEXIST else { throw error }
            }
        }
        let fd = try open(parent, name, O_RDONLY | O_DIRECTORY, path: path)
        return (fd, created)
    }
}

extension POSIX {
    /// Opens a directory by path (the data directory: the operator names it, so a symlink to it
    /// is theirs to make).
    func openDirectory(path: String) throws(SystemCallError) -> Int32 {
        try call(.open, path) { Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    }

    /// Whether the filesystem holding `fd` is mounted read-only.
    func isOnReadOnlyFilesystem(_ fd: Int32) -> Bool {
        var status = statvfs()
        return fstatvfs(fd, &status) == 0 && status.f_flag & UInt(ST_RDONLY) != 0
    }
}

extension Array where Element == UInt8 {
    /// The bytes as a C string argument, for names that are not UTF-8.
    func withCString<R>(_ body: (UnsafePointer<CChar>) -> R) -> R {
        (self + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
    }
}
