import ComputeCore
// Foundation (not only FoundationEssentials): the listener runs on a Thread of its own.
import Foundation
import Logging
import Synchronization

/// What the database says changed: a listener connection (`LISTEN alliance_changes`) hears the
/// name of each table whose rows a transaction changed (a trigger on `tokens`, `flavors`,
/// `quota_overrides` and the identity tables notifies it at commit), so every API host can cache what is read on
/// every request and drop it the moment any host changes it.
///
/// While the listener is not connected nothing may be cached: `stamp` is nil, and every read
/// asks the database. Every 5 s without a notification the listener checks that its
/// connection still answers, so a silently dead one is noticed within seconds.
final class ChangeFeed: Sendable {
    /// When something was read from a table: it is current while no change to the table was
    /// heard since, on the same listener connection.
    struct Stamp: Equatable, Sendable {
        var connection: Int
        var generation: Int
    }

    private struct State {
        /// Counts listener connections; 0 and odd states never matter: `listening` decides.
        var connection = 0
        var listening = false
        var generations: [String: Int] = [:]
    }

    private let state = Locked(State())
    private let stopped = Atomic<Bool>(false)
    private let url: String
    private let timeoutSeconds: Int
    private let logger: Logger

    init(url: String, timeoutSeconds: Int, logger: Logger) {
        self.url = url
        self.timeoutSeconds = timeoutSeconds
        self.logger = logger
        let thread = Thread { [self] in listen() }
        thread.name = "change-feed"
        thread.start()
    }

    /// For what is about to be read from `table`: nil when it must not be cached.
    func stamp(_ table: String) -> Stamp? {
        state.withLock { s in
            s.listening ? Stamp(connection: s.connection, generation: s.generations[table, default: 0]) : nil
        }
    }

    /// Whether what was read under `stamp` is still what the table holds.
    func isCurrent(_ stamp: Stamp, _ table: String) -> Bool {
        state.withLock { s in
            s.listening && s.connection == stamp.connection && s.generations[table, default: 0] == stamp.generation
        }
    }

    /// This process changed `table` (or may have): what it read before is not current, even
    /// before the database's notification arrives. A host reads its own writes.
    func changed(_ table: String) {
        state.withLock { s in s.generations[table, default: 0] += 1 }
    }

    /// Ends the listener (within 5 s) and closes its connection: when the store goes away.
    func stop() { stopped.store(true, ordering: .relaxed) }

    private func listen() {
        while !stopped.load(ordering: .relaxed) {
            do {
                let connection = try PostgresConnection(url: url, timeoutSeconds: timeoutSeconds)
                try connection.run("LISTEN alliance_changes")
                state.withLock { s in
                    s.connection += 1
                    s.listening = true
                }
                logger.debug("change feed: listening")
                while !stopped.load(ordering: .relaxed) {
                    let tables = try connection.notifications(timeoutMilliseconds: 5_000)
                    if tables.isEmpty {
                        try connection.execute("SELECT 1")
                        continue
                    }
                    state.withLock { s in
                        for table in tables { s.generations[table, default: 0] += 1 }
                    }
                }
            } catch {
                logger.warning("change feed: \(error); caching nothing until it is back")
            }
            state.withLock { s in s.listening = false }
            if !stopped.load(ordering: .relaxed) { sleep(1) }
        }
    }
}

/// Values read from one table, kept while the change feed says the table has not changed.
/// At most `limit` entries: past it the cache starts again (keys come from requests, so a
/// client presenting made-up ones cannot grow it without bound).
final class ChangeCache<Value: Sendable>: Sendable {
    private let table: String
    private let feed: ChangeFeed
    private let limit: Int
    private let entries = Locked<[String: (stamp: ChangeFeed.Stamp, value: Value)]>([:])

    init(table: String, feed: ChangeFeed, limit: Int = 10_000) {
        self.table = table
        self.feed = feed
        self.limit = limit
    }

    /// The cached value for `key`, or `load`'s (cached when the feed is listening).
    func value<E: Error>(_ key: String, load: () throws(E) -> Value) throws(E) -> Value {
        if let entry = entries.withLock({ $0[key] }), feed.isCurrent(entry.stamp, table) { return entry.value }
        let stamp = feed.stamp(table)
        let value = try load()
        if let stamp {
            entries.withLock { entries in
                if entries.count >= limit { entries.removeAll(keepingCapacity: true) }
                entries[key] = (stamp, value)
            }
        }
        return value
    }
}
