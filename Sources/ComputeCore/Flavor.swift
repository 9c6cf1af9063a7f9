/// A flavor: the size of a server (vCPUs, RAM, disk).
public struct Flavor: Sendable, Equatable {
    /// What clients call it: a short string such as `"2"` or `"m1.custom"`, or a generated UUID.
    public var id: String
    public var name: String
    public var vcpus: Int
    /// MiB.
    public var ram: Int
    /// GiB.
    public var disk: Int
    /// MiB.
    public var swap: Int
    /// GiB.
    public var ephemeral: Int
    public var isPublic: Bool
    public var description: String?
    public var extraSpecs: [String: String]
    public var created: Timestamp
    /// The name of the flavor's record file. Flavor ids may be `..` or 255 characters long, so
    /// they cannot name files; this UUID does.
    public var recordKey: String

    public init(
        id: String, name: String, vcpus: Int, ram: Int, disk: Int, swap: Int = 0, ephemeral: Int = 0,
        isPublic: Bool = true, description: String? = nil, extraSpecs: [String: String] = [:],
        created: Timestamp, recordKey: String
    ) {
        self.id = id
        self.name = name
        self.vcpus = vcpus
        self.ram = ram
        self.disk = disk
        self.swap = swap
        self.ephemeral = ephemeral
        self.isPublic = isPublic
        self.description = description
        self.extraSpecs = extraSpecs
        self.created = created
        self.recordKey = recordKey
    }

    /// The copy of the flavor a server keeps from its creation on.
    public var snapshot: FlavorSnapshot {
        FlavorSnapshot(
            id: id, name: name, vcpus: vcpus, ram: ram, disk: disk, swap: swap, ephemeral: ephemeral, extraSpecs: extraSpecs)
    }

    /// The classic defaults a new data directory starts with (the contract's table).
    public static func defaults(created: Timestamp, recordKey: () -> String) -> [Flavor] {
        [
            ("1", "m1.tiny", 1, 512, 1), ("2", "m1.small", 1, 2048, 20), ("3", "m1.medium", 2, 4096, 40),
            ("4", "m1.large", 4, 8192, 80), ("5", "m1.xlarge", 8, 16384, 160),
        ].map { id, name, vcpus, ram, disk in
            Flavor(id: id, name: name, vcpus: vcpus, ram: ram, disk: disk, created: created, recordKey: recordKey())
        }
    }
}

/// A server's own copy of its flavor, taken at create time; later flavor changes don't touch it.
public struct FlavorSnapshot: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var vcpus: Int
    public var ram: Int
    public var disk: Int
    public var swap: Int
    public var ephemeral: Int
    public var extraSpecs: [String: String]

    public init(
        id: String, name: String, vcpus: Int, ram: Int, disk: Int, swap: Int, ephemeral: Int, extraSpecs: [String: String]
    ) {
        self.id = id
        self.name = name
        self.vcpus = vcpus
        self.ram = ram
        self.disk = disk
        self.swap = swap
        self.ephemeral = ephemeral
        self.extraSpecs = extraSpecs
    }

    enum CodingKeys: String, CodingKey {
        case id, name, vcpus, ram, disk, swap, ephemeral
        case extraSpecs = "extra_specs"
    }
}

extension Flavor: Codable {
    /// Version of the record layout on disk; bump it with a migration in `init(from:)`.
    public static let recordFormat = 1

    enum CodingKeys: String, CodingKey {
        case format, id, name, vcpus, ram, disk, swap, ephemeral, description, created
        case isPublic = "is_public"
        case extraSpecs = "extra_specs"
        case recordKey = "record_key"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let format = try c.decode(Int.self, forKey: .format)
        guard format == Self.recordFormat else {
            throw DecodingError.dataCorruptedError(
                forKey: .format, in: c, debugDescription: "unsupported flavor record format \(format)")
        }
        self.init(
            id: try c.decode(String.self, forKey: .id), name: try c.decode(String.self, forKey: .name),
            vcpus: try c.decode(Int.self, forKey: .vcpus), ram: try c.decode(Int.self, forKey: .ram),
            disk: try c.decode(Int.self, forKey: .disk), swap: try c.decode(Int.self, forKey: .swap),
            ephemeral: try c.decode(Int.self, forKey: .ephemeral), isPublic: try c.decode(Bool.self, forKey: .isPublic),
            description: try c.decodeIfPresent(String.self, forKey: .description),
            extraSpecs: try c.decode([String: String].self, forKey: .extraSpecs),
            created: try c.decode(Timestamp.self, forKey: .created), recordKey: try c.decode(String.self, forKey: .recordKey))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.recordFormat, forKey: .format)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(vcpus, forKey: .vcpus)
        try c.encode(ram, forKey: .ram)
        try c.encode(disk, forKey: .disk)
        try c.encode(swap, forKey: .swap)
        try c.encode(ephemeral, forKey: .ephemeral)
        try c.encode(isPublic, forKey: .isPublic)
        try c.encode(description, forKey: .description)
        try c.encode(extraSpecs, forKey: .extraSpecs)
        try c.encode(created, forKey: .created)
        try c.encode(recordKey, forKey: .recordKey)
    }
}
