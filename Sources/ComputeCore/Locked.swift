#if canImport(Glibc)
    import Glibc
#endif

/// A value guarded by a pthread mutex: `withLock` runs a closure with the value, exclusively.
///
/// The one lock of the code base, used instead of Synchronization's `Mutex`: on Linux
/// ThreadSanitizer does not see the ordering `Mutex` gives (it reports a race between two
/// `withLock` bodies of one `Mutex` shared by two threads; checked with a two-thread counter),
/// while it knows pthread mutexes, and the TSan run of the suite must stay meaningful. Like
/// `Mutex`, values go in and out as `sending`, so the lock is `Sendable` for any value.
public final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched with `mutex` held. Both live outside the object, so
    // the sanitizer sees plain memory under a pthread mutex (a stored `var` of an empty type
    // drew a false report from Swift's access checks).
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let value = UnsafeMutablePointer<Value>.allocate(capacity: 1)

    public init(_ value: sending Value) {
        self.value.initialize(to: value)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        value.deinitialize(count: 1)
        value.deallocate()
    }

    public func withLock<T, E: Error>(_ body: (inout sending Value) throws(E) -> sending T) throws(E) -> sending T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value.pointee)
    }
}

/// A value guarded by a pthread mutex, with a condition variable for waiting until the value
/// says something has happened: for threads that hand work to each other in order, such as
/// commits waiting for a directory sync or for their turn to be published.
///
/// The wait is on a predicate the monitor checks itself, reading the value afresh each time:
/// a body holding the value `inout` must never wait, since Swift may assume nothing else
/// changes an `inout` value while the body runs (an optimised build kept a field in a
/// register across the wait, and never woke).
public final class Monitor<Value>: @unchecked Sendable {
    // @unchecked: as `Locked`, `value` is only touched with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let value = UnsafeMutablePointer<Value>.allocate(capacity: 1)

    public init(_ value: sending Value) {
        self.value.initialize(to: value)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
        value.deinitialize(count: 1)
        value.deallocate()
    }

    /// Waits until `ready` holds for the value, then runs `body` with it, exclusively; then
    /// wakes every waiting thread, to check its own predicate against what `body` changed.
    public func withLock<T, E: Error>(
        when ready: (Value) -> Bool = { _ in true }, _ body: (inout sending Value) throws(E) -> sending T
    ) throws(E) -> sending T {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }
        while !ready(value.pointee) { pthread_cond_wait(condition, mutex) }
        return try body(&value.pointee)
    }
}
