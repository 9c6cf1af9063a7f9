import CFastCGI
import ComputeCore
import Foundation
public import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A FastCGI application server on libfcgi: N threads serve whichever connection is ready.
///
/// What FASTCGI-NOTES measured, applied: no accept mutex, an explicit `FCGX_Finish_r` after
/// each response (else it sits in libfcgi's buffer). Connections nginx keeps (FCGI_KEEP_CONN)
/// wait for their next request in one epoll set shared by every thread, beside the listening
/// socket, never in a thread: libfcgi's own way of keeping one pins a thread to it, which
/// stalled requests behind idle connections (FASTCGI-NOTES §0.3). Every entry is one-shot: one
/// thread takes each ready connection, and each new one. Shutdown never `shutdown()`s the
/// socket: SIGTERM stops new accepts and drains: requests in progress, and kept connections
/// until nginx has closed them. SIGHUP is handed to the caller (a reload) while serving goes on.
///
/// A change (any method but GET, HEAD, OPTIONS) waits for the disk for most of its time. So
/// that `threads` changes waiting on fsync cannot leave reads without a thread while the CPU
/// idles, a thread that takes a change hands its place among the `threads` serving threads to
/// a spare thread, and takes a place again, once its response is sent, before it waits for
/// another request. At most `changesPerThread` × `threads` changes run at once, each on a
/// thread of its own: what a change waits for is a place among those, holding its serving place
/// until then.
public final class FastCGIServer: Sendable {
    public struct Configuration: Sendable {
        public var threads: Int
        /// Bodies larger than this are not read; the handler sees `.exceedsLimit`.
        public var maxBodyBytes: Int
        /// How long SIGTERM waits for requests in progress before exiting anyway.
        public var drainTimeoutSeconds: Double
        /// How long one read or write on a connection may wait: a client of the socket that
        /// sends one byte and stops is dropped after this, instead of holding a thread forever.
        /// nginx sends a whole request at once, from its buffer.
        public var ioTimeoutSeconds: Double
        /// Who may connect over TCP (empty: anyone who reaches the socket). A connection from
        /// elsewhere is closed unread: FastCGI parameters are trusted (REMOTE_ADDR, the status
        /// pages' grant), so only nginx may send them. Unix sockets have no peer address; their
        /// file mode decides.
        public var allowedPeers: [AddressRange]

        public init(
            threads: Int, maxBodyBytes: Int, drainTimeoutSeconds: Double, ioTimeoutSeconds: Double = 10,
            allowedPeers: [AddressRange] = []
        ) {
            self.threads = threads
            self.maxBodyBytes = maxBodyBytes
            self.drainTimeoutSeconds = drainTimeoutSeconds
            self.ioTimeoutSeconds = ioTimeoutSeconds
            self.allowedPeers = allowedPeers
        }
    }

    public typealias Handler = @Sendable (FastCGIRequest) -> FastCGIResponse

    private let listener: ListeningSocket
    /// Changes that may run at once per serving thread. With 4 threads, 8 changes at once (12
    /// threads) against 4 (8 threads), A/B in 6 interleaved rounds on the JSON files, 32
    /// connections: PATCH 0.71x -> 0.83x of the raw writer, POST 0.60x -> 0.68x, p99 31 -> 20 ms
    /// and 42 -> 25 ms; 16 at once did no better than 8 (0.81x, 0.65x). On PostgreSQL (4 rounds)
    /// PATCH +17%, POST +7%. Reads alone are unchanged: they see `threads`.
    static let changesPerThread = 2

