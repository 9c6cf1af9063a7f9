import ComputeCore

/// The security groups of servers as Nova shows and changes them: names on create (resolved in
/// the caller's project), `security_groups` in the server view, and the `addSecurityGroup` and
/// `removeSecurityGroup` actions. The groups themselves are Neutron's (NeutronSecurityGroups).
extension NovaAPI {
    /// The ids a create's `security_groups` names: nil for none or the default group alone.
    /// Without users (no identity records) only `default` exists.
    func securityGroupIDs(named names: [String], _ n: NovaContext) throws -> [String]? {
        guard !names.isEmpty else { return nil }
        guard let identity else {
            if let other = names.first(where: { $0 != "default" }) {
                throw ComputeError.invalidInput(
                    "Security group \(other.prefix(64)) not found: this service runs without users and has only 'default'.")
            }
            return nil
        }
        let ids = try identity.securityGroupIDs(named: names, caller: n.caller)
        return ids == [SecurityGroupRecord.defaultID(project: n.caller.projectID)] ? nil : ids
    }

    /// The names of a server's groups (none, when it was taken out of every one).
    func securityGroupNames(of server: Server) throws -> [String] {
        guard let ids = server.securityGroups else { return ["default"] }
        guard let identity else { return [] }
        var names: [String] = []
        for id in ids { if let group = try identity.store.record(SecurityGroupRecord.self, id: id) { names.append(group.name) } }
        return names
    }

    /// `addSecurityGroup` / `removeSecurityGroup` `{"name": NAME or ID}`: a group of the
    /// server's project (Nova's 404 when there is none such, or when removing one the server is
    /// not in; 400 when adding one it is in).
    func changeSecurityGroup(of serverID: String, _ reference: String, add: Bool, _ n: NovaContext) throws {
        let server = try inventory.server(.id(serverID), caller: n.caller)
        guard let identity else {
            throw ComputeError.invalidInput("Security groups other than 'default' need users: this service runs without them.")
        }
        let matches = try identity.securityGroups(projectID: server.projectID).filter {
            $0.id == reference || $0.name == reference
        }
        guard matches.count <= 1 else {
            throw ComputeError.conflict(
                "Multiple security groups found matching '\(reference.prefix(255))'. Use an ID to be more specific.")
        }
        guard let group = matches.first else {
            // A group deleted while a server was being put in it can still be taken out, by id.
            if !add, server.securityGroupIDs.contains(reference) {
                _ = try inventory.changeSecurityGroups(of: .id(serverID), caller: n.caller) { $0.removeAll { $0 == reference } }
                return
            }
            throw ComputeError.notFound("Security group \(reference.prefix(255)) not found for project \(server.projectID).")
        }
        _ = try inventory.changeSecurityGroups(of: .id(serverID), caller: n.caller) { ids throws(ComputeError) in
            if add {
                guard !ids.contains(group.id) else {
                    throw .invalidInput("Security group \(group.name) is already associated with the instance \(serverID)")
                }
                ids.append(group.id)
            } else {
                guard ids.contains(group.id) else {
                    throw .notFound("Security group \(group.name) not associated with the instance \(serverID)")
                }
                ids.removeAll { $0 == group.id }
            }
        }
        // The group may have been deleted meanwhile (its in-use check saw the server without
        // it): then the server leaves it again, and the client hears it is gone.
        if add, try identity.store.record(SecurityGroupRecord.self, id: group.id) == nil {
            _ = try inventory.changeSecurityGroups(of: .id(serverID), caller: n.caller) { $0.removeAll { $0 == group.id } }
            throw ComputeError.notFound("Security group \(reference.prefix(255)) not found for project \(server.projectID).")
        }
    }
}
