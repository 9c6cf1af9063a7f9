/// A sorted multiset-free collection of keys with insert and remove that cost a chunk, not the
/// whole collection: the keys live in sorted chunks of at most `chunkCapacity`, found by
/// binary search. Listings walk it from any key downwards (newest first).
///
/// A plain sorted array moves every later key on an insert or removal in the middle (a
/// 100,000-server index moves megabytes to delete an old server); this moves at most one chunk
/// plus the chunk list (count / 512 entries).
struct SortedKeys<Key: Comparable & Sendable>: Sendable {
    static var chunkCapacity: Int { 512 }

    /// Sorted, non-empty, each chunk's keys below the next chunk's.
    private var chunks: [[Key]] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// Index of the chunk that holds `key` or would receive it.
    private func chunkIndex(for key: Key) -> Int {
        var low = 0
        var high = chunks.count - 1
        while low < high {
            let mid = (low + high) / 2
            if chunks[mid].last! < key { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private static func position(of key: Key, in chunk: [Key]) -> Int {
        var low = 0
        var high = chunk.count
        while low < high {
            let mid = (low + high) / 2
            if chunk[mid] < key { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Adds `key`; false (and no change) when it is already there.
    @discardableResult
    mutating func insert(_ key: Key) -> Bool {
        guard !chunks.isEmpty else {
            chunks = [[key]]
            count = 1
            return true
        }
        // New servers are the newest: most inserts go at the very end.
        let c = chunks[chunks.count - 1].last! < key ? chunks.count - 1 : chunkIndex(for: key)
        let at = Self.position(of: key, in: chunks[c])
        if at < chunks[c].count, chunks[c][at] == key { return false }
        chunks[c].insert(key, at: at)
        count += 1
        if chunks[c].count > Self.chunkCapacity {
            let upper = Array(chunks[c][(Self.chunkCapacity / 2)...])
            chunks[c].removeSubrange((Self.chunkCapacity / 2)...)
            chunks.insert(upper, at: c + 1)
        }
        return true
    }

    /// Removes `key`; false when it was not there.
    @discardableResult
    mutating func remove(_ key: Key) -> Bool {
        guard !chunks.isEmpty else { return false }
        let c = chunkIndex(for: key)
        let at = Self.position(of: key, in: chunks[c])
        guard at < chunks[c].count, chunks[c][at] == key else { return false }
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
        return at < chunk.count && chunk[at] == key
    }

    /// The keys below `bound` (all keys when nil), largest first.
    func descending(below bound: Key?) -> DescendingKeys {
        guard !chunks.isEmpty else { return DescendingKeys(chunks: chunks, chunk: -1, index: -1) }
        guard let bound else {
            return DescendingKeys(chunks: chunks, chunk: chunks.count - 1, index: chunks[chunks.count - 1].count - 1)
        }
        let c = chunkIndex(for: bound)
        let at = Self.position(of: bound, in: chunks[c])  // first key >= bound
        return at > 0
            ? DescendingKeys(chunks: chunks, chunk: c, index: at - 1)
            : DescendingKeys(chunks: chunks, chunk: c - 1, index: c > 0 ? chunks[c - 1].count - 1 : -1)
    }

    struct DescendingKeys: Sequence, IteratorProtocol {
        let chunks: [[Key]]
        var chunk: Int
        var index: Int

        mutating func next() -> Key? {
            guard chunk >= 0 else { return nil }
            let key = chunks[chunk][index]
            index -= 1
            if index < 0 {
                chunk -= 1
                if chunk >= 0 { index = chunks[chunk].count - 1 }
            }
            return key
        }
    }
}
