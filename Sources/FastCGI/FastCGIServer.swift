import CFastCGI
import Foundation
public import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One request as libfcgi delivered it: the CGI parameters nginx sent and the body.
public struct FastCGIRequest: Sendable {
    public var params: [String: String]
    public var body: Body

    public enum Body: Sendable, Equatable {
        case complete([UInt8])
        /// Larger than the configured limit: not read.
        case exceedsLimit
    }

    public init(params: [String: String], body: Body) {
        self.params = params
        self.body = body
    }
}

/// What goes back: written as CGI (`Status: 404 Not Found`, headers, blank line, body).
public struct FastCGIResponse: Sendable {
    public var status: Int
    public var reason: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, reason: String, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
    }

    /// The CGI header block. `Content-Length` is the body's length unless a header gives it
    /// (HEAD); CR and LF are left out of names and values so nothing can inject a header.
    public var headerBlock: [UInt8] {
        var block: [UInt8] = []
        block.reserveCapacity(64 + headers.count * 48)
        block.append(contentsOf: "Status: ".utf8)
        Self.appendDecimal(status, to: &block)
        block.append(UInt8(ascii: " "))
        Self.appendClean(reason, to: &block)
        block.append(contentsOf: Self.crlf)
        var hasLength = false
        for (name, value) in headers {
            hasLength = hasLength || name.utf8.elementsEqual("content-length".utf8) { Self.lowercase($0) == $1 }
            Self.appendClean(name, to: &block)
            block.append(contentsOf: ": ".utf8)
            Self.appendClean(value, to: &block)
            block.append(contentsOf: Self.crlf)
        }
        if !hasLength {
            block.append(contentsOf: "Content-Length: ".utf8)
            Self.appendDecimal(body.count, to: &block)
            block.append(contentsOf: Self.crlf)
        }
        block.append(contentsOf: Self.crlf)
        return block
    }

    private static let crlf: [UInt8] = [0x0D, 0x0A]

    private static func lowercase(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }

    private static func appendClean(_ text: String, to block: inout [UInt8]) {
        for byte in text.utf8 where byte != 0x0D && byte != 0x0A { block.append(byte) }
    }

    private static func appendDecimal(_ value: Int, to block: inout [UInt8]) {
        block.append(contentsOf: String(value).utf8)
    }
}

