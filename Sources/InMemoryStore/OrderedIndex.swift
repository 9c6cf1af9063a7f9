/// What an `OrderedIndex` holds: anything ordered by a key, each key at most once.
protocol IndexEntry: Sendable {
    associatedtype Key: Comparable & Sendable
    var key: Key { get }
}

/// Entries sorted by their keys, with insert and remove that cost a chunk, not the whole
/// collection: the entries live in sorted chunks of at most `chunkCapacity`, found by binary
/// search. Listings walk it from any key downwards (newest first).
///
/// A plain sorted array moves every later entry on an insert or removal in the middle (a
/// 100,000-server index moves megabytes to delete an old server); this moves at most one chunk
/// plus the chunk list (count / 512 entries). The store's indexes hold its servers themselves
/// (a reference each, 8 bytes) rather than their keys (32 bytes): a server is in six indexes.
struct OrderedIndex<Entry: IndexEntry>: Sendable {
    typealias Key = Entry.Key

    static var chunkCapacity: Int { 512 }

    /// Sorted, non-empty, each chunk's entries below the next chunk's.
    private var chunks: [[Entry]] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// How full the chunks are, first to last (for tests).
    var chunkCounts: [Int] { chunks.map(\.count) }

    /// Index of the chunk that holds `key` or would receive it.
    private func chunkIndex(for key: Key) -> Int {
        var low = 0
        var high = chunks.count - 1
        while low < high {
            let mid = (low + high) / 2
            if chunks[mid].last!.key < key { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private static func position(of key: Key, in chunk: [Entry]) -> Int {
        var low = 0
        var high = chunk.count
        while low < high {
            let mid = (low + high) / 2
            if chunk[mid].key < key { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Adds `entry`; false (and no change) when its key is already there.
    @discardableResult
    mutating func insert(_ entry: Entry) -> Bool {
        let key = entry.key
        guard !chunks.isEmpty else {
            chunks = [[entry]]
            count = 1
            return true
        }
        // New servers are the newest: most inserts go at the very end, and a full last chunk
        // stays full, the entry starting a chunk of its own. Split in halves instead, an index
        // built in order (every load) left each chunk half empty: 36 of the 120 MB a worker
        // held at 100,000 servers (heaptrack), against 17 MB full (and 5 MB since the indexes
        // hold references).
        let last = chunks.count - 1
        if chunks[last].last!.key < key {
            if chunks[last].count < Self.chunkCapacity {
                chunks[last].append(entry)
            } else {
                chunks.append([entry])
            }
            count += 1
            return true
        }
        let c = chunkIndex(for: key)
        let at = Self.position(of: key, in: chunks[c])
        if at < chunks[c].count, chunks[c][at].key == key { return false }
        count += 1
        guard chunks[c].count == Self.chunkCapacity else {
            chunks[c].insert(entry, at: at)
            return true
        }
        // A full chunk splits in two halves, each a buffer of its own size.
        var lower = Array(chunks[c][..<(Self.chunkCapacity / 2)])
        var upper = Array(chunks[c][(Self.chunkCapacity / 2)...])
        if at <= lower.count { lower.insert(entry, at: at) } else { upper.insert(entry, at: at - lower.count) }
        chunks[c] = lower
        chunks.insert(upper, at: c + 1)
        return true
    }

    /// Removes the entry with `key`; false when there was none.
    @discardableResult
    mutating func remove(_ key: Key) -> Bool {
        guard !chunks.isEmpty else { return false }
        let c = chunkIndex(for: key)
        let at = Self.position(of: key, in: chunks[c])
        guard at < chunks[c].count, chunks[c][at].key == key else { return false }
        chunks[c].remove(at: at)
        count -= 1
        if chunks[c].isEmpty {
            chunks.remove(at: c)
        } else if chunks[c].count < Self.chunkCapacity / 4, c + 1 < chunks.count,
            chunks[c].count + chunks[c + 1].count <= Self.chunkCapacity / 2
        {
            // Keep chunks from thinning out, so the chunk list stays about count / 512 long.
            chunks[c] += chunks[c + 1]
            chunks.remove(at: c + 1)
        }
        return true
    }

    func contains(_ key: Key) -> Bool {
        guard !chunks.isEmpty else { return false }
        let chunk = chunks[chunkIndex(for: key)]
        let at = Self.position(of: key, in: chunk)
        return at < chunk.count && chunk[at].key == key
    }

    /// The entries whose keys are below `bound` (all when nil), largest first.
    func descending(below bound: Key?) -> Descending {
        guard !chunks.isEmpty else { return Descending(chunks: chunks, chunk: -1, index: -1) }
        guard let bound else {
            return Descending(chunks: chunks, chunk: chunks.count - 1, index: chunks[chunks.count - 1].count - 1)
        }
        let c = chunkIndex(for: bound)
        let at = Self.position(of: bound, in: chunks[c])  // first key >= bound
        return at > 0
            ? Descending(chunks: chunks, chunk: c, index: at - 1)
            : Descending(chunks: chunks, chunk: c - 1, index: c > 0 ? chunks[c - 1].count - 1 : -1)
    }

    struct Descending: Sequence, IteratorProtocol {
        let chunks: [[Entry]]
        var chunk: Int
        var index: Int

        mutating func next() -> Entry? {
            guard chunk >= 0 else { return nil }
            let entry = chunks[chunk][index]
            index -= 1
            if index < 0 {
                chunk -= 1
                if chunk >= 0 { index = chunks[chunk].count - 1 }
            }
            return entry
        }
    }
}
