import CFastCGI

#if canImport(Glibc)
    import Glibc
#endif

/// Why a listening socket could not be set up.
public struct ListenError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }

    static func system(_ call: String, _ subject: String) -> ListenError {
        ListenError("\(call) \(subject): \(String(cString: strerror(errno)))")
    }
}

/// The socket nginx connects to: one we create on a path or a TCP port, or one inherited from
/// whoever started us (spawn-fcgi puts it on fd 0, systemd on fd 3 with `LISTEN_FDS`).
public struct ListeningSocket: Sendable {
    public let fd: Int32
    /// For logs: `unix:/run/alliance-compute/fcgi.sock`, `fd 0`, `systemd fd 3`.
    public let description: String
    /// Set when we created the socket file, so we remove it on exit (only if it is still ours).
    private let createdFile: (path: String, device: UInt64, inode: UInt64)?
    /// A TCP port this process opened (no one else holds it): at shutdown it stops admitting new
    /// connections, takes the queued ones, then closes, so new ones are refused rather than reset. An
    /// inherited socket is never closed: systemd's copy of it must keep working.
    public let stopsListeningAtShutdown: Bool

    private init(
        fd: Int32, description: String, createdFile: (path: String, device: UInt64, inode: UInt64)?,
        stopsListeningAtShutdown: Bool = false
    ) {
        self.fd = fd
        self.description = description
        self.createdFile = createdFile
        self.stopsListeningAtShutdown = stopsListeningAtShutdown
    }

    /// Connections the kernel has completed that no one has accepted yet (TCP only; 0 otherwise).
    public var queuedConnections: Int {
        var info = tcp_info()
        var length = socklen_t(MemoryLayout<tcp_info>.size)
        // For a listening socket, tcpi_unacked is its accept queue's length (what ss shows as Recv-Q).
        guard getsockopt(fd, Int32(IPPROTO_TCP), TCP_INFO, &info, &length) == 0 else { return 0 }
        return Int(info.tcpi_unacked)
    }

