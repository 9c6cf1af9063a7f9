import ComputeTesting
import Testing

@testable import InMemoryStore

@Suite struct OrderedIndexTests {
    /// Random inserts, removals and walks, checked against a plain sorted array.
    @Test(arguments: [1, 2, 3, 4])
    func behavesLikeASortedArray(seed: UInt64) {
        var generator = SplitMix(seed: seed)
        var keys = OrderedIndex<Entry>()
        var model: [Int] = []
        for step in 0..<6_000 {
            let key = Int(generator.next() % 2_000)
            if generator.next() % 3 == 0 {
                let removed = keys.remove(key)
                #expect(removed == model.contains(key))
                model.removeAll { $0 == key }
            } else {
                let inserted = keys.insert(Entry(key))
                #expect(inserted == !model.contains(key))
                if inserted { model.insert(key, at: model.firstIndex { $0 > key } ?? model.count) }
            }
            if step % 97 == 0 {
                #expect(keys.count == model.count)
                let bound = Int(generator.next() % 2_100)
                #expect(keys.descending(below: bound).map(\.key) == model.filter { $0 < bound }.reversed())
                #expect(keys.contains(bound) == model.contains(bound))
            }
        }
        #expect(keys.descending(below: nil).map(\.key) == model.reversed())
    }

    @Test func emptyAndEdges() {
        var keys = OrderedIndex<Entry>()
        #expect(Array(keys.descending(below: nil)).isEmpty)
        #expect(Array(keys.descending(below: 5)).isEmpty)
        let removedFromEmpty = keys.remove(1)
        #expect(!removedFromEmpty)
        for k in 0..<2_000 { keys.insert(Entry(k)) }
        // Inserted in order, as every load does: the chunks stay full.
        #expect(keys.chunkCounts == [512, 512, 512, 464])
        #expect(keys.descending(below: 0).map(\.key).isEmpty)
        #expect(keys.descending(below: 1).map(\.key) == [0])
        #expect(keys.descending(below: 3_000).map(\.key).count == 2_000)
        for k in stride(from: 0, to: 2_000, by: 2) { keys.remove(k) }
        #expect(keys.descending(below: 10).map(\.key) == [9, 7, 5, 3, 1])
    }
}

/// An entry that is its own key.
private struct Entry: IndexEntry {
    let key: Int

    init(_ key: Int) { self.key = key }
}

/// A small deterministic generator, so failures reproduce.
