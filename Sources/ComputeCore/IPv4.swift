/// An IPv4 address as its 32-bit value.
public struct IPv4Address: Sendable, Hashable, Comparable, CustomStringConvertible, Encodable {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Dotted quad, strictly: four decimal parts 0–255, no leading zeros, nothing else.
    public init?(_ text: String) {
        // On the bytes: split into `Substring`s and checked as `Character`s, parsing was 6% of
        // start-up at 100,000 servers (perf).
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "."):
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | octet
                dots += 1
                octet = 0
                digits = 0
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                // At most three digits, no leading zero, at most 255.
                guard digits < 3, digits == 0 || octet != 0 else { return nil }
                octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
                guard octet <= 255 else { return nil }
                digits += 1
            default:
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        self.value = value << 8 | octet
    }

    public var description: String {
        var bytes: [UInt8] = []
        appendDottedQuad(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `10.0.0.2` as ASCII bytes, without making a `String`.
    public func appendDottedQuad(to bytes: inout [UInt8]) {
        for shift in [24, 16, 8, 0] as [UInt32] {
            let octet = UInt8(truncatingIfNeeded: value >> shift)
            if octet >= 100 { bytes.append(UInt8(ascii: "0") + octet / 100) }
            if octet >= 10 { bytes.append(UInt8(ascii: "0") + octet / 10 % 10) }
            bytes.append(UInt8(ascii: "0") + octet % 10)
            if shift != 0 { bytes.append(UInt8(ascii: ".")) }
        }
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A configured network: a name clients use and the IPv4 range servers get addresses from.
public struct NetworkConfig: Sendable, Hashable {
    /// What Nova's `networks: [{"uuid": …}]` and the Neutron-shaped listing use.
    public var id: String
    public var name: String
    public var network: IPv4Address
    public var prefixLength: Int
    /// The lowest address handed out (the contract's "first usable .2": .1 is the gateway).
    public var firstHost: IPv4Address
    /// The highest address handed out (the one below broadcast).
    public var lastHost: IPv4Address

    /// `private=10.0.0.0/24`; the first host is network + 2 unless `firstHost` says otherwise.
    /// The id is the name unless one is given.
    public init(name: String, cidr: String, firstHost: IPv4Address? = nil, id: String? = nil) throws(ComputeError) {
        guard Validation.isNetworkName(name) else {
            throw .invalidInput(
                "Network name '\(name)' must be 1–64 characters of letters, digits, '-', '_' or '.'.")
        }
        if let id { try Validation.identifier(id, field: "network \(name): id") }
        self.id = id ?? name
        let parts = cidr.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(String(parts[0])),
            let prefix = Int(parts[1]), (8...30).contains(prefix)
        else {
            throw .invalidInput("Network '\(name)': '\(cidr)' is not an IPv4 CIDR with a prefix from /8 to /30.")
        }
        let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - UInt32(prefix))
        guard address.value & ~mask == 0 else {
            throw .invalidInput("Network '\(name)': '\(cidr)' has host bits set.")
        }
        self.name = name
        self.network = address
        self.prefixLength = prefix
        self.lastHost = IPv4Address((address.value | ~mask) - 1)
        let first = firstHost ?? IPv4Address(address.value + 2)
        guard first.value > address.value, first <= lastHost else {
            throw .invalidInput("Network '\(name)': the first host \(first) is outside \(cidr).")
        }
        self.firstHost = first
    }

    public var cidr: String { "\(network)/\(prefixLength)" }

    public var capacity: Int { Int(lastHost.value - firstHost.value) + 1 }

    public func contains(_ address: IPv4Address) -> Bool {
        address >= firstHost && address <= lastHost
    }

    /// The default network the contract names: `private`, 10.0.0.0/24, first usable .2.
    public static let defaultPrivate: NetworkConfig = {
        do { return try NetworkConfig(name: "private", cidr: "10.0.0.0/24", id: defaultPrivateID) } catch {
            preconditionFailure("the built-in network is valid")
        }
    }()

    public static let defaultPrivateID = "c3a5f0d2-6e1b-4a7c-8f2d-0b9e4d6a1c57"
}
