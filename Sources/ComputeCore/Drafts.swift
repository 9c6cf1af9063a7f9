/// What a client asks for when creating servers, already checked field by field.
///
/// The checks that need the inventory's state (the flavor exists, the name is free, addresses
/// are left) happen in `Inventory.createServers`, under its lock.
public struct ServerDraft: Sendable, Equatable {
    public var name: String
    /// A flavor id or name (v1), or id (Nova).
    public var flavorReference: Reference
    /// An image in the catalog.
    public var image: Reference
    public var description: String?
    public var keyName: String?
    public var network: NetworkChoice
    /// Checked by whoever parsed them (`ServerAccess.ipv4(_:field:)` and the others).
    public var access: ServerAccess
    public var metadata: [String: String]
    /// Checked and sorted by whoever parsed them (`ServerTags.normalized`).
    public var tags: [String] = []
    /// The ids of the security groups the servers are in (resolved by whoever parsed the
    /// names); nil: the project's `default` group.
    public var securityGroups: [String]?
    public var minCount: Int
    public var maxCount: Int

    public enum NetworkChoice: Sendable, Equatable {
        /// The default network.
        case automatic
        /// No network, no address.
        case none
        case reference(Reference)

        /// A network by id or name (the v1 API's `network`).
        public static func named(_ name: String) -> NetworkChoice { .reference(.idOrName(name)) }
    }

    public static let maxCountLimit = 100

    /// Checks every field; `fields` maps each to the name the client used (for error messages).
    public init(
        name: String, flavorReference: Reference, image: Reference, description: String? = nil,
        keyName: String? = nil, network: NetworkChoice = .automatic, access: ServerAccess = .unset,
        metadata: [String: String] = [:], minCount: Int = 1, maxCount: Int? = nil, fields: FieldNames = FieldNames()
    ) throws(ComputeError) {
        try Validation.serverName(name, field: fields.name)
        guard !flavorReference.text.isEmpty else { throw .invalidField(fields.flavor, "must not be empty.") }
        try Validation.text(image.text, field: fields.image, maxLength: Validation.maxNameLength)
        if let description { try Validation.description(description, field: fields.description) }
        if let keyName { try Validation.text(keyName, field: fields.keyName, maxLength: Validation.maxNameLength) }
        try Validation.metadata(metadata, field: fields.metadata)
        try Validation.integer(minCount, field: fields.minCount, min: 1, max: Self.maxCountLimit)
        let maxCount = maxCount ?? minCount
        try Validation.integer(maxCount, field: fields.maxCount, min: 1, max: Self.maxCountLimit)
        guard minCount <= maxCount else {
            throw .invalidField(fields.minCount, "must not be greater than \(fields.maxCount).")
        }
        self.name = name
        self.flavorReference = flavorReference
        self.image = image
        self.description = description
        self.keyName = keyName
        self.network = network
        self.access = access
        self.metadata = metadata
        self.minCount = minCount
        self.maxCount = maxCount
    }

    /// The field names an API uses, so errors quote what the client sent.
    public struct FieldNames: Sendable {
        public var name = "server.name"
        public var flavor = "server.flavor"
        public var image = "server.image"
        public var description = "server.description"
        public var keyName = "server.keyname"
        public var metadata = "server.metadata"
        public var minCount = "server.min_count"
        public var maxCount = "server.max_count"

        public init() {}
    }
}

/// A change to an existing server; nil fields stay as they are.
public struct ServerUpdate: Sendable, Equatable {
    public var name: String?
    public var metadata: [String: String]?
    /// `.some(nil)` clears the description.
    public var description: String??
    /// Each nil part stays as it is (checked by whoever parsed them).
    public var accessIPv4: IPv4Address?
    public var accessIPv6: String?
    public var diskConfig: ServerAccess.DiskConfig?

    public init(
        name: String? = nil, metadata: [String: String]? = nil, description: String?? = nil,
        accessIPv4: IPv4Address? = nil, accessIPv6: String? = nil, diskConfig: ServerAccess.DiskConfig? = nil,
        nameField: String = "server.new_name", metadataField: String = "server.metadata",
        descriptionField: String = "server.description"
    ) throws(ComputeError) {
        if let name { try Validation.serverName(name, field: nameField) }
        if let metadata { try Validation.metadata(metadata, field: metadataField) }
        if case .some(.some(let text)) = description { try Validation.description(text, field: descriptionField) }
        self.name = name
        self.metadata = metadata
        self.description = description
        self.accessIPv4 = accessIPv4
        self.accessIPv6 = accessIPv6
        self.diskConfig = diskConfig
    }

    /// Sets on `server` what this update gives.
    public func apply(to server: inout Server) {
        if let name { server.name = name }
        if let metadata { server.metadata = metadata }
        if let description { server.description = description }
        if let accessIPv4 { server.access.ipv4 = accessIPv4 }
        if let accessIPv6 { server.access.ipv6 = accessIPv6 }
        if let diskConfig { server.access.diskConfig = diskConfig }
    }
}

/// Nova's `rebuild` action: the server gets a new image (its disk would be made again from
/// it), and optionally a new name, metadata (replacing it), description and access fields.
public struct ServerRebuild: Sendable, Equatable {
    public var image: Reference
    public var update: ServerUpdate
    /// Nova's `key_name` (2.54): nil keeps the server's, `.some(nil)` takes it away. Checked
    /// against the user's key pairs by whoever parsed it.
    public var keyName: String??

    public init(image: Reference, update: ServerUpdate, keyName: String?? = nil) {
        self.image = image
        self.update = update
        self.keyName = keyName
    }
}

/// A new flavor, checked field by field.
public struct FlavorDraft: Sendable, Equatable {
    /// Nil: the inventory generates a UUID.
    public var id: String?
    public var name: String
    public var vcpus: Int
    public var ram: Int
    public var disk: Int
    public var swap: Int
    public var ephemeral: Int
    public var isPublic: Bool
    public var description: String?

    public static let maxDescriptionLength = 65_535

    public init(
        id: String?, name: String, vcpus: Int, ram: Int, disk: Int, swap: Int = 0, ephemeral: Int = 0,
        isPublic: Bool = true, description: String? = nil, fieldPrefix: String = "flavor"
    ) throws(ComputeError) {
        if let id { try Validation.identifier(id, field: "\(fieldPrefix).id") }
        try Validation.name(name, field: "\(fieldPrefix).name")
        try Validation.integer(vcpus, field: "\(fieldPrefix).vcpus", min: 1)
        try Validation.integer(ram, field: "\(fieldPrefix).ram", min: 1)
        try Validation.integer(disk, field: "\(fieldPrefix).disk", min: 0)
        try Validation.integer(swap, field: "\(fieldPrefix).swap", min: 0)
        try Validation.integer(ephemeral, field: "\(fieldPrefix).ephemeral", min: 0)
        if let description, description.unicodeScalars.count > Self.maxDescriptionLength {
            throw .invalidField("\(fieldPrefix).description", "must be at most \(Self.maxDescriptionLength) characters long.")
        }
        self.id = id
        self.name = name
        self.vcpus = vcpus
        self.ram = ram
        self.disk = disk
        self.swap = swap
        self.ephemeral = ephemeral
        self.isPublic = isPublic
        self.description = description
    }
}
