public import ComputeCore

/// A fixed table of tokens: for in-process tests, the fuzzer and benchmarks, where tokens are
/// not files (the worker uses the data directory's token store).
public struct StaticAuthenticator: Authenticator {
    public var callers: [String: Caller]

    public init(_ callers: [String: Caller]) { self.callers = callers }

    public func caller(forToken token: String) -> Caller? { callers[token] }
}

/// A clock tests move by hand.
public final class TestClock: Clock {
    private let current: Locked<Timestamp>

    public init(_ start: Timestamp = Timestamp(microsecondsSinceEpoch: 1_795_000_000_000_000)) {
        current = Locked(start)
    }

    public func now() -> Timestamp { current.withLock { $0 } }

    public func advance(seconds: Int64) {
        current.withLock { $0.microsecondsSinceEpoch += seconds * 1_000_000 }
    }

    public func advance(microseconds: Int64) {
        current.withLock { $0.microsecondsSinceEpoch += microseconds }
    }
}

/// Identifiers that count up, so tests can predict them.
public final class SequentialIdentifiers: IdentifierSource {
    private let counter = Locked(0)

    public init() {}

    public func uuid() -> String {
        let n = counter.withLock { value -> Int in
            value += 1
            return value
        }
        let hex = String(n, radix: 16)
        return "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex
    }

    public func reservationID() -> String { "r-" + String(uuid().suffix(8)) }
}

/// A seeded random number generator (SplitMix64): the same sequence on every run, so a test
/// that explores random inputs is repeatable.
public struct SplitMix: RandomNumberGenerator {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
