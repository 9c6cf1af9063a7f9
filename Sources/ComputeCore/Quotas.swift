/// Per-project limits (Nova's `instances`, `cores`, `ram` in MiB); -1 means unlimited.
public struct QuotaLimits: Sendable, Equatable, Codable {
    public var instances: Int
    public var cores: Int
    public var ram: Int

    public init(instances: Int, cores: Int, ram: Int) {
        self.instances = instances
        self.cores = cores
        self.ram = ram
    }

    /// Nova's defaults.
    public static let novaDefaults = QuotaLimits(instances: 10, cores: 20, ram: 51_200)
    public static let unlimited = QuotaLimits(instances: -1, cores: -1, ram: -1)
}

/// What a project's servers use, in the units of `QuotaLimits`.
public struct QuotaUsage: Sendable, Equatable {
    public var instances = 0
    public var cores = 0
    public var ram = 0

    public init(instances: Int = 0, cores: Int = 0, ram: Int = 0) {
        self.instances = instances
        self.cores = cores
        self.ram = ram
    }

    public mutating func add(_ server: Server, sign: Int = 1) {
        instances += sign
        cores += sign * server.flavor.vcpus
        ram += sign * server.flavor.ram
    }
}

/// A project's own limits, set with `alliance-compute quota set`; nil fields keep the default.
public struct QuotaOverride: Codable, Sendable, Equatable {
    public var format = 1
    public var project: String
    public var instances: Int?
    public var cores: Int?
    public var ram: Int?

    public init(project: String, instances: Int? = nil, cores: Int? = nil, ram: Int? = nil) {
        self.project = project
        self.instances = instances
        self.cores = cores
        self.ram = ram
    }

    public func applied(to defaults: QuotaLimits) -> QuotaLimits {
        QuotaLimits(instances: instances ?? defaults.instances, cores: cores ?? defaults.cores, ram: ram ?? defaults.ram)
    }

    /// This override with `change`'s limits over it (the ones it names), checked.
    public func merging(_ change: QuotaOverride) throws(ComputeError) -> QuotaOverride {
        try Validation.principal(change.project, field: "project")
        for (name, value) in [("instances", change.instances), ("cores", change.cores), ("ram", change.ram)] {
            if let value, value < -1 { throw .invalidField(name, "must be -1 (unlimited) or more.") }
        }
        var merged = self
        merged.instances = change.instances ?? instances
        merged.cores = change.cores ?? cores
        merged.ram = change.ram ?? ram
        return merged
    }
}

/// Where the inventory learns each project's own limits (records, like tokens); the defaults
/// are configuration, kept by the `Inventory`.
public protocol QuotaSource: Sendable {
    /// A project's limits: its override over `defaults`, or `defaults` when it has none.
    /// Throws (`.unavailable`) when they cannot be read right now, never answering with the
    /// defaults instead of an override it could not read.
    func limits(for projectID: String, defaults: QuotaLimits) throws(ComputeError) -> QuotaLimits
    /// Stores the project's override merged with `change` (the limits it names); what it is now.
    func setOverride(_ change: QuotaOverride) throws(ComputeError) -> QuotaOverride
    /// Forgets the project's override: it gets the defaults again.
    func removeOverride(project: String) throws(ComputeError)
}

/// Overrides in memory only: for tests, and a worker whose quotas are not kept.
public final class MemoryQuotaOverrides: QuotaSource {
    private let overrides = Locked<[String: QuotaOverride]>([:])

    public init() {}

    public func limits(for projectID: String, defaults: QuotaLimits) -> QuotaLimits {
        overrides.withLock { $0[projectID] }.map { $0.applied(to: defaults) } ?? defaults
    }

    public func setOverride(_ change: QuotaOverride) throws(ComputeError) -> QuotaOverride {
        let merged = try (overrides.withLock { $0[change.project] } ?? QuotaOverride(project: change.project)).merging(change)
        overrides.withLock { $0[change.project] = merged }
        return merged
    }

    public func removeOverride(project: String) { overrides.withLock { _ = $0.removeValue(forKey: project) } }
}
