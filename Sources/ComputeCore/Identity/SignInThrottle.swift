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
    }

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
        userID: String, at now: Timestamp, _ attempt: () throws(IdentityError) -> T
    ) throws(IdentityError) -> T {
        let refusal: String? = state.withLock { state in
            guard var entry = state.failures[userID] else { return nil }
            if let until = entry.lockedUntil {
                // Worded the same for names that exist and names that do not.
                if now < until {
                    let minutes = max(1, Int((until.microsecondsSinceEpoch - now.microsecondsSinceEpoch) / 60_000_000) + 1)
                    return "The account is locked after repeated failed sign-ins: try again in \(minutes) minutes."
                }
                entry = Failures()
                state.failures[userID] = nil
            }
            let overdue = entry.count - settings.slowAfterFailures
            guard overdue >= 0 else { return nil }
            let wait = 1 << min(overdue, 16)
            return now < entry.last.adding(seconds: wait)
                ? "Too many failed attempts: wait \(wait) seconds before trying again." : nil
        }
        if let refusal { throw .unauthorized(refusal) }
        do {
            let result = try attempt()
            state.withLock { _ = $0.failures.removeValue(forKey: userID) }
            return result
        } catch {
            if case .unauthorized = error { recordFailure(userID, at: now) }
            throw error
        }
    }

    private func recordFailure(_ userID: String, at now: Timestamp) {
        let (count, lockedOut) = state.withLock { state in
            var entry = state.failures[userID, default: Failures()]
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
            // A flood of made-up names must not grow this without bound.
            if state.failures.count > 10_000 {
                state.failures = state.failures.filter { $0.value.lockedUntil != nil }
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
