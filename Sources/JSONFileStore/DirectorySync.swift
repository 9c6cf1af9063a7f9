import ComputeCore

/// Group commit's shared step: the fsync of one directory, made once for every commit waiting
/// for it. A commit whose file is renamed into place (or unlinked) asks for a sync that starts
/// after that; while one is running, the commits that ask meanwhile wait for the next one, which
/// then makes all of their changes durable at once. So N concurrent writers cost one directory
/// fsync per round instead of N in a row, and each is acknowledged only once its own change is
/// durable.
final class DirectorySync: Sendable {
    private struct State {
        /// Requests numbered as they come; a sync covers every request made before it started.
        var requested = 0
        var completed = 0
        var running = false
        /// Requests whose sync failed, as ranges of their numbers, each kept until every one of
        /// its requests has read the error.
        var failed: [(range: ClosedRange<Int>, error: SystemCallError, unread: Int)] = []

        /// The outcome of request `ticket`, once its sync completed (read once per request).
        mutating func outcome(of ticket: Int) -> SystemCallError? {
            guard let index = failed.firstIndex(where: { $0.range.contains(ticket) }) else { return nil }
            let error = failed[index].error
            failed[index].unread -= 1
            if failed[index].unread == 0 { failed.remove(at: index) }
            return error
        }
    }

    private let fd: Int32
    private let path: String
    private let posix: POSIX
    private let state = Monitor(State())

    init(fd: Int32, path: String, posix: POSIX) {
        self.fd = fd
        self.path = path
        self.posix = posix
    }

    /// What a waiting commit does next.
    private enum Step {
        case done(SystemCallError?)
        case sync(covering: ClosedRange<Int>)
    }

    /// Returns once a sync of the directory that started after this call has finished; throws
    /// its error if it failed.
    func sync() throws(SystemCallError) {
        let ticket = state.withLock { s in
            s.requested += 1
            return s.requested
        }
        while true {
            let step = state.withLock(
                when: { $0.completed >= ticket || !$0.running },
                { s -> Step in
                    if s.completed >= ticket { return .done(s.outcome(of: ticket)) }
                    // No sync is running: this thread makes one for every request so far.
                    s.running = true
                    return .sync(covering: (s.completed + 1)...s.requested)
                })
            switch step {
            case .done(let error):
                if let error { throw error }
                return
            case .sync(let covered):
                var failure: SystemCallError? = nil
                do {
                    try posix.fsync(fd, path: path)
                } catch {
                    failure = error
                }
                state.withLock { s in
                    s.running = false
                    s.completed = covered.upperBound
                    if let failure { s.failed.append((covered, failure, covered.count)) }
                }
            }
        }
    }
}
