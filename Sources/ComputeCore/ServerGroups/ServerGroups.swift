/// How a server group's members are to be placed on hosts (Nova's policies; the soft ones
/// came with 2.15).
public enum ServerGroupPolicy: String, Codable, Sendable, CaseIterable {
    case affinity
    case antiAffinity = "anti-affinity"
    case softAffinity = "soft-affinity"
    case softAntiAffinity = "soft-anti-affinity"
}

/// A Nova server group: a project's named set of servers with a placement policy. Servers join
/// it when they are created (`os:scheduler_hints` `group`); `members` keeps every server that
/// joined, and those deleted since are left out when it is read. Stored with the identity
/// records, as key pairs are, so every host sees it.
public struct ServerGroupRecord: IdentityRecord {
    public static let collection = IdentityCollection.serverGroups
    public var format = 1
    public var id: String
    public var name: String
    public var project: String
    public var user: String
    public var policy: ServerGroupPolicy
    /// Nova's `rules` (2.64): how many members an anti-affinity group puts on one host.
    public var maxServerPerHost: Int?
    public var members: [String] = []
    public var created: String

    enum CodingKeys: String, CodingKey {
        case format, id, name, project, user, policy, members, created
        case maxServerPerHost = "max_server_per_host"
    }

    public init(
        id: String, name: String, caller: Caller, policy: ServerGroupPolicy, maxServerPerHost: Int?, created: Timestamp
    ) {
        self.id = id
        self.name = name
        self.project = caller.projectID
        self.user = caller.userID
        self.policy = policy
        self.maxServerPerHost = maxServerPerHost
        self.created = created.iso8601Microseconds
    }

    /// The members that still exist, as `isLive` tells.
    public func liveMembers(_ isLive: (String) throws(ComputeError) -> Bool) throws(ComputeError) -> [String] {
        var live: [String] = []
        for member in members where try isLive(member) { live.append(member) }
        return live
    }
}

/// Nova's server groups over the identity records: each project's own (an admin reaches any),
/// at most `maxServerGroupsPerProject` a project and `maxMembersPerServerGroup` servers a group
/// by default (Nova's default quotas; the callers pass the project's, -1 for no limit).
extension Identity {
    public static let maxServerGroupsPerProject = 10
    public static let maxMembersPerServerGroup = 10

    /// The groups of `projectID`, or of every project when it is nil, oldest first.
    public func serverGroups(projectID: String?) throws(ComputeError) -> [ServerGroupRecord] {
        try store.all(ServerGroupRecord.self).filter { projectID == nil || $0.project == projectID }
            .sorted { ($0.created, $0.id) < ($1.created, $1.id) }
    }

    /// Group `id` if `caller` may reach it, else Nova's 404 (the same for another project's).
    public func serverGroup(id: String, caller: Caller) throws(ComputeError) -> ServerGroupRecord {
        guard let group = try store.record(ServerGroupRecord.self, id: id), caller.canReach(projectID: group.project) else {
            throw .notFound("Server group \(id.prefix(255)) could not be found.")
        }
        return group
    }

    public func createServerGroup(
        name: String, policy: ServerGroupPolicy, maxServerPerHost: Int?, caller: Caller,
        limit: Int = maxServerGroupsPerProject
    ) throws(ComputeError) -> ServerGroupRecord {
        let group = ServerGroupRecord(
            id: RandomIdentifiers().uuid(), name: name, caller: caller, policy: policy, maxServerPerHost: maxServerPerHost,
            created: clock.now())
        try writer.withLock { _ throws(ComputeError) in
            let count = try serverGroups(projectID: caller.projectID).count
            guard limit < 0 || count < limit else {
                throw .forbidden("Quota exceeded, too many server groups.")
            }
            try store.save(group)
        }
        return group
    }

    public func deleteServerGroup(id: String, caller: Caller) throws(ComputeError) {
        try writer.withLock { _ throws(ComputeError) in
            let group = try serverGroup(id: id, caller: caller)
            guard try store.remove(ServerGroupRecord.self, id: group.id) else {
                throw .notFound("Server group \(id.prefix(255)) could not be found.")
            }
        }
    }

    /// Creates servers into group `id`: checks that `count` more fit its member quota and its
    /// policy (anti-affinity puts at most `maxServerPerHost`, by default 1, on a host, and this
    /// service has one), runs `create` (which answers the new servers' ids), and records them as
    /// members. `isLive` tells which recorded members still exist. On one host the writer lock
    /// makes check and record one step; two hosts racing for a group's last places may both get
    /// in (the record itself is changed only over what was read, so no member is lost).
    public func creatingMembers(
        ofServerGroup id: String, count: Int, caller: Caller, memberLimit: Int = maxMembersPerServerGroup,
        isLive: (String) throws(ComputeError) -> Bool, create: () throws(ComputeError) -> [String]
    ) throws(ComputeError) -> [String] {
        try writer.withLock { _ throws(ComputeError) in
            guard let group = try store.record(ServerGroupRecord.self, id: id), caller.canReach(projectID: group.project)
            else {
                // Nova's answer for a hint naming no group: the request is wrong, not the URL.
                throw .invalidInput("Invalid server group: \(id) could not be found.")
            }
            let live = try group.liveMembers(isLive)
            guard memberLimit < 0 || live.count + count <= memberLimit else {
                throw .forbidden("Quota exceeded, too many servers in group")
            }
            let perHost = group.maxServerPerHost ?? 1
            if group.policy == .antiAffinity, live.count + count > perHost {
                throw .conflict(
                    "No valid host was found: server group \(group.id) (anti-affinity) allows \(perHost) server(s) on a host, "
                        + "and this service has one host with \(live.count) of its members.")
            }
            let created = try create()
            var current = group
            for _ in 0..<5 {
                var joined = current
                joined.members = try current.liveMembers(isLive) + created
                if try store.replace(current, with: joined) { break }
                // Changed on another host meanwhile (or deleted: then there is nothing to join).
                guard let again = try store.record(ServerGroupRecord.self, id: id) else { break }
                current = again
            }
            return created
        }
    }

    /// The groups (of the server's project) `serverID` is a member of: Nova's `server_groups`.
    public func serverGroups(containing serverID: String, projectID: String) throws(ComputeError) -> [String] {
        try serverGroups(projectID: projectID).filter { $0.members.contains(serverID) }.map(\.id)
    }

    /// Nova's rule for a group's name: 1 to 255 characters, not only spaces.
    public static func checkServerGroupName(_ name: String) throws(ComputeError) {
        guard (1...255).contains(name.count), name.contains(where: { $0 != " " }) else {
            throw .invalidField("server_group.name", "1 to 255 characters, not only spaces.")
        }
    }
}
