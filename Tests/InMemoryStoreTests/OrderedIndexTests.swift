import ComputeTesting
import Testing

@testable import InMemoryStore

@Suite struct SortedKeysTests {
    /// Random inserts, removals and walks, checked against a plain sorted array.
    @Test(arguments: [1, 2, 3, 4])
    func behavesLikeASortedArray(seed: UInt64) {
        var generator = SplitMix(seed: seed)
        var keys = SortedKeys<Int>()
        var model: [Int] = []
        for step in 0..<6_000 {
            let key = Int(generator.next() % 2_000)
            if generator.next() % 3 == 0 {
                let removed = keys.remove(key)
                #expect(removed == model.contains(key))
                model.removeAll { $0 == key }
            } else {
                let inserted = keys.insert(key)
                #expect(inserted == !model.contains(key))
                if inserted { model.insert(key, at: model.firstIndex { $0 > key } ?? model.count) }
            }
            if step % 97 == 0 {
                #expect(keys.count == model.count)
                let bound = Int(generator.next() % 2_100)
                #expect(Array(keys.descending(below: bound)) == model.filter { $0 < bound }.reversed())
                #expect(keys.contains(bound) == model.contains(bound))
            }
        }
        #expect(Array(keys.descending(below: nil)) == model.reversed())
    }

    @Test func emptyAndEdges() {
        var keys = SortedKeys<Int>()
        #expect(Array(keys.descending(below: nil)).isEmpty)
        #expect(Array(keys.descending(below: 5)).isEmpty)
        let removedFromEmpty = keys.remove(1)
        #expect(!removedFromEmpty)
        for k in 0..<2_000 { keys.insert(k) }
        #expect(Array(keys.descending(below: 0)).isEmpty)
        #expect(Array(keys.descending(below: 1)) == [0])
        #expect(Array(keys.descending(below: 3_000)).count == 2_000)
        for k in stride(from: 0, to: 2_000, by: 2) { keys.remove(k) }
        #expect(Array(keys.descending(below: 10)) == [9, 7, 5, 3, 1])
    }
}

/// A small deterministic generator, so failures reproduce.
