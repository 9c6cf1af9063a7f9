import ComputeCore
public import JSONFileStore

#if canImport(Glibc)
    import Glibc
#endif

/// Makes the nth call of one kind fail with an errno, and watches every descriptor: which are
/// open, and whether any is closed twice (or closed without having been opened here).
public final class FaultPlan: SystemCallFaults {
    /// Calls of one kind (on paths containing `path`, or ending in `pathSuffix`, when given)
    /// fail with `errno`: the `occurrence`th of them, and with `persistent` every later one too.
    public struct Rule: Sendable {
        public var call: SystemCall
        public var path: String?
        public var pathSuffix: String?
        public var occurrence: Int
        public var persistent: Bool
        public var errno: Int32
        var seen = 0

        public init(
            call: SystemCall, path: String? = nil, pathSuffix: String? = nil, occurrence: Int = 1, persistent: Bool = false,
            errno: Int32 = EIO
        ) {
            self.call = call
            self.path = path
            self.pathSuffix = pathSuffix
            self.occurrence = occurrence
            self.persistent = persistent
            self.errno = errno
        }
    }

    private struct State {
        var rules: [Rule] = []
        var fired = false
        var open = Set<Int32>()
        public var badCloses: [Int32] = []
        var calls: [(SystemCall, String)] = []
    }
    private let state = Locked(State())

    public init() {}

    /// From now on, the `occurrence`th call of `call` (counting from 1) fails with `errno`;
    /// `persistent`: so does every later one.
    public func arm(_ call: SystemCall, occurrence: Int = 1, errno: Int32 = EIO, persistent: Bool = false) {
        arm([Rule(call: call, occurrence: occurrence, persistent: persistent, errno: errno)])
    }

    public func arm(_ rules: [Rule]) { state.withLock { $0.rules = rules } }

    public func disarm() { state.withLock { $0.rules = [] } }

    public var fired: Bool { state.withLock { $0.fired } }
    public var badCloses: [Int32] { state.withLock { $0.badCloses } }
    public var openDescriptors: Set<Int32> { state.withLock { $0.open } }
    public func calls(_ call: SystemCall) -> [String] { state.withLock { $0.calls.filter { $0.0 == call }.map(\.1) } }

    public func injectedError(for call: SystemCall, path: String) -> Int32? {
        state.withLock { s in
            s.calls.append((call, path))
            for index in s.rules.indices where s.rules[index].call == call {
                if let part = s.rules[index].path, !path.contains(part) { continue }
                if let suffix = s.rules[index].pathSuffix, !path.hasSuffix(suffix) { continue }
                s.rules[index].seen += 1
                let rule = s.rules[index]
                if rule.seen == rule.occurrence || (rule.persistent && rule.seen > rule.occurrence) {
                    s.fired = true
                    return rule.errno
                }
            }
            return nil
        }
    }

    public func opened(_ fd: Int32) { state.withLock { _ = $0.open.insert(fd) } }

    public func closed(_ fd: Int32) {
        state.withLock { s in
            if s.open.remove(fd) == nil { s.badCloses.append(fd) }
        }
    }
}