    /// Makes the kernel drop new connection attempts (a TCP SYN without ACK) on this port, while
    /// connections it has already completed stay queued and handshakes under way still finish.
    /// A client's dropped SYN is sent again after a second, by when the port is closed and
    /// refuses it: nginx then sends that request, never sent to us, to another host. Closing
    /// the port with connections still arriving would reset ones nginx has already written a
    /// request to, and a POST nginx may not send twice. False if the kernel refused the filter.
    public func dropNewConnectionAttempts() -> Bool {
        // Classic BPF over the TCP header: load the flags byte (offset 13); SYN alone -> drop
        // (keep 0 bytes), anything else -> keep the whole packet.
        let flagsOffset: UInt32 = 13
        let syn: UInt32 = 0x02
        let synOrAck: UInt32 = 0x12
        var program: [sock_filter] = [
            sock_filter(code: UInt16(BPF_LD | BPF_B | BPF_ABS), jt: 0, jf: 0, k: flagsOffset),
            sock_filter(code: UInt16(BPF_ALU | BPF_AND | BPF_K), jt: 0, jf: 0, k: synOrAck),
            sock_filter(code: UInt16(BPF_JMP | BPF_JEQ | BPF_K), jt: 0, jf: 1, k: syn),
            sock_filter(code: UInt16(BPF_RET | BPF_K), jt: 0, jf: 0, k: 0),
            sock_filter(code: UInt16(BPF_RET | BPF_K), jt: 0, jf: 0, k: UInt32.max),
        ]
        return program.withUnsafeMutableBufferPointer { instructions in
            var filter = sock_fprog(len: UInt16(instructions.count), filter: instructions.baseAddress)
            return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &filter, socklen_t(MemoryLayout<sock_fprog>.size)) == 0
        }
    }

    /// Creates a unix socket at `path`, mode 0660 (group `group` if given), never
    /// world-writable. A stale socket file is replaced; a live one (something accepts
    /// connections on it) is an error rather than silently stolen.
    public static func unix(path: String, group: String? = nil, backlog: Int32 = 1024) throws(ListenError) -> ListeningSocket {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else {
            throw ListenError("socket path \(path) is longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }

        var status = stat()
        if lstat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFSOCK else {
                throw ListenError("\(path) exists and is not a socket; refusing to replace it")
            }
            if isAcceptingConnections(&address) {
                throw ListenError("another process is listening on \(path)")
            }
            unlink(path)
        }

        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", path) }
        // The socket file's mode comes from the umask: 0660, adjusted below for the group.
        let previousMask = umask(0o117)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(previousMask)
        guard bound == 0 else {
            let error = ListenError.system("bind", path)
            close(fd)
            throw error
        }
        if let group {
            guard let entry = getgrnam(group) else {
                close(fd)
                unlink(path)
                throw ListenError("unknown group \(group) for \(path)")
            }
            if chown(path, UInt32.max, entry.pointee.gr_gid) != 0 {
                let error = ListenError.system("chown", path)
                close(fd)
                unlink(path)
                throw error
            }
        }
        guard listen(fd, backlog) == 0, lstat(path, &status) == 0 else {
            let error = ListenError.system("listen", path)
            close(fd)
            unlink(path)
            throw error
        }
        return ListeningSocket(
            fd: fd, description: "unix:\(path)",
            createdFile: (path, UInt64(status.st_dev), UInt64(status.st_ino)))
    }

    /// A TCP socket on `host` (a numeric IPv4 or IPv6 address; `0.0.0.0` or `::` for every
    /// one) and `port`, for nginx on other hosts. Whoever may connect is the server's
    /// `allowedPeers`' business.
    public static func tcp(host: String, port: Int, backlog: Int32 = 1024) throws(ListenError) -> ListeningSocket {
        let name = host.contains(":") ? "tcp:[\(host)]:\(port)" : "tcp:\(host):\(port)"
        guard let bytes = AddressRange.bytes(of: host) else { throw ListenError("\(host) is not a numeric IP address") }
        guard (1...65535).contains(port) else { throw ListenError("port \(port) is not from 1 to 65535") }
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", name) }
        var on: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var storage = sockaddr_storage()
        let length: Int
        if family == AF_INET {
            var address = sockaddr_in()
            (address.sin_family, address.sin_port) = (sa_family_t(AF_INET), in_port_t(UInt16(port).bigEndian))
            withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyBytes(from: bytes) }
            length = copy(address, into: &storage)
        } else {
            var address = sockaddr_in6()
            (address.sin6_family, address.sin6_port) = (sa_family_t(AF_INET6), in_port_t(UInt16(port).bigEndian))
            withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: bytes) }
            length = copy(address, into: &storage)
        }
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard bound == 0, listen(fd, backlog) == 0 else {
            let error = ListenError.system(bound == 0 ? "listen" : "bind", name)
            close(fd)
            throw error
        }
        return ListeningSocket(fd: fd, description: name, createdFile: nil, stopsListeningAtShutdown: true)
    }

    /// Copies a `sockaddr_in` or `sockaddr_in6` into `storage`; returns its length.
    private static func copy<Address>(_ address: Address, into storage: inout sockaddr_storage) -> Int {
        withUnsafeMutableBytes(of: &storage) { raw in withUnsafeBytes(of: address) { raw.copyBytes(from: $0) } }
        return MemoryLayout<Address>.size
    }

    /// Whether other hosts can reach this socket: a TCP socket bound to an address that is not
    /// loopback (127.0.0.0/8, ::1). Unix sockets, and loopback ones, are this host's alone.
    public var isOpenToNetwork: Bool {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0, let (bytes, _) = peerAddress(storage) else { return false }
        let loopback = [AddressRange("127.0.0.0/8"), AddressRange("::1")].compactMap { $0 }
        return !loopback.contains { $0.contains(bytes) }
    }

    /// The socket on fd 0 (`FCGI_LISTENSOCK_FILENO`), as spawn-fcgi and systemd's
    /// `StandardInput=socket` provide it.
    public static func standardInput() throws(ListenError) -> ListeningSocket {
        guard isListening(0) else {
            throw ListenError("fd 0 is not a listening socket (start under spawn-fcgi, or systemd with StandardInput=socket)")
        }
        return ListeningSocket(fd: 0, description: "fd 0", createdFile: nil)
    }

    /// The first socket systemd passed (`LISTEN_PID`/`LISTEN_FDS`, fd 3), without libsystemd.
    /// The variables are removed so child processes don't take the socket for theirs.
    public static func systemd() throws(ListenError) -> ListeningSocket {
        guard let pid = getenv("LISTEN_PID").map({ String(cString: $0) }),
            let fds = getenv("LISTEN_FDS").map({ String(cString: $0) })
        else { throw ListenError("LISTEN_PID/LISTEN_FDS are not set: not started by systemd socket activation") }
        guard Int32(pid) == getpid() else { throw ListenError("LISTEN_PID \(pid) is not this process (\(getpid()))") }
        guard let count = Int(fds), count >= 1 else { throw ListenError("LISTEN_FDS=\(fds) passes no socket") }
        unsetenv("LISTEN_PID")
        unsetenv("LISTEN_FDS")
        unsetenv("LISTEN_FDNAMES")
        let fd: Int32 = 3  // SD_LISTEN_FDS_START
        guard isListening(fd) else { throw ListenError("fd 3 from systemd is not a listening socket") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return ListeningSocket(fd: fd, description: "systemd fd 3", createdFile: nil)
    }

    /// systemd's socket if `LISTEN_FDS` is set, else fd 0 if it is a listening socket.
    public static func automatic() throws(ListenError) -> ListeningSocket {
        if getenv("LISTEN_FDS") != nil { return try systemd() }
        if isListening(0) { return try standardInput() }
        throw ListenError("no listening socket: neither LISTEN_FDS (systemd) nor fd 0 (spawn-fcgi) provides one")
    }

    /// Removes the socket file if we created it and it is still the same file (a newer
    /// instance may already have replaced it). Inherited sockets are left alone, and the
    /// socket is never `shutdown()`: systemd's copy of it must keep working.
    public func removeCreatedFile() {
        guard let createdFile else { return }
        var status = stat()
        if lstat(createdFile.path, &status) == 0, UInt64(status.st_dev) == createdFile.device,
            UInt64(status.st_ino) == createdFile.inode
        {
            unlink(createdFile.path)
        }
    }

    private static func isListening(_ fd: Int32) -> Bool {
        var accepting: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0 && accepting == 1
    }

    private static func isAcceptingConnections(_ address: inout sockaddr_un) -> Bool {
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { return false }
        defer { close(probe) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        } == 0
    }
}
