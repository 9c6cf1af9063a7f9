public import ComputeCore

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

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

/// Per-project quota overrides, from `quotas/`.
public final class QuotaFiles: QuotaSource {
    static let subdirectory = "quotas"
    private let files: WatchedDirectory<QuotaOverride>

    public init(dataDirectory: String, report: @escaping @Sendable ([String]) -> Void = { _ in }) {
        files = WatchedDirectory(dataDirectory: dataDirectory, subdirectory: Self.subdirectory, report: report)
    }

    public func limits(for projectID: String, defaults: QuotaLimits) -> QuotaLimits {
        files.items[projectID].map { $0.applied(to: defaults) } ?? defaults
    }

    /// Stores a project's override, merged with the one it had.
    public static func set(_ change: QuotaOverride, dataDirectory: String) throws -> QuotaOverride {
        try Validation.principal(change.project, field: "project")
        let current = try overrides(dataDirectory: dataDirectory).items[change.project] ?? QuotaOverride(project: change.project)
        let merged = try current.merging(change)
        try ControlDirectory.write(merged, name: change.project, dataDirectory: dataDirectory, subdirectory: subdirectory)
        return merged
    }

    public static func overrides(dataDirectory: String) throws -> (items: [String: QuotaOverride], problems: [String]) {
        try ControlDirectory.readAll(QuotaOverride.self, dataDirectory: dataDirectory, subdirectory: subdirectory)
    }
}