    private let configuration: Configuration
    private let logger: Logger
    private let handler: Handler
    /// Threads waiting for, or serving, the next request: `threads` of them.
    private let servingPlaces: DispatchSemaphore
    /// Changes in progress: `changesPerThread` × `threads` of them (a change hands its serving
    /// place on).
    private let changePlaces: DispatchSemaphore
    private let stopping = Atomic(false)
    /// Counted from before `FCGX_Accept_r`, so shutdown cannot race an accepted connection.
    private let inFlight = Atomic(0)
    /// Serving threads not yet finished: `run()` returns only when they are (or a request is
    /// still unfinished after the drain). A process that exits while its threads still run
    /// crashed at times (SIGSEGV after "stopped after SIGTERM", 2 of 4 booted runs under load
    /// once spare threads passed their places on while exiting).
    private let threadsRunning = Atomic(0)
    /// Connections refused by `allowedPeers` (logged at 1, 2, 4, 8, …, so a flood cannot
    /// flood the log).
    private let refusedPeers = Atomic(0)
    private let wakeRead: Int32
    private let wakeWrite: Int32
    /// The epoll set every thread waits in: the listening socket, the wake pipe (level-triggered,
    /// so shutdown wakes every thread) and each kept connection while it is idle.
    private let readiness: Int32
    /// Kept connections waiting in `readiness` for their next request. A thread takes one out
    /// before serving it, so shutdown closes only connections no thread holds.
    private let idleConnections = Locked<Set<Int32>>([])
    /// Idle kept connections beyond this are closed: nginx keeps at most `keepalive` per worker
    /// process, and libfcgi's close `select()`s on the descriptor (below FD_SETSIZE, 1024).
    static let maxIdleConnections = 256
    /// How long SIGTERM waits for nginx to close the connections it keeps: well over the upstream
    /// `keepalive_timeout` in nginx.conf, and the time 100 requests take on one.
    static let idleConnectionGraceSeconds = 2.0
    /// A socket that is not listening, given to libfcgi as its "listening socket": this server
    /// accepts connections itself (to set their timeouts first), so libfcgi must never accept
    /// one without them. Its accept() fails at once (EINVAL).
    private let noAcceptFD: Int32

