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

    /// The CGI header block. `Content-Length` is always the body's length; CR and LF are
    /// removed from values so nothing can inject a header.
    public var headerBlock: [UInt8] {
        var text = "Status: \(status) \(Self.clean(reason))\r\n"
        var hasLength = false
        for (name, value) in headers {
            if name.lowercased() == "content-length" { hasLength = true }
            text += "\(Self.clean(name)): \(Self.clean(value))\r\n"
        }
        if !hasLength { text += "Content-Length: \(body.count)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    private static func clean(_ text: String) -> String {
        text.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\r\n" })
            ? String(text.filter { $0 != "\r" && $0 != "\n" && $0 != "\r\n" }) : text
    }
}

/// A FastCGI application server on libfcgi: N threads accept on one shared listening socket.
///
/// What FASTCGI-NOTES measured, applied: no accept mutex (Linux accept() is safe to share),
/// an explicit `FCGX_Finish_r` after each response (else it sits in libfcgi's buffer), no
/// kept connections. Shutdown never `shutdown()`s the socket: threads `poll()` the socket
/// and a wake pipe, the listening socket is non-blocking so a thread that loses the race to
/// `accept()` just polls again, and SIGTERM stops new accepts and drains in-flight requests.
public final class FastCGIServer: Sendable {
    public struct Configuration: Sendable {
        public var threads: Int
        /// Bodies larger than this are not read; the handler sees `.exceedsLimit`.
        public var maxBodyBytes: Int
        /// How long SIGTERM waits for requests in progress before exiting anyway.
        public var drainTimeoutSeconds: Double

        public init(threads: Int, maxBodyBytes: Int, drainTimeoutSeconds: Double) {
            self.threads = threads
            self.maxBodyBytes = maxBodyBytes
            self.drainTimeoutSeconds = drainTimeoutSeconds
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
    private let wakeRead: Int32
    private let wakeWrite: Int32

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
    }

    /// Blocks SIGTERM and SIGINT in this thread and in every thread started after it, so that
    /// only `run()`'s `sigwait` receives them. Call before anything starts a thread.
    public static func blockTerminationSignals() {
        // An ignored signal is discarded rather than left pending for sigwait, and a shell
        // starts background jobs with SIGINT ignored: restore the default first.
        signal(SIGTERM, SIG_DFL)
        signal(SIGINT, SIG_DFL)
        var signals = terminationSignals
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    private static var terminationSignals: sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        return signals
    }

    /// Serves until SIGTERM or SIGINT, then drains and returns the signal's name.
    /// `blockTerminationSignals()` must have been called first.
    public func run() throws(ListenError) -> String {
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

        var signals = Self.terminationSignals
        var received: Int32 = 0
        while sigwait(&signals, &received) != 0 {}
        let name = received == SIGTERM ? "SIGTERM" : "SIGINT"
        logger.info("\(name): no longer accepting; draining requests in progress")

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
        FCGX_InitRequest(request, listener.fd, 0)
        var fds = [
            pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            fds[0].revents = 0
            fds[1].revents = 0
            if poll(&fds, 2, -1) < 0 {
                if errno == EINTR { continue }
                logger.critical("poll failed in thread \(index): \(String(cString: strerror(errno)))")
                return
            }
            if fds[1].revents != 0 { return }  // shutting down; the byte stays for the others
            guard fds[0].revents & Int16(POLLIN) != 0 else {
                logger.error("listening socket \(listener.description) reports an error (revents \(fds[0].revents))")
                usleep(100_000)
                continue
            }
            inFlight.add(1, ordering: .sequentiallyConsistent)
            if stopping.load(ordering: .sequentiallyConsistent) {
                inFlight.subtract(1, ordering: .sequentiallyConsistent)
                return
            }
            let accepted = FCGX_Accept_r(request)
            if accepted < 0 {
                inFlight.subtract(1, ordering: .sequentiallyConsistent)
                // EAGAIN: another thread took the connection. The others are transient too.
                if [EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED, EPROTO].contains(-accepted) { continue }
                logger.error("FCGX_Accept_r failed in thread \(index): \(String(cString: strerror(-accepted)))")
                usleep(10_000)
                continue
            }
            respond(to: request)
            FCGX_Finish_r(request)
            inFlight.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    private func respond(to request: UnsafeMutablePointer<FCGX_Request>) {
        let params = Self.params(request.pointee.envp)
        let body = readBody(request.pointee.in, declaredLength: params["CONTENT_LENGTH"])
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

    /// The NULL-terminated `NAME=value` array, copied out (libfcgi frees it at Finish).
    static func params(_ envp: FCGX_ParamArray?) -> [String: String] {
        var params: [String: String] = [:]
        guard var entry = envp else { return params }
        while let pointer = entry.pointee {
            let pair = String(cString: pointer)
            if let equals = pair.firstIndex(of: "=") {
                params[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
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
