#if canImport(Glibc)
    import Glibc
#endif

/// A failed system call: which call, on what, and errno.
public struct SystemCallError: Error, Sendable, CustomStringConvertible {
    public var call: String
    public var path: String
    public var errno: Int32

    public var description: String {
        "\(call) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// The one place where `-1` and errno become thrown errors; EINTR is retried.
enum POSIX {
    @discardableResult
    static func call(_ name: String, _ path: String, _ body: () -> Int32) throws(SystemCallError) -> Int32 {
        while true {
            let result = body()
            if result != -1 { return result }
            let error = Glibc.errno
            if error != EINTR { throw SystemCallError(call: name, path: path, errno: error) }
        }
    }

    /// Writes all of `bytes` to `fd`.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(SystemCallError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if Glibc.errno == EINTR { continue }
                throw SystemCallError(call: "write", path: path, errno: Glibc.errno)
            }
            offset += written
        }
    }

    /// Reads a whole file relative to a directory descriptor.
    static func readFile(directory: Int32, name: String, path: String) throws(SystemCallError) -> [UInt8] {
        let fd = try call("open", path) { openat(directory, name, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count < 0 {
                if Glibc.errno == EINTR { continue }
                throw SystemCallError(call: "read", path: path, errno: Glibc.errno)
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
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

        /// Reads a whole file relative to a directory descriptor, replacing the contents.
        func read(directory: Int32, name: String, path: String) throws(SystemCallError) {
            let fd = try POSIX.call("open", path) { openat(directory, name, O_RDONLY | O_CLOEXEC) }
            defer { close(fd) }
            count = 0
            while true {
                if count == capacity {
                    let bigger = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 16)
                    bigger.copyMemory(from: base, byteCount: count)
                    base.deallocate()
                    base = bigger
                    capacity *= 2
                }
                let got = Glibc.read(fd, base + count, capacity - count)
                if got < 0 {
                    if Glibc.errno == EINTR { continue }
                    throw SystemCallError(call: "read", path: path, errno: Glibc.errno)
                }
                if got == 0 { return }
                count += got
            }
        }
    }

    /// Writes a file durably: a temporary file in the same directory, fsync, rename over the
    /// final name, fsync the directory. A crash leaves the old file or the new one, never a mix.
    /// `owner` (uid, gid), when given, owns the file (the CLI, run as root, writes files the
    /// worker's user must read).
    static func writeFileDurably(
        directory: Int32, name: String, bytes: [UInt8], path: String, syncDirectory: Bool = true,
        mode: mode_t = 0o640, owner: (uid_t, gid_t)? = nil
    ) throws(SystemCallError) {
        let temporary = ".tmp-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        let fd = try call("open", path) { openat(directory, temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode) }
        do {
            if let (uid, gid) = owner { try call("fchown", path) { fchown(fd, uid, gid) } }
            try writeAll(fd, bytes, path: path)
            try call("fsync", path) { fsync(fd) }
            close(fd)
            try call("rename", path) { renameat(directory, temporary, directory, name) }
        } catch {
            close(fd)
            unlinkat(directory, temporary, 0)
            throw error
        }
        if syncDirectory { try call("fsync", path) { fsync(directory) } }
    }

    /// Names in a directory, without `.` and `..`.
    static func directoryEntries(_ fd: Int32, path: String) throws(SystemCallError) -> [String] {
        let copy = try call("dup", path) { dup(fd) }
        guard let stream = fdopendir(copy) else {
            close(copy)
            throw SystemCallError(call: "opendir", path: path, errno: Glibc.errno)
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Opens (creating if needed) a directory relative to `parent`.
    static func openDirectory(parent: Int32, name: String, path: String, create: Bool) throws(SystemCallError) -> (
        fd: Int32, created: Bool
    ) {
        var created = false
        if create {
            if mkdirat(parent, name, 0o750) == 0 {
                created = true
            } else if Glibc.errno != EEXIST {
                throw SystemCallError(call: "mkdir", path: path, errno: Glibc.errno)
            }
        }
        let fd = try call("open", path) { openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        return (fd, created)
    }
}
