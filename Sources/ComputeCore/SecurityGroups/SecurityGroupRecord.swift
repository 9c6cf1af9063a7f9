/// A rule of a security group, in Neutron's terms: traffic in one direction, of one IP
/// version, optionally one protocol and port range, from (or to) an address prefix or the
/// members of a group. Kept and shown; no packet is filtered here, there being no guests.
public struct SecurityGroupRule: Codable, Sendable, Equatable {
    public var id: String
    public var direction: Direction
    public var ethertype: Ethertype
    /// `tcp`, `udp`, `icmp`, `icmpv6`, … or a protocol number; nil: any.
    public var ipProtocol: String?
    public var portRangeMin: Int?
    public var portRangeMax: Int?
    public var remoteIPPrefix: String?
    public var remoteGroupID: String?
    public var description: String
    public var created: String

    public enum Direction: String, Codable, Sendable { case ingress, egress }
    public enum Ethertype: String, Codable, Sendable {
        case ipv4 = "IPv4"
        case ipv6 = "IPv6"
    }

    enum CodingKeys: String, CodingKey {
        case id, direction, ethertype, description, created
        case ipProtocol = "protocol"
        case portRangeMin = "port_range_min"
        case portRangeMax = "port_range_max"
        case remoteIPPrefix = "remote_ip_prefix"
        case remoteGroupID = "remote_group_id"
    }

    public init(
        id: String, direction: Direction, ethertype: Ethertype, ipProtocol: String? = nil, portRangeMin: Int? = nil,
        portRangeMax: Int? = nil, remoteIPPrefix: String? = nil, remoteGroupID: String? = nil, description: String = "",
        created: Timestamp
    ) {
        self.id = id
        self.direction = direction
        self.ethertype = ethertype
        self.ipProtocol = ipProtocol
        self.portRangeMin = portRangeMin
        self.portRangeMax = portRangeMax
        self.remoteIPPrefix = remoteIPPrefix
        self.remoteGroupID = remoteGroupID
        self.description = description
        self.created = created.iso8601Seconds
    }

    /// Whether two rules allow the same traffic (Neutron refuses the second with a 409).
    public func sameTraffic(as other: SecurityGroupRule) -> Bool {
        direction == other.direction && ethertype == other.ethertype && ipProtocol == other.ipProtocol
            && portRangeMin == other.portRangeMin && portRangeMax == other.portRangeMax
            && remoteIPPrefix == other.remoteIPPrefix && remoteGroupID == other.remoteGroupID
    }
}

/// A Neutron security group: a project's named set of rules that servers are in. Every project
/// has one named `default` (made when the project first asks, with a fixed id derived from the
/// project, so two hosts making it at once make the same record). Stored with the identity
/// records, as key pairs and server groups are; servers name theirs in their own record.
public struct SecurityGroupRecord: IdentityRecord {
    public static let collection = IdentityCollection.securityGroups
    public var format = 1
    public var id: String
    public var name: String
    public var description: String
    public var project: String
    public var rules: [SecurityGroupRule]
    public var created: String
    public var updated: String
    /// Neutron's `revision_number`: one more with each change.
    public var revision = 0

    public init(id: String, name: String, description: String, project: String, created: Timestamp) {
        self.id = id
        self.name = name
        self.description = description
        self.project = project
        self.rules = []
        self.created = created.iso8601Seconds
        self.updated = self.created
    }

    public var isDefault: Bool { id == Self.defaultID(project: project) }

    /// The fixed id of `project`'s `default` group.
    public static func defaultID(project: String) -> String { derivedID("alliance-default-security-group\0\(project)") }

    /// A UUID-shaped id made from the first 16 bytes of the SHA-256 of `seed`.
    static func derivedID(_ seed: String) -> String {
        let h = Array(Secrets.hex(Secrets.sha256(Array(seed.utf8)).prefix(16)))
        return [h[0..<8], h[8..<12], h[12..<16], h[16..<20], h[20..<32]].map { String($0) }.joined(separator: "-")
    }

    /// What Neutron gives a new group: all traffic out, over IPv4 and IPv6; the default group
    /// also lets in what comes from its own members.
    mutating func addInitialRules(at now: Timestamp) {
        var rules: [SecurityGroupRule] = []
        for (index, ethertype) in [SecurityGroupRule.Ethertype.ipv4, .ipv6].enumerated() {
            rules.append(SecurityGroupRule(id: ruleID(index), direction: .egress, ethertype: ethertype, created: now))
            if isDefault {
                rules.append(
                    SecurityGroupRule(
                        id: ruleID(index + 2), direction: .ingress, ethertype: ethertype, remoteGroupID: id, created: now))
            }
        }
        self.rules = rules
    }

    /// The initial rules' ids: derived from the group's, so the default group is the same
    /// record whichever host makes it.
    private func ruleID(_ index: Int) -> String { Self.derivedID("\(id)/\(index)") }
}
