/// A rule as a client asks for it, checked the way Neutron checks one: the protocol a name it
/// knows or a number 0–255, ports only with a protocol that has them (1–65535, min ≤ max, both
/// given) or an ICMP type and code (0–255, no code without a type), an address prefix of the
/// rule's IP version, and not both a prefix and a remote group.
public struct SecurityGroupRuleDraft: Sendable {
    public var direction: String
    public var ethertype: String?
    public var ipProtocol: String?
    public var portRangeMin: Int?
    public var portRangeMax: Int?
    public var remoteIPPrefix: String?
    public var remoteGroupID: String?
    public var description: String?

    public init(direction: String, ipProtocol: String? = nil, ports: ClosedRange<Int>? = nil) {
        self.direction = direction
        self.ipProtocol = ipProtocol
        self.portRangeMin = ports?.lowerBound
        self.portRangeMax = ports?.upperBound
    }

    /// Neutron's protocol names.
    static let protocolNames: Set<String> = [
        "ah", "dccp", "egp", "esp", "gre", "hopopt", "icmp", "igmp", "ipip", "ipv6-encap", "ipv6-frag", "ipv6-icmp",
        "icmpv6", "ipv6-nonxt", "ipv6-opts", "ipv6-route", "ospf", "pgm", "rsvp", "sctp", "tcp", "udp", "udplite", "vrrp",
    ]
    /// The protocols with ports, by name and number.
    static let portProtocols: Set<String> = ["tcp", "udp", "udplite", "sctp", "dccp", "6", "17", "136", "132", "33"]
    static let icmpProtocols: Set<String> = ["icmp", "icmpv6", "ipv6-icmp", "1", "58"]

    /// The rule, with id `id`, made at `now`; Neutron's 400 for what it would refuse.
    public func rule(id: String, at now: Timestamp) throws(ComputeError) -> SecurityGroupRule {
        guard let direction = SecurityGroupRule.Direction(rawValue: direction) else {
            throw .invalidInput("Invalid input for direction. Reason: '\(direction.prefix(64))' is not in ['ingress', 'egress'].")
        }
        let ethertype = try Self.ethertype(ethertype ?? "IPv4")
        let ipProtocol = try Self.ipProtocol(ipProtocol, ethertype: ethertype)
        try Self.checkPorts(portRangeMin, portRangeMax, ipProtocol: ipProtocol)
        if remoteIPPrefix != nil, remoteGroupID != nil {
            throw .invalidInput("Only remote_ip_prefix or remote_group_id may be provided.")
        }
        let prefix = try remoteIPPrefix.map { text throws(ComputeError) in try Self.prefix(text, ethertype: ethertype) }
        let description = description ?? ""
        guard description.count <= 255 else {
            throw .invalidField("security_group_rule.description", "at most 255 characters.")
        }
        return SecurityGroupRule(
            id: id, direction: direction, ethertype: ethertype, ipProtocol: ipProtocol, portRangeMin: portRangeMin,
            portRangeMax: portRangeMax, remoteIPPrefix: prefix, remoteGroupID: remoteGroupID, description: description,
            created: now)
    }

    static func ethertype(_ text: String) throws(ComputeError) -> SecurityGroupRule.Ethertype {
        switch text.lowercased() {
        case "ipv4": return .ipv4
        case "ipv6": return .ipv6
        default: throw .invalidInput("Invalid input for ethertype. Reason: '\(text.prefix(64))' is not in ['IPv4', 'IPv6'].")
        }
    }

    /// The protocol as stored: a lower-case name or a number, nil for any.
    static func ipProtocol(_ text: String?, ethertype: SecurityGroupRule.Ethertype) throws(ComputeError) -> String? {
        guard let text, !text.isEmpty, text.lowercased() != "any" else { return nil }
        let name = text.lowercased()
        if let number = Int(name) {
            guard (0...255).contains(number), String(number) == name else {
                throw .invalidInput("Security group rule protocol \(text.prefix(64)) not supported: a number is 0 to 255.")
            }
        } else if !protocolNames.contains(name) {
            throw .invalidInput(
                "Security group rule protocol \(text.prefix(64)) not supported. Only protocol values "
                    + "\(protocolNames.sorted()) and integer representations [0 to 255] are supported.")
        }
        if ethertype == .ipv4, name == "icmpv6" || name == "ipv6-icmp" || name == "58" {
            throw .invalidInput("Protocol \(name) is not supported with ethertype IPv4.")
        }
        return name
    }