/// A FastCGI application server on libfcgi: N threads accept on one shared listening socket.
///
/// What FASTCGI-NOTES measured, applied: no accept mutex (Linux accept() is safe to share),
/// an explicit `FCGX_Finish_r` after each response (else it sits in libfcgi's buffer), no
/// kept connections. Shutdown never `shutdown()`s the socket: threads wait in epoll on the
/// socket and a wake pipe, the listening socket is non-blocking so a thread that loses the
/// race to `accept()` just waits again, and SIGTERM stops new accepts and drains in-flight
/// requests. SIGHUP is handed to the caller (a reload) while serving goes on.
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
    private let configuration: Configuration
    private let logger: Logger
    private let handler: Handler
    private let stopping = Atomic(false)
    /// Counted from before `FCGX_Accept_r`, so shutdown cannot race an accepted connection.
    private let inFlight = Atomic(0)
    /// Connections refused by `allowedPeers` (logged at 1, 2, 4, 8, …, so a flood cannot
    /// flood the log).
    private let refusedPeers = Atomic(0)
    private let wakeRead: Int32
    private let wakeWrite: Int32
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
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw .system("pipe", "for shutdown") }
        wakeRead = pipeFDs[0]
        wakeWrite = pipeFDs[1]
        _ = fcntl(wakeRead, F_SETFD, FD_CLOEXEC)
        _ = fcntl(wakeWrite, F_SETFD, FD_CLOEXEC)
        noAcceptFD = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard noAcceptFD >= 0 else { throw .system("socket", "for libfcgi") }
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
        for index in 0..<configuration.threads {
            let thread = Thread { [self] in acceptLoop(index) }
            thread.name = "fcgi-\(index)"
            thread.stackSize = 4 << 20
            thread.start()
        }
        logger.info("serving FastCGI on \(listener.description) with \(configuration.threads) threads")

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
        _ = [UInt8(1)].withUnsafeBytes { write(wakeWrite, $0.baseAddress, 1) }
        let deadline = Date().addingTimeInterval(configuration.drainTimeoutSeconds)
        while inFlight.load(ordering: .sequentiallyConsistent) > 0, Date() < deadline {
            usleep(2_000)
        }
        let unfinished = inFlight.load(ordering: .sequentiallyConsistent)
        if unfinished > 0 {
            logger.warning("exiting with \(unfinished) requests unfinished after \(configuration.drainTimeoutSeconds) s")
        }
        listener.removeCreatedFile()
        return name
    }

    private func acceptLoop(_ index: Int) {
        // libfcgi keeps pointers into the request across calls: it needs a stable address.
        let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        defer { request.deallocate() }
        FCGX_InitRequest(request, noAcceptFD, 0)
        // Each thread waits in its own epoll set: the listening socket with EPOLLEXCLUSIVE, so
        // a connection wakes one waiting thread rather than all of them, and the wake pipe
        // (shared, level-triggered), so shutdown wakes every thread.
        let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else {
            logger.critical("epoll_create1 failed in thread \(index): \(String(cString: strerror(errno)))")
            return
        }
        defer { close(epoll) }
        var listenEvent = epoll_event(events: EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue, data: epoll_data(fd: listener.fd))
        var wakeEvent = epoll_event(events: EPOLLIN.rawValue, data: epoll_data(fd: wakeRead))
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, listener.fd, &listenEvent) == 0,
            epoll_ctl(epoll, EPOLL_CTL_ADD, wakeRead, &wakeEvent) == 0
        else {
            logger.critical("epoll_ctl failed in thread \(index): \(String(cString: strerror(errno)))")
            return
        }
        var events = [epoll_event](repeating: epoll_event(), count: 2)
        while true {
            let ready = epoll_wait(epoll, &events, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                logger.critical("epoll_wait failed in thread \(index): \(String(cString: strerror(errno)))")
                return
            }
            // Shutting down (a socket of our own is closed by now, and reports a hang-up).
            if stopping.load(ordering: .sequentiallyConsistent) { return }
            var listenerReady = false
            for event in events.prefix(Int(ready)) {
                if event.data.fd == wakeRead { return }  // shutting down; the byte stays for the others
                if event.events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
                    logger.error("listening socket \(listener.description) reports an error (events \(event.events))")
                    usleep(100_000)
                }
                listenerReady = listenerReady || event.events & EPOLLIN.rawValue != 0
            }
            guard listenerReady else { continue }
            inFlight.add(1, ordering: .sequentiallyConsistent)
            if stopping.load(ordering: .sequentiallyConsistent) {
                inFlight.subtract(1, ordering: .sequentiallyConsistent)
                return
            }
            guard let connection = acceptConnection(index) else {
                inFlight.subtract(1, ordering: .sequentiallyConsistent)
                continue
            }
            // libfcgi reads the request from a connection it is given as if it were one it had
            // kept open (FCGX_Accept_r with ipcFd set and keepConnection, so the finish it runs
            // first leaves the descriptor alone). The request's own flags replace keepConnection.
            request.pointee.ipcFd = connection
            request.pointee.keepConnection = 1
            let accepted = FCGX_Accept_r(request)
            if accepted < 0 {
                // The connection broke or stalled before its parameters were read: libfcgi has
                // closed it, and its own accept on `noAcceptFD` failed, as it must.
                inFlight.subtract(1, ordering: .sequentiallyConsistent)
                logger.warning(
                    "dropped a FastCGI connection that closed, or stalled for \(configuration.ioTimeoutSeconds) s, before its request was complete"
                )
                continue
            }
            respond(to: request)
            FCGX_Finish_r(request)
            inFlight.subtract(1, ordering: .sequentiallyConsistent)
        }
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

    private func respond(to request: UnsafeMutablePointer<FCGX_Request>) {
        let params = Self.params(request.pointee.envp)
        let body = readBody(request.pointee.in, declaredLength: params["CONTENT_LENGTH"])
        guard FCGX_GetError(request.pointee.in) == 0 else {
            // The body stopped coming (the read timed out) or broke: there is no request to
            // answer, and no one waiting for an answer. Finish closes the connection.
            logger.warning(
                "dropped \(params["REQUEST_METHOD"] ?? "-") \((params["REQUEST_URI"] ?? "-").prefix(128)): its body did not arrive within \(configuration.ioTimeoutSeconds) s",
                metadata: ["request_id": "\(params["REQUEST_ID"] ?? "-")"])
            return
        }
        if case .complete = body, FCGX_HasSeenEOF(request.pointee.in) == EOF {
            // Everything nginx sent is read, so a plain close() cannot reset the connection:
            // skip libfcgi's shutdown-then-wait-for-EOF (up to 2 s) at Finish, which holds the
            // thread for a round trip to nginx. A body left unread keeps that careful close.
            FCGX_Detach(request)
        }
        let response = handler(FastCGIRequest(params: params, body: body))
        let out = request.pointee.out
        let header = response.headerBlock
        // A failed write means nginx gave up on the request (client gone, timeout): nothing to do.
        header.withUnsafeBytes { _ = FCGX_PutStr($0.baseAddress!.assumingMemoryBound(to: CChar.self), Int32($0.count), out) }
        if !response.body.isEmpty {
            response.body.withUnsafeBytes {
                _ = FCGX_PutStr($0.baseAddress!.assumingMemoryBound(to: CChar.self), Int32($0.count), out)
            }
        }
    }

    /// The NULL-terminated `NAME=value` array, copied out (libfcgi frees it at Finish). Split on
    /// bytes: this runs for every parameter of every request.
    static func params(_ envp: FCGX_ParamArray?) -> [String: String] {
        var params: [String: String] = [:]
        params.reserveCapacity(32)
        guard var entry = envp else { return params }
        while let pointer = entry.pointee {
            let pair = UnsafeRawBufferPointer(start: pointer, count: strlen(pointer))
            if let equals = pair.firstIndex(of: UInt8(ascii: "=")) {
                params[String(decoding: pair[..<equals], as: UTF8.self)] = String(
                    decoding: pair[(equals + 1)...], as: UTF8.self)
            }
            entry += 1
        }
        return params
    }

    /// Reads the body, at most `maxBodyBytes`; a larger declared or actual length is not read.
    private func readBody(_ stream: UnsafeMutablePointer<FCGX_Stream>?, declaredLength: String?) -> FastCGIRequest.Body {
        let limit = configuration.maxBodyBytes
        let declared = declaredLength.flatMap { Int($0) } ?? 0
        guard declared <= limit else { return .exceedsLimit }
        guard let stream else { return .complete([]) }
        var body = [UInt8](repeating: 0, count: min(max(declared, 0), limit) + 1)
        var count = 0
        while true {
            if count == body.count {
                if count > limit { return .exceedsLimit }
                body += [UInt8](repeating: 0, count: min(body.count, limit + 1 - body.count))
            }
            let read = body.withUnsafeMutableBytes { raw in
                FCGX_GetStr(
                    raw.baseAddress!.advanced(by: count).assumingMemoryBound(to: CChar.self), Int32(raw.count - count), stream)
            }
            if read <= 0 { break }
            count += Int(read)
        }
        if count > limit { return .exceedsLimit }
        body.removeSubrange(count...)
        return .complete(body)
    }
}
