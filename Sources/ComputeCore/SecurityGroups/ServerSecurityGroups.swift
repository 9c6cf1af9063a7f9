/// Which security groups a server is in: Nova's `addSecurityGroup` and `removeSecurityGroup`
/// actions change it, one read-modify-write of the server each.
extension Inventory {
    /// Changes the ids of `reference`'s groups (the default group alone, kept as nil, is its
    /// id while `change` runs).
    public func changeSecurityGroups(
        of reference: Reference, caller: Caller, _ change: (inout [String]) throws(ComputeError) -> Void
    ) throws(ComputeError) -> Server {
        try changeServer(reference, caller: caller) { server throws(ComputeError) in
            let projectDefault = SecurityGroupRecord.defaultID(project: server.projectID)
            var groups = server.securityGroups ?? [projectDefault]
            try change(&groups)
            server.securityGroups = groups == [projectDefault] ? nil : groups
        }
    }

    /// Whether any of `projectID`'s servers is one `test` holds for (read a page at a time).
    public func anyServer(
        ofProject projectID: String, _ test: (Server) throws(ComputeError) -> Bool
    ) throws(ComputeError) -> Bool {
        var after: ServerOrderKey? = nil
        while true {
            let page = try store.servers(matching: ServerFilter(projectID: projectID), after: after, limit: Self.scanChunk)
            for server in page.servers where try test(server) { return true }
            guard let next = page.resumeAfter else { return false }
            after = next
        }
    }
}

extension Server {
    /// The ids of its security groups, the default group's included.
    public var securityGroupIDs: [String] { securityGroups ?? [SecurityGroupRecord.defaultID(project: projectID)] }
}
