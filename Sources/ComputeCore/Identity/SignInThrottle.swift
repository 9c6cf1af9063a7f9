import CoreMetrics

/// Slows, then locks out, repeated failed sign-ins of one user, on this host: after
/// `slowAfterFailures` failures each attempt must wait (1 s, doubling) since the last one;
/// after `lockoutAfterFailures` the user is locked out for `lockoutSeconds`. An attempt that
/// comes too soon is refused without checking the password (so it costs no hashing). A
/// success clears the count. Nothing here sleeps a worker thread.
public final class SignInThrottle: Sendable {
    public struct Statistics: Sendable, Equatable {
        public var failedSignIns = 0
        public var lockouts = 0
        /// Users locked out now.
        public var lockedOut = 0
    }

    private struct Failures {
        var count = 0
        var last = Timestamp.zero
        var lockedUntil: Timestamp? = nil
        /// Attempts being checked now: counted as failures until they end, so that as many
        /// attempts at once as there are threads do not all pass the check together.
        var inFlight = 0
    }

    /// At most this many users (or names) are followed; past it the stalest are forgotten.
    static let capacity = 10_000

    private struct State {
        var failures: [String: Failures] = [:]
        var statistics = Statistics()
    }

    private let settings: Identity.Settings
    private let state = Locked(State())
    private let report: @Sendable (String) -> Void

    init(settings: Identity.Settings, report: @escaping @Sendable (String) -> Void) {
        self.settings = settings
        self.report = report
    }

    /// The counts since start, and the users locked out at `now`.
    public func statistics(at now: Timestamp) -> Statistics {
        state.withLock { state in
            var statistics = state.statistics
            statistics.lockedOut = state.failures.values.filter { $0.lockedUntil.map { now < $0 } ?? false }.count
            return statistics
        }
    }

    /// Runs `attempt` for `userID` unless the user must wait or is locked out, and counts a
    /// failure when it throws `.unauthorized`.
    func guarded<T>(
        userID requested: String, at now: Timestamp, _ attempt: () throws(IdentityError) -> T
    ) throws(IdentityError) -> T {
        let userID = String(requested.prefix(255))
        let refusal: String? = state.withLock { state in
            var entry = state.failures[userID, default: Failures()]
            defer {
                entry.inFlight += 1
                state.failures[userID] = entry
            }
            if let until = entry.lockedUntil {
                // Worded the same for names that exist and names that do not.
                if now < until {
                    let minutes = max(1, Int((until.microsecondsSinceEpoch - now.microsecondsSinceEpoch) / 60_000_000) + 1)
                    return "The account is locked after repeated failed sign-ins: try again in \(minutes) minutes."
                }
                entry = Failures(inFlight: entry.inFlight)
            }
            let overdue = entry.count + entry.inFlight - settings.slowAfterFailures
            guard overdue >= 0 else { return nil }
            let wait = 1 << min(overdue, 16)
            return now < entry.last.adding(seconds: wait)
                ? "Too many failed attempts: wait \(wait) seconds before trying again." : nil
        }
        if let refusal {
            state.withLock { $0.failures[userID]?.inFlight -= 1 }
            throw .unauthorized(refusal)
        }
        do {
            let result = try attempt()
            state.withLock { state in
                // A success clears the count (attempts still being checked keep theirs).
                let inFlight = (state.failures[userID]?.inFlight ?? 1) - 1
                state.failures[userID] = inFlight > 0 ? Failures(inFlight: inFlight) : nil
            }
            return result
        } catch {
            if case .unauthorized = error {
                recordFailure(userID, at: now)
            } else {
                state.withLock { $0.failures[userID]?.inFlight -= 1 }
            }
            throw error
        }
    }

    private func recordFailure(_ userID: String, at now: Timestamp) {
        let (count, lockedOut) = state.withLock { state in
            var entry = state.failures[userID, default: Failures(inFlight: 1)]
            entry.inFlight -= 1
            entry.count += 1
            entry.last = now
            state.statistics.failedSignIns += 1
            var lockedOut = false
            if entry.count >= settings.lockoutAfterFailures {
                entry.lockedUntil = now.adding(seconds: settings.lockoutSeconds)
                state.statistics.lockouts += 1
                lockedOut = true
            }
            state.failures[userID] = entry
            // A flood of made-up names must not grow this without bound, nor wipe the counts
            // of the users it is aimed at: what is forgotten first is what has been quiet
            // longest (expired locks, then the oldest failures).
            if state.failures.count > Self.capacity {
                let horizon = now.adding(seconds: -settings.lockoutSeconds)
                state.failures = state.failures.filter { _, f in
                    f.inFlight > 0 || f.lockedUntil.map { now < $0 } ?? !(f.last < horizon)
                }
                if state.failures.count > Self.capacity {
                    let kept = state.failures.sorted { $0.value.last > $1.value.last }.prefix(Self.capacity / 2)
                    state.failures = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
                }
            }
            return (entry.count, lockedOut)
        }
        Counter(label: "alliance_sign_in_failures_total").increment()
        if lockedOut {
            Counter(label: "alliance_sign_in_lockouts_total").increment()
            report("user \(userID) is locked out for \(settings.lockoutSeconds) s after \(count) failed sign-ins in a row")
        } else {
            report("sign-in failed for user \(userID) (\(count) in a row)")
        }
    }
}
