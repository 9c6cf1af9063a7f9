/// The limits of projects: each project's override (Nova's `os-quota-sets`) over the `default`
/// quota class (`os-quota-class-sets/default`) over the configured defaults.
extension Inventory {
    /// A project's limits: its override over the defaults.
    public func limits(projectID: String) throws(ComputeError) -> QuotaLimits {
        try quotas.limits(for: projectID, defaults: try defaultLimits())
    }

    /// The limits of a project without an override of its own: the `default` quota class
    /// (an admin's `PUT os-quota-class-sets/default`) over the configured defaults.
    public func defaultLimits() throws(ComputeError) -> QuotaLimits {
        try quotas.limits(for: QuotaOverride.defaultClass, defaults: quotaDefaults)
    }

    /// What a project's servers use, and its limits.
    public func quota(projectID: String) throws(ComputeError) -> (limits: QuotaLimits, usage: QuotaUsage) {
        (try limits(projectID: projectID), try store.usage(projectID: projectID))
    }

    /// Changes a project's own limits (the ones `change` names; an admin's `PUT
    /// os-quota-sets`), and what the project's limits are now.
    public func setQuota(_ change: QuotaOverride) throws(ComputeError) -> QuotaLimits {
        try Validation.principal(change.project, field: "project")
        return try quotas.setOverride(change).applied(to: try defaultLimits())
    }

    /// Changes the `default` quota class (the limits `change` names), and what it is now.
    public func setDefaultLimits(_ change: QuotaOverride) throws(ComputeError) -> QuotaLimits {
        var change = change
        change.project = QuotaOverride.defaultClass
        return try quotas.setOverride(change).applied(to: quotaDefaults)
    }

    /// Gives a project the defaults again (an admin's `DELETE os-quota-sets`).
    public func resetQuota(projectID: String) throws(ComputeError) {
        try Validation.principal(projectID, field: "project")
        try quotas.removeOverride(project: projectID)
    }

    /// Nova's 403 for more pairs than the project's `metadata_items` (at most
    /// `Validation.maxMetadataPairs` whatever the quota: what a record holds).
    func checkMetadataQuota(_ metadata: [String: String], projectID: String) throws(ComputeError) {
        let limit = try limits(projectID: projectID).limit(.metadataItems)
        let allowed = limit < 0 ? Validation.maxMetadataPairs : min(limit, Validation.maxMetadataPairs)
        guard metadata.count <= allowed else {
            throw .forbidden("Quota exceeded for metadata_items: a server has at most \(allowed) pairs.")
        }
    }
}