    public init(listener: ListeningSocket, configuration: Configuration, logger: Logger, handler: @escaping Handler)
        throws(ListenError)
    {
        self.listener = listener
        self.configuration = configuration
        self.logger = logger
        self.handler = handler
        servingPlaces = DispatchSemaphore(value: configuration.threads)
        changePlaces = DispatchSemaphore(value: Self.changesPerThread * configuration.threads)
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw .system("pipe", "for shutdown") }
        wakeRead = pipeFDs[0]
        wakeWrite = pipeFDs[1]
        _ = fcntl(wakeRead, F_SETFD, FD_CLOEXEC)
        _ = fcntl(wakeWrite, F_SETFD, FD_CLOEXEC)
        noAcceptFD = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard noAcceptFD >= 0 else { throw .system("socket", "for libfcgi") }
        readiness = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard readiness >= 0 else { throw .system("epoll_create1", "for connections") }
    }

    /// Blocks SIGTERM, SIGINT and SIGHUP in this thread and in every thread started after it,
    /// so that only `run()`'s `sigwait` receives them. Call before anything starts a thread.
    public static func blockControlSignals() {
        // An ignored signal is discarded rather than left pending for sigwait, and a shell
        // starts background jobs with SIGINT ignored (nohup: SIGHUP): restore the defaults first.
        for number in [SIGTERM, SIGINT, SIGHUP] { signal(number, SIG_DFL) }
        var signals = controlSignals
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    private static var controlSignals: sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        for number in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&signals, number) }
        return signals
    }

    /// Serves until SIGTERM or SIGINT, then drains and returns the signal's name. Each SIGHUP
    /// runs `reload` on this thread while the others go on serving; so does `housekeeping`,
    /// first at once and then again after the seconds it returns, between signals (no thread of
    /// its own, so none outlives the server). `blockControlSignals()` must have been called first.
    public func run(reload: () -> Void = {}, housekeeping: () -> Double = { 3600 }) throws(ListenError) -> String {
        guard FCGX_Init() == 0 else { throw ListenError("FCGX_Init failed") }
        // libfcgi turns SIGUSR1 into "shutdown pending", after which every accept fails.
        signal(SIGUSR1, SIG_IGN)
        let flags = fcntl(listener.fd, F_GETFL)
        guard flags >= 0, fcntl(listener.fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw .system("fcntl O_NONBLOCK", listener.description)
        }
        var listenEvent = epoll_event(events: Self.oneShotReadable, data: epoll_data(fd: listener.fd))
        var wakeEvent = epoll_event(events: EPOLLIN.rawValue, data: epoll_data(fd: wakeRead))
        guard epoll_ctl(readiness, EPOLL_CTL_ADD, listener.fd, &listenEvent) == 0,
            epoll_ctl(readiness, EPOLL_CTL_ADD, wakeRead, &wakeEvent) == 0
        else { throw .system("epoll_ctl", listener.description) }
        // A thread for each serving place and one for each change place: a change in progress
        // has handed its serving place to another thread.
        let threadCount = (1 + Self.changesPerThread) * configuration.threads
        threadsRunning.store(threadCount, ordering: .sequentiallyConsistent)
        for index in 0..<threadCount {
            let thread = Thread { [self] in serveLoop(index) }
            thread.name = "fcgi-\(index)"
            thread.stackSize = 4 << 20
            thread.start()
        }
        logger.info(
            "serving FastCGI on \(listener.description) with \(configuration.threads) threads, and \(Self.changesPerThread * configuration.threads) more for changes waiting on the disk or the database"
        )

        var signals = Self.controlSignals
        var received: Int32 = 0
        var nextHousekeeping = Date().addingTimeInterval(housekeeping())
        while true {
            let wait = max(0, nextHousekeeping.timeIntervalSinceNow)
            var timeout = timespec(tv_sec: Int(wait), tv_nsec: Int((wait - wait.rounded(.down)) * 1e9))
            received = sigtimedwait(&signals, nil, &timeout)
            if received < 0 {
                if errno == EAGAIN { nextHousekeeping = Date().addingTimeInterval(housekeeping()) }
                continue
            }
            guard received == SIGHUP else { break }
            reload()
        }
        let name = received == SIGTERM ? "SIGTERM" : "SIGINT"
        if listener.stopsListeningAtShutdown {
            // A TCP port of our own: new connection attempts are dropped (and refused once the
            // port is closed: nginx sends them, unsent, to another host); connections already
            // made are taken until none has arrived for 20 ms (a handshake under way finishes
            // within a round trip), then the port is closed. Queued ones reset at exit would be
            // POSTs nginx may not send again. Without the filter, the queue never empties
            // while nginx keeps connecting, and the deadline resets what is queued then.
            if !listener.dropNewConnectionAttempts() {
                logger.warning(
                    "\(name): could not stop new connections before closing \(listener.description): \(String(cString: strerror(errno)))"
                )
            }
            let deadline = Date().addingTimeInterval(configuration.drainTimeoutSeconds)
            var quietSince = Date()
            while Date() < deadline, Date().timeIntervalSince(quietSince) < 0.02 {
                if listener.queuedConnections > 0 { quietSince = Date() }
                usleep(1_000)
            }
            stopping.store(true, ordering: .sequentiallyConsistent)
            _ = shutdown(listener.fd, Int32(SHUT_RD))
            logger.info("\(name): \(listener.description) closed; draining requests in progress")
        } else {
            logger.info("\(name): no longer accepting; draining requests in progress")
        }

        stopping.store(true, ordering: .sequentiallyConsistent)
        // Kept connections go on being served until nginx closes them: after `keepalive_requests`
        // or once idle for `keepalive_timeout` (nginx.conf: 100, 500 ms). Closing one here while
        // nginx may be sending a request on it would fail that request (a POST is not sent
        // again), so one still open after the grace below is closed only then.
        let deadline = Date().addingTimeInterval(configuration.drainTimeoutSeconds)
        let idleDeadline = Date().addingTimeInterval(Self.idleConnectionGraceSeconds)
        while Date() < deadline {
            let idle = idleConnections.withLock { !$0.isEmpty }
            if inFlight.load(ordering: .sequentiallyConsistent) == 0, !idle || Date() >= idleDeadline { break }
            usleep(2_000)
        }
        _ = [UInt8(1)].withUnsafeBytes { write(wakeWrite, $0.baseAddress, 1) }
        idleConnections.withLock { idle in
            for connection in idle { close(connection) }
            idle.removeAll()
        }
        let unfinished = inFlight.load(ordering: .sequentiallyConsistent)
        if unfinished > 0 {
            logger.warning("exiting with \(unfinished) requests unfinished after \(configuration.drainTimeoutSeconds) s")
        } else {
            // Every thread sees the wake (a thread waiting for a serving place gets one from a
            // thread leaving): milliseconds. Bounded all the same: never a reason not to exit.
            let threadsDeadline = Date().addingTimeInterval(2)
            while threadsRunning.load(ordering: .sequentiallyConsistent) > 0, Date() < threadsDeadline { usleep(1_000) }
        }
        listener.removeCreatedFile()
        return name
    }

    private static let oneShotReadable = EPOLLIN.rawValue | EPOLLONESHOT.rawValue
    private static let peerClosed = EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue

    private func serveLoop(_ index: Int) {
        defer { threadsRunning.subtract(1, ordering: .sequentiallyConsistent) }  // after the defers below
        // libfcgi keeps pointers into the request across calls: it needs a stable address.
        let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        defer { request.deallocate() }
        FCGX_InitRequest(request, noAcceptFD, 0)
        var event = epoll_event()
        // Whether this thread holds a serving place. A change gives its place away; the thread
        // waits for one here before it waits for another request, counted in no `inFlight`
        // (so shutdown never waits for it). Leaving, it hands its place to a thread still
        // waiting for one, which then sees the wake too.
        var serving = false
        defer { if serving { servingPlaces.signal() } }
        while true {
            if !serving {
                servingPlaces.wait()
                serving = true
            }
            let ready = epoll_wait(readiness, &event, 1, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                logger.critical("epoll_wait failed in thread \(index): \(String(cString: strerror(errno)))")
                return
            }
            guard ready == 1 else { continue }
            let fd = event.data.fd
            if fd == wakeRead { return }  // shutting down; the byte stays for the other threads
            inFlight.add(1, ordering: .sequentiallyConsistent)
            defer { inFlight.subtract(1, ordering: .sequentiallyConsistent) }
            let connection: Int32
            let kept = fd != listener.fd
            if kept {
                // Closed by shutdown after epoll reported it, or closed by nginx while idle.
                guard idleConnections.withLock({ $0.remove(fd) != nil }) else { continue }
                if event.events & Self.peerClosed != 0 && !hasBytesToRead(fd) {
                    close(fd)
                    continue
                }
                connection = fd
            } else {
                // Shutting down: the listening socket stays disarmed; kept connections are still served.
                if stopping.load(ordering: .sequentiallyConsistent) { continue }
                if event.events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
                    logger.error("listening socket \(listener.description) reports an error (events \(event.events))")
                    usleep(100_000)
                }
                let accepted = acceptConnection(index)
                var rearm = epoll_event(events: Self.oneShotReadable, data: epoll_data(fd: listener.fd))
                _ = epoll_ctl(readiness, EPOLL_CTL_MOD, listener.fd, &rearm)
                guard let accepted else { continue }
                connection = accepted
            }
            // libfcgi reads the request from a connection it is given as if it were one it had
            // kept open (FCGX_Accept_r with ipcFd set and keepConnection, so the finish it runs
            // first leaves the descriptor alone). The request's own flags replace keepConnection.
            request.pointee.ipcFd = connection
            request.pointee.keepConnection = 1
            request.pointee.detached = 0  // from a request before, on a connection kept since
            if FCGX_Accept_r(request) < 0 {
                // The connection broke or stalled before its parameters were read: libfcgi has
                // closed it, and its own accept on `noAcceptFD` failed, as it must.
                logger.warning(
                    "dropped a FastCGI connection that closed, or stalled for \(configuration.ioTimeoutSeconds) s, before its request was complete"
                )
                continue
            }
            if respond(to: request) { serving = false }
            FCGX_Finish_r(request)
            // Still open: nginx asked to keep it (FCGI_KEEP_CONN) and nothing failed.
            let open = request.pointee.ipcFd
            if open >= 0 {
                request.pointee.ipcFd = -1
                keepIdle(open, registered: kept)
            }
        }
    }

    /// Methods that change nothing (RFC 9110's safe methods, but TRACE, which nginx refuses).
    private static let safeMethods: Set<String> = ["GET", "HEAD", "OPTIONS"]

    /// Puts a kept connection back in the epoll set until its next request (closes it when too
    /// many are idle). `registered`: it came from the set, where it stays (one-shot, disarmed).
    private func keepIdle(_ connection: Int32, registered: Bool) {
        let kept = idleConnections.withLock { idle -> Bool in
            guard idle.count < Self.maxIdleConnections else { return false }
            var event = epoll_event(
                events: Self.oneShotReadable | EPOLLRDHUP.rawValue, data: epoll_data(fd: connection))
            guard epoll_ctl(readiness, registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, connection, &event) == 0 else {
                return false
            }
            idle.insert(connection)
            return true
        }
        if !kept { close(connection) }
    }

    /// Whether a connection whose peer hung up still has a request to read (a hang-up after
    /// sending one); nginx closes idle kept connections without sending anything.
    private func hasBytesToRead(_ connection: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(connection, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) > 0
    }

    /// The next connection on the listening socket, with its read and write timeouts set;
    /// nil when another thread took it (EAGAIN) or it was gone already.
    private func acceptConnection(_ index: Int) -> Int32? {
        var peer = sockaddr_storage()
        var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = withUnsafeMutablePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener.fd, $0, &peerLength) }
        }
        guard fd >= 0 else {
            if ![EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED, EPROTO].contains(errno) {
                logger.error("accept failed in thread \(index): \(String(cString: strerror(errno)))")
                usleep(10_000)
            }
            return nil
        }
        if !configuration.allowedPeers.isEmpty, let (bytes, text) = peerAddress(peer),
            !configuration.allowedPeers.contains(where: { $0.contains(bytes) })
        {
            close(fd)
            let refused = refusedPeers.add(1, ordering: .relaxed).newValue
            if refused & (refused - 1) == 0 {
                logger.warning(
                    "refused a FastCGI connection from \(text): not in --allow-from (\(refused) refused so far)")
            }
            return nil
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let seconds = configuration.ioTimeoutSeconds
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        let size = socklen_t(MemoryLayout<timeval>.size)
        guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, size) == 0,
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, size) == 0
        else {
            logger.error("cannot set timeouts on a FastCGI connection: \(String(cString: strerror(errno)))")
            close(fd)
            return nil
        }
        return fd
    }

    /// Serves one request; true when it was a change, which gave its serving place away (the
    /// caller takes one again after finishing the response).
    private func respond(to request: UnsafeMutablePointer<FCGX_Request>) -> Bool {
        let params = Self.params(request.pointee.envp)
        let body = Self.readBody(
            request.pointee.in, declaredLength: params["CONTENT_LENGTH"], limit: configuration.maxBodyBytes)
        guard FCGX_GetError(request.pointee.in) == 0 else {
            // The body stopped coming (the read timed out) or broke: there is no request to
            // answer, and no one waiting for an answer. Finish closes the connection.
            logger.warning(
                "dropped \(params["REQUEST_METHOD"] ?? "-") \((params["REQUEST_URI"] ?? "-").prefix(128)): its body did not arrive within \(configuration.ioTimeoutSeconds) s",
                metadata: ["request_id": "\(params["REQUEST_ID"] ?? "-")"])
            return false
        }
        if case .complete = body, FCGX_HasSeenEOF(request.pointee.in) == EOF {
            // Everything nginx sent is read, so a plain close() cannot reset the connection:
            // skip libfcgi's shutdown-then-wait-for-EOF (up to 2 s) at Finish, which holds the
            // thread for a round trip to nginx. A body left unread keeps that careful close.
            FCGX_Detach(request)
        } else {
            // Never kept with a body left unread: its records would be read as the next request.
            request.pointee.keepConnection = 0
        }
        let changes = !Self.safeMethods.contains(params["REQUEST_METHOD"] ?? "GET")
        if changes {
            changePlaces.wait()
            servingPlaces.signal()
        }
        let response = handler(FastCGIRequest(params: params, body: body))
        if changes { changePlaces.signal() }
        let out = request.pointee.out
        let header = response.headerBlock
        // A failed write means nginx gave up on the request (client gone, timeout): nothing to do.
        header.withUnsafeBytes { _ = FCGX_PutStr($0.baseAddress!.assumingMemoryBound(to: CChar.self), Int32($0.count), out) }
        if !response.body.isEmpty {
            response.body.withUnsafeBytes {
                _ = FCGX_PutStr($0.baseAddress!.assumingMemoryBound(to: CChar.self), Int32($0.count), out)
            }
        }
        return changes
    }
}