    static func checkPorts(_ low: Int?, _ high: Int?, ipProtocol: String?) throws(ComputeError) {
        guard low != nil || high != nil else { return }
        guard let ipProtocol else { throw .invalidInput("Must also specify protocol if port range is given.") }
        if portProtocols.contains(ipProtocol) {
            guard let low, let high, (1...65535).contains(low), (1...65535).contains(high) else {
                throw .invalidInput("Invalid value for port: both port_range_min and port_range_max, from 1 to 65535.")
            }
            guard low <= high else {
                throw .invalidInput("For TCP/UDP protocols, port_range_min must be <= port_range_max")
            }
        } else if icmpProtocols.contains(ipProtocol) {
            for (name, value) in [("type", low), ("code", high)] {
                if let value, !(0...255).contains(value) {
                    throw .invalidInput("Invalid value for ICMP \(name) \(value): it is 0 to 255.")
                }
            }
            guard low != nil || high == nil else {
                throw .invalidInput(
                    "ICMP code (port-range-max) \(high ?? 0) is provided but ICMP type (port-range-min) is missing.")
            }
        } else {
            throw .invalidInput(
                "Invalid protocol \(ipProtocol) for port range, only supported for TCP, UDP, UDPLITE, SCTP and DCCP.")
        }
    }

    /// `remote_ip_prefix` in its network form (`10.0.0.5/24` is `10.0.0.0/24`; an address
    /// alone is a /32 or /128), of the rule's IP version.
    static func prefix(_ text: String, ethertype: SecurityGroupRule.Ethertype) throws(ComputeError) -> String {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let address = String(parts[0])
        let length = parts.count == 2 ? Int(parts[1]) : nil
        if let v4 = IPv4Address(address) {
            guard ethertype == .ipv4 else { throw .invalidInput("Conflicting value ethertype IPv6 for CIDR \(text.prefix(64))") }
            let bits = parts.count == 2 ? length : 32
            guard let bits, (0...32).contains(bits) else { throw Self.badPrefix(text) }
            let mask: UInt32 = bits == 0 ? 0 : ~0 << (32 - bits)
            return "\(IPv4Address(v4.value & mask))/\(bits)"
        }
        if var groups = IPv6Groups(address) {
            guard ethertype == .ipv6 else { throw .invalidInput("Conflicting value ethertype IPv4 for CIDR \(text.prefix(64))") }
            let bits = parts.count == 2 ? length : 128
            guard let bits, (0...128).contains(bits) else { throw Self.badPrefix(text) }
            groups.keepFirst(bits)
            return "\(groups)/\(bits)"
        }
        throw Self.badPrefix(text)
    }

    static func badPrefix(_ text: String) -> ComputeError {
        .invalidInput("Invalid input for remote_ip_prefix. Reason: '\(text.prefix(64))' is not a valid IP subnet.")
    }
}

/// An IPv6 address as eight 16-bit groups, parsed from and written in RFC 5952's text form
/// (no embedded IPv4 part).
struct IPv6Groups: CustomStringConvertible {
    var groups: [UInt16]

    init?(_ text: String) {
        guard text.count <= 39, !text.isEmpty else { return nil }
        let halves = text.components(separatedByDoubleColon: ())
        guard halves.count <= 2 else { return nil }
        func parse(_ part: Substring) -> [UInt16]? {
            guard !part.isEmpty else { return [] }
            var out: [UInt16] = []
            for group in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard (1...4).contains(group.count), group.allSatisfy({ $0.isASCII && $0.isHexDigit }),
                    let value = UInt16(group, radix: 16)
                else { return nil }
                out.append(value)
            }
            return out
        }
        guard let head = parse(halves[0]) else { return nil }
        if halves.count == 1 {
            guard head.count == 8 else { return nil }
            groups = head
        } else {
            guard let tail = parse(halves[1]), head.count + tail.count <= 7 else { return nil }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        }
    }

    /// Clears every bit after the first `bits`.
    mutating func keepFirst(_ bits: Int) {
        for index in groups.indices {
            let kept = min(max(bits - index * 16, 0), 16)
            groups[index] &= kept == 0 ? 0 : ~0 << (16 - kept)
        }
    }

    var description: String {
        // The longest run of two or more zero groups (the first of equals) becomes "::".
        var best = (start: -1, count: 0)
        var index = 0
        while index < 8 {
            var end = index
            while end < 8, groups[end] == 0 { end += 1 }
            if end - index > best.count, end - index >= 2 { best = (index, end - index) }
            index = max(end, index + 1)
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.start >= 0 else { return hex.joined(separator: ":") }
        let head = hex[..<best.start].joined(separator: ":")
        let tail = hex[(best.start + best.count)...].joined(separator: ":")
        return head + "::" + tail
    }
}

extension String {
    /// Split at each "::" (an IPv6 address has at most one).
    fileprivate func components(separatedByDoubleColon _: Void) -> [Substring] {
        var parts: [Substring] = []
        var start = startIndex
        var index = startIndex
        while index < endIndex {
            let next = self.index(after: index)
            if self[index] == ":", next < endIndex, self[next] == ":" {
                parts.append(self[start..<index])
                start = self.index(after: next)
                index = start
            } else {
                index = next
            }
        }
        parts.append(self[start...])
        return parts
    }
}
