import FastCGI
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What a worker's own TCP port does at shutdown: new connection attempts wait unanswered
/// while the ones already made stay queued for accept, and once the port is closed a new
/// one is refused (nginx then sends its request to another host).
@Suite struct ListeningSocketTests {
    @Test func aPortThatStopsAdmittingKeepsItsQueuedConnections() throws {
        let (listener, port) = try Self.loopbackListener()
        defer { close(listener.fd) }
        let made = try Self.connect(port: port)
        defer { close(made) }
        #expect(Self.writable(made, milliseconds: 1_000), "the first connection is made")
        #expect(listener.queuedConnections == 1)

        #expect(listener.dropNewConnectionAttempts())
        let waiting = try Self.connect(port: port)
        defer { close(waiting) }
        #expect(!Self.writable(waiting, milliseconds: 300), "a new attempt is left unanswered")

        let accepted = accept(listener.fd, nil, nil)
        #expect(accepted >= 0, "the connection made before is still there to accept")
        if accepted >= 0 { close(accepted) }
        #expect(listener.queuedConnections == 0, "the unanswered attempt never joined the queue")

        #expect(shutdown(listener.fd, Int32(SHUT_RD)) == 0)
        let refused = try Self.connect(port: port)
        defer { close(refused) }
        #expect(Self.writable(refused, milliseconds: 1_000))
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        #expect(getsockopt(refused, SOL_SOCKET, SO_ERROR, &error, &length) == 0)
        #expect(error == ECONNREFUSED, "once closed, the port refuses: \(String(cString: strerror(error)))")
    }

    /// A listener on a free loopback port (tried at random: `tcp` takes no port 0).
    private static func loopbackListener() throws -> (ListeningSocket, Int) {
        var lastError: ListenError?
        for _ in 0..<20 {
            let port = Int.random(in: 20_000..<60_000)
            do throws(ListenError) {
                return (try ListeningSocket.tcp(host: "127.0.0.1", port: port), port)
            } catch {
                lastError = error
            }
        }
        throw try #require(lastError)
    }

    /// A non-blocking connect to 127.0.0.1:`port`, under way or made.
    private static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        let started = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(started == 0 || errno == EINPROGRESS)
        return fd
    }

    /// Whether the connect on `fd` finished (made or refused) within `milliseconds`.
    private static func writable(_ fd: Int32, milliseconds: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        return poll(&entry, 1, milliseconds) == 1
    }
}
