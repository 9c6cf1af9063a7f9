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

/// Where the inventory learns each project's own limits (records, like tokens); the defaults
/// are configuration, kept by the `Inventory`.
public protocol QuotaSource: Sendable {
    /// A project's limits: its override over `defaults`, or `defaults` when it has none.
    /// Throws (`.unavailable`) when they cannot be read right now, never answering with the
    /// defaults instead of an override it could not read.
    func limits(for projectID: String, defaults: QuotaLimits) throws(ComputeError) -> QuotaLimits
}

/// No project has limits of its own: each gets the defaults.
public struct NoQuotaOverrides: QuotaSource {
    public init() {}

    public func limits(for projectID: String, defaults: QuotaLimits) -> QuotaLimits { defaults }
}
