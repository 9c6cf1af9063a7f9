import Synchronization

/// Request counters for the status view (`/healthz`), like php-fpm's status page. The
/// transport adapter calls `begin` and `end` around every request.
public final class RequestStatistics: Sendable {
    private let served = Atomic(0)
    private let inFlight = Atomic(0)
    private let slow = Atomic(0)
    private let serverErrors = Atomic(0)
    /// Requests that take at least this long are counted (and logged) as slow.
    public let slowThresholdMicroseconds: Int

    public init(slowThresholdMicroseconds: Int) {
        self.slowThresholdMicroseconds = slowThresholdMicroseconds
    }

    public func begin() {
        inFlight.add(1, ordering: .relaxed)
    }

    /// Counts a finished request; true when it was slow.
    @discardableResult
    public func end(status: Int, microseconds: Int) -> Bool {
        inFlight.subtract(1, ordering: .relaxed)
        served.add(1, ordering: .relaxed)
        if status >= 500 { serverErrors.add(1, ordering: .relaxed) }
        let isSlow = microseconds >= slowThresholdMicroseconds
        if isSlow { slow.add(1, ordering: .relaxed) }
        return isSlow
    }

    public struct Snapshot: Sendable, Equatable {
        public var served: Int
        public var inFlight: Int
        public var slow: Int
        public var serverErrors: Int
    }

    public var snapshot: Snapshot {
        Snapshot(
            served: served.load(ordering: .relaxed), inFlight: inFlight.load(ordering: .relaxed),
            slow: slow.load(ordering: .relaxed), serverErrors: serverErrors.load(ordering: .relaxed))
    }
}
