/// Neutron's security groups over the identity records: each project's own (an admin reaches
/// any), a `default` one in every project, at most `maxSecurityGroupsPerProject` groups and
/// `maxRulesPerProject` rules a project (Neutron's default quotas, reported by its quota API).
extension Identity {
    public static let maxSecurityGroupsPerProject = 10
    public static let maxRulesPerProject = 100

    /// The groups of `projectID` (its `default` one first made if it is not there yet), or of
    /// every project when it is nil; oldest first.
    public func securityGroups(projectID: String?) throws(ComputeError) -> [SecurityGroupRecord] {
        if let projectID { _ = try defaultSecurityGroup(projectID: projectID) }
        return try store.all(SecurityGroupRecord.self).filter { projectID == nil || $0.project == projectID }
            .sorted { ($0.created, $0.id) < ($1.created, $1.id) }
    }

    /// `projectID`'s `default` group, made now if it is not there yet (on several hosts at
    /// once, one makes it: an insert, never over what another host made and changed since).
    public func defaultSecurityGroup(projectID: String) throws(ComputeError) -> SecurityGroupRecord {
        let id = SecurityGroupRecord.defaultID(project: projectID)
        if let found = try store.record(SecurityGroupRecord.self, id: id) { return found }
        var group = SecurityGroupRecord(
            id: id, name: "default", description: "Default security group", project: projectID, created: clock.now())
        group.addInitialRules(at: clock.now())
        let made = try writer.withLock { _ throws(ComputeError) in try store.insert(group) }
        return made ? group : try store.record(SecurityGroupRecord.self, id: id) ?? group
    }

    /// Group `id` if `caller` may reach it, else Neutron's 404 (the same for another project's).
    public func securityGroup(id: String, caller: Caller) throws(ComputeError) -> SecurityGroupRecord {
        if id == SecurityGroupRecord.defaultID(project: caller.projectID) {
            return try defaultSecurityGroup(projectID: caller.projectID)
        }
        guard let group = try store.record(SecurityGroupRecord.self, id: id), caller.canReach(projectID: group.project)
        else { throw .notFound("Security group \(id.prefix(255)) does not exist") }
        return group
    }

    /// A new group in `projectID` (the caller's; an admin's may be another's), with Neutron's
    /// initial rules; "default" is taken, and a project has at most `maxSecurityGroupsPerProject`.
    public func createSecurityGroup(
        name: String, description: String, projectID: String, caller: Caller
    ) throws(ComputeError) -> SecurityGroupRecord {
        try Self.checkSecurityGroupText(name: name, description: description)
        guard caller.canReach(projectID: projectID) else {
            throw .forbidden("Only an admin may make a security group in another project.")
        }
        guard name != "default" else { throw .conflict("Default security group already exists.") }
        var group = SecurityGroupRecord(
            id: RandomIdentifiers().uuid(), name: name, description: description, project: projectID, created: clock.now())
        group.addInitialRules(at: clock.now())
        _ = try defaultSecurityGroup(projectID: projectID)
        try writer.withLock { _ throws(ComputeError) in
            var count = 0
            for existing in try store.all(SecurityGroupRecord.self) where existing.project == projectID { count += 1 }
            guard count < Self.maxSecurityGroupsPerProject else {
                throw .conflict("Quota exceeded for resources: ['security_group'].")
            }
            try store.save(group)
        }
        return group
    }

    /// Renames or re-describes a group (not the default group's name).
    public func updateSecurityGroup(
        id: String, name: String?, description: String?, caller: Caller
    ) throws(ComputeError) -> SecurityGroupRecord {
        try changingSecurityGroup(id: id, caller: caller) { group throws(ComputeError) in
            try Self.checkSecurityGroupText(name: name ?? group.name, description: description ?? group.description)
            if let name, name != group.name {
                guard !group.isDefault, name != "default" else {
                    throw .conflict("Updating default security group not allowed.")
                }
                group.name = name
            }
            if let description { group.description = description }
        }
    }

    /// Deletes a group no server is in (`inUse` tells): Neutron's 409 otherwise, and for the
    /// project's `default` group.
    public func deleteSecurityGroup(
        id: String, caller: Caller, inUse: (SecurityGroupRecord) throws(ComputeError) -> Bool
    ) throws(ComputeError) {
        let group = try securityGroup(id: id, caller: caller)
        guard !group.isDefault || caller.isAdmin else {
            throw .conflict("Insufficient rights for removing default security group.")
        }
        try writer.withLock { _ throws(ComputeError) in
            guard try !inUse(group) else { throw .conflict("Security Group \(group.id) in use.") }
            guard try store.remove(SecurityGroupRecord.self, id: group.id) else {
                throw .notFound("Security group \(id.prefix(255)) does not exist")
            }
        }
        // As in Neutron, the rules that let its members in go with it.
        for other in try securityGroups(projectID: group.project)
        where other.rules.contains(where: { $0.remoteGroupID == group.id }) {
            _ = try changingSecurityGroup(id: other.id, caller: caller) { other throws(ComputeError) in
                other.rules.removeAll { $0.remoteGroupID == group.id }
            }
        }
    }

