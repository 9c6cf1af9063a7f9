public import ComputeCore

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Per-project quota overrides, from `quotas/`: the CLI's `quota set` writes them, and so does
/// an admin's `PUT /v2.1/os-quota-sets/{project}` through the worker.
public final class QuotaFiles: QuotaSource {
    static let subdirectory = "quotas"
    private let dataDirectory: String
    private let files: WatchedDirectory<QuotaOverride>

    public init(dataDirectory: String, report: @escaping @Sendable ([String]) -> Void = { _ in }) {
        self.dataDirectory = dataDirectory
        files = WatchedDirectory(dataDirectory: dataDirectory, subdirectory: Self.subdirectory, report: report)
    }

    public func limits(for projectID: String, defaults: QuotaLimits) -> QuotaLimits {
        files.items[projectID].map { $0.applied(to: defaults) } ?? defaults
    }

    public func setOverride(_ change: QuotaOverride) throws(ComputeError) -> QuotaOverride {
        do {
            return try Self.set(change, dataDirectory: dataDirectory)
        } catch let error as ComputeError {
            throw error
        } catch {
            throw .cannotSave("quota overrides cannot be written")
        }
    }

    public func removeOverride(project: String) throws(ComputeError) {
        guard (try? Validation.principal(project, field: "project")) != nil else { return }
        do {
            _ = try ControlDirectory.remove(name: project, dataDirectory: dataDirectory, subdirectory: Self.subdirectory)
        } catch {
            throw .cannotSave("quota overrides cannot be written")
        }
    }

    /// Stores a project's override, merged with the one it had.
    public static func set(_ change: QuotaOverride, dataDirectory: String) throws -> QuotaOverride {
        if change.project != QuotaOverride.defaultClass { try Validation.principal(change.project, field: "project") }
        let current = try overrides(dataDirectory: dataDirectory).items[change.project] ?? QuotaOverride(project: change.project)
        let merged = try current.merging(change)
        try ControlDirectory.write(merged, name: change.project, dataDirectory: dataDirectory, subdirectory: subdirectory)
        return merged
    }

    public static func overrides(dataDirectory: String) throws -> (items: [String: QuotaOverride], problems: [String]) {
        try ControlDirectory.readAll(QuotaOverride.self, dataDirectory: dataDirectory, subdirectory: subdirectory)
    }
}
