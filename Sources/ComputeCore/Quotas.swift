/// Per-project limits (Nova's `instances`, `cores`, `ram` in MiB, and its other resources in
/// `others`, by name); -1 means unlimited.
public struct QuotaLimits: Sendable, Equatable {
    public var instances: Int
    public var cores: Int
    public var ram: Int
    /// Limits of `QuotaResource`s that differ from Nova's defaults, by name.
    public var others: [String: Int] = [:]

    /// The limit of `resource`.
    public func limit(_ resource: QuotaResource) -> Int { others[resource.rawValue] ?? resource.novaDefault }

    public init(instances: Int, cores: Int, ram: Int) {
        self.instances = instances
        self.cores = cores
        self.ram = ram
    }

    /// Nova's defaults.
    public static let novaDefaults = QuotaLimits(instances: 10, cores: 20, ram: 51_200)
    public static let unlimited = QuotaLimits(instances: -1, cores: -1, ram: -1)
}

/// Nova's quota resources beside instances, cores and RAM, with Nova's defaults. The first four
/// are enforced here (pairs of metadata a server, key pairs a user, server groups a project,
/// members a group); the rest are what Nova reported before 2.36 and 2.57 for resources this
/// service has not (floating and fixed IPs, Nova's own security groups, injected files): kept
/// and shown, as Nova with Neutron does.
public enum QuotaResource: String, CaseIterable, Sendable {
    case metadataItems = "metadata_items"
    case keyPairs = "key_pairs"
    case serverGroups = "server_groups"
    case serverGroupMembers = "server_group_members"
    case floatingIPs = "floating_ips"
    case fixedIPs = "fixed_ips"
    case securityGroups = "security_groups"
    case securityGroupRules = "security_group_rules"
    case injectedFiles = "injected_files"
    case injectedFileContentBytes = "injected_file_content_bytes"
    case injectedFilePathBytes = "injected_file_path_bytes"

    public var novaDefault: Int {
        switch self {
        case .metadataItems: 128
        case .keyPairs: 100
        case .serverGroups, .serverGroupMembers, .floatingIPs, .securityGroups: 10
        case .fixedIPs: -1
        case .securityGroupRules: 20
        case .injectedFiles: 5
        case .injectedFileContentBytes: 10_240
        case .injectedFilePathBytes: 255
        }
    }
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

/// A project's own limits, set with `alliance-compute quota set` or Nova's quota API; nil
/// fields keep the default. The `default` quota class (Nova's `os-quota-class-sets`: what every
/// project without a limit of its own gets, over the configured defaults) is kept as the
/// override of `defaultClass`, a key no project id can be (ids have no colon).
public struct QuotaOverride: Codable, Sendable, Equatable {
    public var format = 1
    public var project: String
    public var instances: Int?
    public var cores: Int?
    public var ram: Int?
    /// Limits of `QuotaResource`s, by name.
    public var others: [String: Int]?

    public static let defaultClass = ":default"

    public init(project: String, instances: Int? = nil, cores: Int? = nil, ram: Int? = nil, others: [String: Int]? = nil) {
        self.project = project
        self.instances = instances
        self.cores = cores
        self.ram = ram
        self.others = others
    }

    public func applied(to defaults: QuotaLimits) -> QuotaLimits {
        var limits = QuotaLimits(
            instances: instances ?? defaults.instances, cores: cores ?? defaults.cores, ram: ram ?? defaults.ram)
        limits.others = defaults.others.merging(others ?? [:]) { $1 }
        return limits
    }

    /// This override with `change`'s limits over it (the ones it names), checked.
    public func merging(_ change: QuotaOverride) throws(ComputeError) -> QuotaOverride {
        if change.project != Self.defaultClass { try Validation.principal(change.project, field: "project") }
        var named = [("instances", change.instances), ("cores", change.cores), ("ram", change.ram)]
        for (name, value) in (change.others ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard QuotaResource(rawValue: name) != nil else {
                throw .invalidField(String(name.prefix(64)), "is not a quota resource.")
            }
            named.append((name, value))
        }
        for (name, value) in named {
            if let value, value < -1 || value > Int(Int32.max) {
                throw .invalidField(name, "must be -1 (unlimited) or from 0 to \(Int32.max).")
            }
        }
        var merged = self
        merged.instances = change.instances ?? instances
        merged.cores = change.cores ?? cores
        merged.ram = change.ram ?? ram
        let others = (others ?? [:]).merging(change.others ?? [:]) { $1 }
        merged.others = others.isEmpty ? nil : others
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
