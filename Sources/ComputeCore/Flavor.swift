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
    /// Projects a non-public flavor is shared with (Nova's flavor access); admins see every flavor.
    public var accessProjects: Set<String>
    public var description: String?
    public var extraSpecs: [String: String]
    public var created: Timestamp
    /// The name of the flavor's record file. Flavor ids may be `..` or 255 characters long, so
    /// they cannot name files; this UUID does.
    public var recordKey: String

    public init(
        id: String, name: String, vcpus: Int, ram: Int, disk: Int, swap: Int = 0, ephemeral: Int = 0,
        isPublic: Bool = true, accessProjects: Set<String> = [], description: String? = nil,
        extraSpecs: [String: String] = [:], created: Timestamp, recordKey: String
    ) {
        self.id = id
        self.name = name
        self.vcpus = vcpus
        self.ram = ram
        self.disk = disk
        self.swap = swap
        self.ephemeral = ephemeral
        self.isPublic = isPublic
        self.accessProjects = accessProjects
        self.description = description
        self.extraSpecs = extraSpecs
        self.created = created
        self.recordKey = recordKey
    }

    /// Nova's rule: a public flavor is for everyone, a non-public one for admins and the
    /// projects given access. Anyone else is told it does not exist.
    public func isVisible(to caller: Caller) -> Bool {
        isPublic || caller.isAdmin || accessProjects.contains(caller.projectID)
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
public struct FlavorSnapshot: Sendable, Equatable, Encodable {
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

    /// Reads the `flavor` object of a server record.
    init(scanning scanner: inout RecordScanner) throws(RecordScanner.Failure) {
        var id: String?
        var name: String?
        var vcpus: Int?
        var ram: Int?
        var disk: Int?
        var swap: Int?
        var ephemeral: Int?
        var extraSpecs: [String: String]?
        try scanner.object { key, s throws(RecordScanner.Failure) in
            switch key {
            case "id": id = try s.string()
            case "name": name = try s.string()
            case "vcpus": vcpus = try s.int()
            case "ram": ram = try s.int()
            case "disk": disk = try s.int()
            case "swap": swap = try s.int()
            case "ephemeral": ephemeral = try s.int()
            case "extra_specs": extraSpecs = try s.stringMap()
            default: try s.skipValue()
            }
        }
        guard let id, let name, let vcpus, let ram, let disk, let swap, let ephemeral, let extraSpecs else {
            throw scanner.failure("incomplete flavor")
        }
        self.init(
            id: id, name: name, vcpus: vcpus, ram: ram, disk: disk, swap: swap, ephemeral: ephemeral, extraSpecs: extraSpecs)
    }
}

extension Flavor: Encodable {
    /// Version of the record layout on disk; bump it with a migration in `init(record:)`.
    /// Format 2 added `access_projects`; a format-1 record reads with none.
    public static let recordFormat = 2

    enum CodingKeys: String, CodingKey {
        case format, id, name, vcpus, ram, disk, swap, ephemeral, description, created
        case isPublic = "is_public"
        case accessProjects = "access_projects"
        case extraSpecs = "extra_specs"
        case recordKey = "record_key"
    }

    /// Reads a record file's bytes (what `encode(to:)` wrote, through `JSONEncoder`).
    public init(record bytes: [UInt8]) throws(RecordFormatError) {
        let outcome = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(RecordFormatError) in try Self(record: buffer) }
        }
        self = try outcome.get()
    }

    /// The same, from a buffer (the store reads files into a reused one).
    public init(record bytes: UnsafeBufferPointer<UInt8>) throws(RecordFormatError) {
        do {
            self = try RecordScanner.scan(bytes) { scanner throws(RecordScanner.Failure) in
                var format: Int?
                var id: String?
                var name: String?
                var vcpus: Int?
                var ram: Int?
                var disk: Int?
                var swap: Int?
                var ephemeral: Int?
                var isPublic: Bool?
                var accessProjects: [String]?
                var description: String?
                var extraSpecs: [String: String]?
                var created: String?
                var recordKey: String?
                try scanner.object { key, s throws(RecordScanner.Failure) in
                    switch key {
                    case "format": format = try s.int()
                    case "id": id = try s.string()
                    case "name": name = try s.string()
                    case "vcpus": vcpus = try s.int()
                    case "ram": ram = try s.int()
                    case "disk": disk = try s.int()
                    case "swap": swap = try s.int()
                    case "ephemeral": ephemeral = try s.int()
                    case "is_public": isPublic = try s.bool()
                    case "access_projects": accessProjects = try s.stringArray()
                    case "description": description = try s.null() ? nil : s.string()
                    case "extra_specs": extraSpecs = try s.stringMap()
                    case "created": created = try s.string()
                    case "record_key": recordKey = try s.string()
                    default: try s.skipValue()
                    }
                }
                guard let format, (1...Self.recordFormat).contains(format) else {
                    throw scanner.failure("unsupported flavor record format \(format.map(String.init) ?? "(none)")")
                }
                if format == 1 { accessProjects = accessProjects ?? [] }
                guard let id, let name, let vcpus, let ram, let disk, let swap, let ephemeral, let isPublic,
                    let accessProjects, let extraSpecs, let created = created.flatMap(Timestamp.init(canonical:)),
                    let recordKey
                else { throw scanner.failure("incomplete flavor record") }
                return Flavor(
                    id: id, name: name, vcpus: vcpus, ram: ram, disk: disk, swap: swap, ephemeral: ephemeral,
                    isPublic: isPublic, accessProjects: Set(accessProjects), description: description,
                    extraSpecs: extraSpecs, created: created, recordKey: recordKey)
            }
        } catch {
            throw RecordFormatError(description: error.description)
        }
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
        try c.encode(accessProjects.sorted(), forKey: .accessProjects)
        try c.encode(description, forKey: .description)
        try c.encode(extraSpecs, forKey: .extraSpecs)
        try c.encode(created, forKey: .created)
        try c.encode(recordKey, forKey: .recordKey)
    }
}
