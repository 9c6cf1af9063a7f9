public import ComputeCore

/// Identity records in memory only: for tests, and for a worker whose inventory is not kept.
public final class MemoryIdentityStore: IdentityStore {
    private struct Contents {
        var records: [IdentityCollection: [String: any IdentityRecord]] = [:]
        var tokens: [String: TokenRecord] = [:]
    }

    private let contents = Locked(Contents())

    public init(tokens: [TokenRecord] = []) {
        contents.withLock { c in for token in tokens { c.tokens[token.id] = token } }
    }

    public func all<Record: IdentityRecord>(_ type: Record.Type) throws(ComputeError) -> [Record] {
        contents.withLock { c in (c.records[Record.collection] ?? [:]).values.compactMap { $0 as? Record } }
            .sorted { $0.id < $1.id }
    }

    public func record<Record: IdentityRecord>(_ type: Record.Type, id: String) throws(ComputeError) -> Record? {
        contents.withLock { c in c.records[Record.collection]?[id] as? Record }
    }

    public func save<Record: IdentityRecord>(_ record: Record) throws(ComputeError) {
        contents.withLock { c in c.records[Record.collection, default: [:]][record.id] = record }
    }

    public func insert<Record: IdentityRecord>(_ record: Record) throws(ComputeError) -> Bool {
        contents.withLock { c in
            guard c.records[Record.collection]?[record.id] == nil else { return false }
            c.records[Record.collection, default: [:]][record.id] = record
            return true
        }
    }

    public func replace<Record: IdentityRecord>(_ old: Record, with new: Record) throws(ComputeError) -> Bool {
        contents.withLock { c in
            guard c.records[Record.collection]?[old.id] as? Record == old else { return false }
            c.records[Record.collection]![new.id] = new
            return true
        }
    }

    public func remove<Record: IdentityRecord>(_ type: Record.Type, id: String) throws(ComputeError) -> Bool {
        contents.withLock { c in c.records[Record.collection]?.removeValue(forKey: id) != nil }
    }

    public func token(id: String) throws(ComputeError) -> TokenRecord? { contents.withLock { $0.tokens[id] } }

    public func issue(_ token: TokenRecord) throws(ComputeError) { contents.withLock { $0.tokens[token.id] = token } }

    public func revoke(tokenID: String) throws(ComputeError) -> Bool {
        contents.withLock { $0.tokens.removeValue(forKey: tokenID) != nil }
    }

    public func removeExpiredTokens(at now: Timestamp) throws(ComputeError) {
        contents.withLock { c in c.tokens = c.tokens.filter { !$0.value.isExpired(at: now) } }
    }
}
