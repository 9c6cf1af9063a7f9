import ComputeCore

/// The addresses of one network in use, as a bitmap; hands out the lowest free one.
///
/// Allocation scans forward from a hint that never passes a free address, so handing out
/// addresses in order costs O(1) amortised and a release anywhere just lowers the hint.
struct AddressPool: Sendable {
    let config: NetworkConfig
    private var words: [UInt64]
    private var hintWord = 0
    private(set) var used = 0

    init(config: NetworkConfig) {
        self.config = config
        self.words = Array(repeating: 0, count: (config.capacity + 63) / 64)
    }

    var free: Int { config.capacity - used }

    private func index(of address: IPv4Address) -> Int? {
        config.contains(address) ? Int(address.value - config.firstHost.value) : nil
    }

    func isInUse(_ address: IPv4Address) -> Bool {
        guard let i = index(of: address) else { return false }
        return words[i / 64] & (1 << UInt64(i % 64)) != 0
    }

    /// Marks an address used; false when it is outside the pool or already taken.
    @discardableResult
    mutating func claim(_ address: IPv4Address) -> Bool {
        guard let i = index(of: address), words[i / 64] & (1 << UInt64(i % 64)) == 0 else { return false }
        words[i / 64] |= 1 << UInt64(i % 64)
        used += 1
        return true
    }

    mutating func release(_ address: IPv4Address) {
        guard let i = index(of: address), words[i / 64] & (1 << UInt64(i % 64)) != 0 else { return }
        words[i / 64] &= ~(1 << UInt64(i % 64))
        used -= 1
        hintWord = min(hintWord, i / 64)
    }

    /// The `count` lowest free addresses, without claiming them; nil if there are fewer.
    func lowestFree(_ count: Int) -> [IPv4Address]? {
        guard count <= free else { return nil }
        var found: [IPv4Address] = []
        found.reserveCapacity(count)
        var w = hintWord
        while found.count < count, w < words.count {
            var bits = ~words[w]
            while bits != 0, found.count < count {
                let bit = bits.trailingZeroBitCount
                let i = w * 64 + bit
                if i >= config.capacity { break }
                found.append(IPv4Address(config.firstHost.value + UInt32(i)))
                bits &= bits - 1
            }
            w += 1
        }
        return found.count == count ? found : nil
    }

    /// Moves the hint past fully used words; called after claims.
    mutating func advanceHint() {
        while hintWord < words.count, words[hintWord] == ~UInt64(0) { hintWord += 1 }
    }
}
