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
