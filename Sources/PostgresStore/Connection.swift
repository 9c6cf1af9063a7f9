import CLibPQ
import ComputeCore

#if canImport(Glibc)
    import Glibc
#endif

/// A failure talking to PostgreSQL, as the store needs to tell them apart.
struct PostgresError: Error, CustomStringConvertible {
    enum Kind {
        /// The server refused the statement (a constraint, a timeout, bad input): `sqlState`.
        case statement
        /// No connection, or it broke before the statement's outcome was known.
        case connection
        /// The connection broke while COMMIT was under way: the transaction may or may not
        /// have been committed.
        case commitOutcomeUnknown
    }

    var kind: Kind
    /// The SQLSTATE (`23505` unique violation, `40001` serialization failure, …).
    var sqlState: String?
    /// For unique violations: the constraint's name.
    var constraint: String?
    var message: String
    /// A rule of the domain refused the change inside the transaction (quota, addresses,
    /// names): rolled back, and this is what the client is told.
    var refusal: ComputeError?

    static func refused(_ refusal: ComputeError) -> PostgresError {
        PostgresError(kind: .statement, message: refusal.message, refusal: refusal)
    }

    var description: String { "\(message)\(sqlState.map { " (SQLSTATE \($0))" } ?? "")" }

    var isUniqueViolation: Bool { sqlState == "23505" }
    /// Serialization failure or deadlock: the transaction can be run again.
    var isRetryable: Bool { sqlState == "40001" || sqlState == "40P01" }
}

/// One libpq connection, used by one thread at a time (the pool hands it out exclusively).
/// Statements are prepared once per connection, by their text, and run with text parameters:
/// never SQL built from values.
final class PostgresConnection: @unchecked Sendable {
    // @unchecked: a connection is only ever used by the thread that checked it out of the pool.
    private let handle: OpaquePointer
    private var prepared: [String: String] = [:]

    /// Connects; `url` is a libpq connection string or URI (`postgresql://…`, `service=…`),
    /// whose own settings win over the defaults given here.
    init(url: String, timeoutSeconds: Int) throws(PostgresError) {
        let keywords = ["connect_timeout", "application_name", "tcp_user_timeout", "keepalives_idle", "dbname"]
        let values = ["\(timeoutSeconds)", "alliance-compute", "\(timeoutSeconds * 1000)", "10", url]
        let connection = Self.withCStrings(keywords) { keys in
            Self.withCStrings(values) { vals in PQconnectdbParams(keys, vals, 1) }
        }
        guard let connection else { throw PostgresError(kind: .connection, message: "out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(kind: .connection, message: message)
        }
        handle = connection
        // The server's notices (NOTICE, WARNING) are not for the client's terminal or log.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        // A statement that waits longer than this (a lock, a stuck server) is cancelled: the
        // request gets its 503 instead of holding a thread.
        try run("SET statement_timeout = \(timeoutSeconds * 1000)")
    }

    deinit { PQfinish(handle) }

    /// False once the connection broke: the pool drops it.
    var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK && PQtransactionStatus(handle) == PQTRANS_IDLE }

    /// Runs `sql` (prepared on first use on this connection) with `parameters` (nil is NULL);
    /// returns the rows as text.
    @discardableResult
    func execute(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> Rows {
        let name: String
        if let known = prepared[sql] {
            name = known
        } else {
            name = "s\(prepared.count + 1)"
            let result = PQprepare(handle, name, sql, Int32(parameters.count), nil)
            try check(result, committing: false)
            PQclear(result)
            prepared[sql] = name
        }
        let result = Self.withOptionalCStrings(parameters) { values in
            PQexecPrepared(handle, name, Int32(parameters.count), values, nil, nil, 0)
        }
        try check(result, committing: false)
        return Rows(result!)
    }

    /// Waits up to `timeoutMilliseconds` for notifications on the channels this connection
    /// listens to; their payloads (none when the time ran out). A broken connection throws.
    func notifications(timeoutMilliseconds: Int32) throws(PostgresError) -> [String] {
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, timeoutMilliseconds)
        if ready < 0 && errno != EINTR {
            throw PostgresError(kind: .connection, message: "poll: \(String(cString: strerror(errno)))")
        }
        guard ready > 0 else { return [] }
        guard PQconsumeInput(handle) == 1 else {
            throw PostgresError(kind: .connection, message: Self.trimmed(PQerrorMessage(handle)))
        }
        var payloads: [String] = []
        while let notification = PQnotifies(handle) {
            payloads.append(String(cString: notification.pointee.extra))
            PQfreemem(notification)
        }
        return payloads
    }

    /// Runs a statement without parameters as it is (BEGIN, SET, the schema's DDL).
    func run(_ sql: String) throws(PostgresError) {
        let result = PQexec(handle, sql)
        try check(result, committing: sql == "COMMIT")
        PQclear(result)
    }

