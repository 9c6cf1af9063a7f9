import CoreMetrics
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

    /// Counts a finished request; true when it was slow. With `method` and `route` (the
    /// route's pattern, nil when none matched), also in the metrics:
    /// `alliance_http_requests_total{route,method,status}` and
    /// `alliance_http_request_duration_seconds{route,method}`.
    @discardableResult
    public func end(status: Int, microseconds: Int, method: String = "-", route: String? = nil) -> Bool {
        let method = Self.knownMethods.contains(method) ? method : "other"
        let route = route ?? "unmatched"
        Counter(
            label: "alliance_http_requests_total", dimensions: [("route", route), ("method", method), ("status", "\(status)")]
        ).increment()
        Timer(label: "alliance_http_request_duration_seconds", dimensions: [("route", route), ("method", method)])
            .recordMicroseconds(microseconds)
        inFlight.subtract(1, ordering: .relaxed)
        served.add(1, ordering: .relaxed)
        if status >= 500 { serverErrors.add(1, ordering: .relaxed) }
        let isSlow = microseconds >= slowThresholdMicroseconds
        if isSlow { slow.add(1, ordering: .relaxed) }
        return isSlow
    }

    /// Methods named as they are in metrics; any other is `other` (a client cannot make up
    /// label values).
    private static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

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