    // MARK: Rules

    /// Adds the rule `draft` asks for to group `groupID`: Neutron's 400 for a rule it would
    /// refuse, 409 for one allowing the same traffic as one there, 404 for a remote group the
    /// caller cannot reach.
    public func addSecurityGroupRule(
        _ draft: SecurityGroupRuleDraft, toGroup groupID: String, caller: Caller
    ) throws(ComputeError) -> (SecurityGroupRecord, SecurityGroupRule) {
        let rule = try draft.rule(id: RandomIdentifiers().uuid(), at: clock.now())
        if let remote = rule.remoteGroupID { _ = try securityGroup(id: remote, caller: caller) }
        let group = try changingSecurityGroup(id: groupID, caller: caller) { group throws(ComputeError) in
            if let same = group.rules.first(where: { $0.sameTraffic(as: rule) }) {
                throw .conflict("Security group rule already exists. Rule id is \(same.id).")
            }
            // Counted under the lock, over the project's other groups as stored now.
            var rules = group.rules.count
            for other in try store.all(SecurityGroupRecord.self) where other.project == group.project && other.id != group.id {
                rules += other.rules.count
            }
            guard rules < Self.maxRulesPerProject else {
                throw .conflict("Quota exceeded for resources: ['security_group_rule'].")
            }
            group.rules.append(rule)
        }
        return (group, rule)
    }

    /// The rule `id` and its group, among those `caller` reaches.
    public func securityGroupRule(id: String, caller: Caller) throws(ComputeError) -> (SecurityGroupRecord, SecurityGroupRule) {
        let groups = try securityGroups(projectID: caller.isAdmin ? nil : caller.projectID)
        for group in groups { if let rule = group.rules.first(where: { $0.id == id }) { return (group, rule) } }
        throw .notFound("Security group rule \(id.prefix(255)) does not exist")
    }

    public func deleteSecurityGroupRule(id: String, caller: Caller) throws(ComputeError) {
        let (group, _) = try securityGroupRule(id: id, caller: caller)
        _ = try changingSecurityGroup(id: group.id, caller: caller) { group throws(ComputeError) in
            guard group.rules.contains(where: { $0.id == id }) else {
                throw .notFound("Security group rule \(id.prefix(255)) does not exist")
            }
            group.rules.removeAll { $0.id == id }
        }
    }

    // MARK: Servers

    /// The ids of the groups `references` (names or ids) name in `caller`'s project, for a new
    /// server: Nova's 400 for one that is not there, its 409 for a name two groups have.
    public func securityGroupIDs(named references: [String], caller: Caller) throws(ComputeError) -> [String] {
        let groups = try securityGroups(projectID: caller.projectID)
        var ids: [String] = []
        for reference in references {
            let matches = groups.filter { $0.id == reference || $0.name == reference }
            guard let match = matches.first else {
                throw .invalidInput("Security group \(reference.prefix(255)) not found for project \(caller.projectID).")
            }
            guard matches.count == 1 else {
                throw .conflict(
                    "Multiple security groups found matching '\(reference.prefix(255))'. Use an ID to be more specific.")
            }
            if !ids.contains(match.id) { ids.append(match.id) }
        }
        return ids
    }

    /// One read-modify-write of a group: over what was read, retried when another host changed
    /// it meanwhile.
    func changingSecurityGroup(
        id: String, caller: Caller, _ change: (inout SecurityGroupRecord) throws(ComputeError) -> Void
    ) throws(ComputeError) -> SecurityGroupRecord {
        _ = try securityGroup(id: id, caller: caller)  // a project's default group is made outside the lock
        return try writer.withLock { _ throws(ComputeError) in
            for _ in 0..<5 {
                guard let current = try store.record(SecurityGroupRecord.self, id: id),
                    caller.canReach(projectID: current.project)
                else { throw .notFound("Security group \(id.prefix(255)) does not exist") }
                var changed = current
                try change(&changed)
                changed.revision += 1
                changed.updated = clock.now().iso8601Seconds
                if try store.replace(current, with: changed) { return changed }
            }
            throw .conflict("Security group \(id.prefix(255)) is being changed by another request; try again.")
        }
    }

    static func checkSecurityGroupText(name: String, description: String) throws(ComputeError) {
        guard name.count <= 255 else { throw .invalidField("security_group.name", "at most 255 characters.") }
        guard description.count <= 255 else { throw .invalidField("security_group.description", "at most 255 characters.") }
    }
}