    /// Runs a transaction: `body`'s statements, then COMMIT. A broken connection during the
    /// COMMIT is `.commitOutcomeUnknown`: the change may have been made.
    func transaction<T>(_ body: (PostgresConnection) throws(PostgresError) -> T) throws(PostgresError) -> T {
        try run("BEGIN")
        let value: T
        do {
            value = try body(self)
        } catch {
            if error.kind == .statement { try? run("ROLLBACK") }
            throw error
        }
        try run("COMMIT")
        return value
    }

    private func check(_ result: OpaquePointer?, committing: Bool) throws(PostgresError) {
        let status = result.map(PQresultStatus) ?? PGRES_FATAL_ERROR
        guard status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK else { return }
        defer { if let result { PQclear(result) } }
        let broken = PQstatus(handle) != CONNECTION_OK
        let sqlState = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) }
        if broken || sqlState?.hasPrefix("08") == true || sqlState == "57P01" {
            throw PostgresError(
                kind: committing ? .commitOutcomeUnknown : .connection, sqlState: sqlState,
                message: Self.trimmed(PQerrorMessage(handle)))
        }
        let constraint = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "n"))) }.map { String(cString: $0) }
        let message = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "M"))) }.map { String(cString: $0) }
        throw PostgresError(
            kind: .statement, sqlState: sqlState, constraint: constraint,
            message: message ?? Self.trimmed(PQerrorMessage(handle)))
    }

    private static func trimmed(_ text: UnsafePointer<CChar>?) -> String {
        text.map { String(cString: $0).split(whereSeparator: \.isNewline).joined(separator: " ") } ?? "unknown error"
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        withOptionalCStrings(strings) { body($0!) }
    }

    /// Null-terminated C strings for `strings` (nil stays NULL), valid during `body`.
    private static func withOptionalCStrings<R>(
        _ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R
    ) -> R {
        let copies = strings.map { $0.map { strdup($0) } ?? nil }
        defer { for copy in copies { free(copy) } }
        let pointers = copies.map { $0.map { UnsafePointer<CChar>($0) } } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

/// A statement's rows, as text.
struct Rows {
    private let result: OpaquePointer
    private final class Owner {
        let result: OpaquePointer
        init(_ result: OpaquePointer) { self.result = result }
        deinit { PQclear(result) }
    }
    private let owner: Owner

    init(_ result: OpaquePointer) {
        self.result = result
        owner = Owner(result)
    }

    var count: Int { Int(PQntuples(result)) }
    /// For UPDATE and DELETE: how many rows they changed.
    var affected: Int { Int(String(cString: PQcmdTuples(result))) ?? 0 }

    /// The value at `row`, `column`; nil for NULL and for a row past the end.
    func string(_ row: Int, _ column: Int) -> String? {
        guard row < count, PQgetisnull(result, Int32(row), Int32(column)) == 0 else { return nil }
        return String(cString: PQgetvalue(result, Int32(row), Int32(column)))
    }

    func int(_ row: Int, _ column: Int) -> Int? { string(row, column).flatMap { Int($0) } }

    /// The bytes of a text value, without making a String (records are decoded from them).
    func withBytes<R, E: Error>(_ row: Int, _ column: Int, _ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R) throws(E) -> R {
        let length = Int(PQgetlength(result, Int32(row), Int32(column)))
        let start = UnsafeRawPointer(PQgetvalue(result, Int32(row), Int32(column))!).assumingMemoryBound(to: UInt8.self)
        return try body(UnsafeBufferPointer(start: start, count: length))
    }
}

/// Connections for the request threads: one checked out per call, returned when it is healthy.
/// Under load every request thread holds one, which is "one connection per worker thread".
final class ConnectionPool: Sendable {
    let url: String
    let timeoutSeconds: Int
    private let idle = Locked<[PostgresConnection]>([])

    init(url: String, timeoutSeconds: Int) {
        self.url = url
        self.timeoutSeconds = timeoutSeconds
    }

    /// Runs `body` on a connection of the pool, or a new one. A kept connection may have
    /// broken while it was idle (the server restarted, a proxy dropped it): when it fails with
    /// a connection error, the work (which never reached COMMIT) runs again once, on a new
    /// connection, and the other idle ones are dropped.
    func withConnection<T>(_ body: (PostgresConnection) throws(PostgresError) -> T) throws(PostgresError) -> T {
        if let kept = idle.withLock({ $0.popLast() }) {
            do {
                return try use(kept, body)
            } catch {
                guard error.kind == .connection else { throw error }
                reset()
            }
        }
        return try use(try PostgresConnection(url: url, timeoutSeconds: timeoutSeconds), body)
    }

    private func use<T>(
        _ connection: PostgresConnection, _ body: (PostgresConnection) throws(PostgresError) -> T
    ) throws(PostgresError) -> T {
        do {
            let value = try body(connection)
            release(connection)
            return value
        } catch {
            release(connection)
            throw error
        }
    }

    private func release(_ connection: PostgresConnection) {
        guard connection.isHealthy else { return }
        idle.withLock { $0.append(connection) }
    }

    /// Drops every idle connection (after the server went away, say).
    func reset() { idle.withLock { $0.removeAll() } }
}
