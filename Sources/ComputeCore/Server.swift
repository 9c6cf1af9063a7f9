/// The states a server can be in, by the status name both APIs show.
public enum ServerStatus: String, Sendable, CaseIterable, Codable {
    case active = "ACTIVE"
    case build = "BUILD"
    case shutoff = "SHUTOFF"
    case reboot = "REBOOT"
    case hardReboot = "HARD_REBOOT"
    case error = "ERROR"
}

/// A server in the inventory.
public struct Server: Sendable, Equatable {
    /// Lower-case UUID assigned by the service.
    public var id: String
    /// Unique within the project.
    public var name: String
    public var projectID: String
    public var userID: String
    public var status: ServerStatus
    public var flavor: FlavorSnapshot
    public var image: String
    public var keyName: String?
    /// The network the server is attached to, or nil for none.
    public var network: String?
    /// Its one IPv4 address on `network`.
    public var address: IPv4Address?
    public var metadata: [String: String]
    /// Shared by all servers of one create request (`r-` and 8 characters).
    public var reservationID: String
    /// The server's position within its create request, from 0.
    public var launchIndex: Int
    public var created: Timestamp
    public var updated: Timestamp

    public init(
        id: String, name: String, projectID: String, userID: String, status: ServerStatus = .active,
        flavor: FlavorSnapshot, image: String, keyName: String?, network: String?, address: IPv4Address?,
        metadata: [String: String], reservationID: String, launchIndex: Int, created: Timestamp, updated: Timestamp
    ) {
        self.id = id
        self.name = name
        self.projectID = projectID
        self.userID = userID
        self.status = status
        self.flavor = flavor
        self.image = image
        self.keyName = keyName
        self.network = network
        self.address = address
        self.metadata = metadata
        self.reservationID = reservationID
        self.launchIndex = launchIndex
        self.created = created
        self.updated = updated
    }

    /// Where the server sits in listings: newest first, then the later launch index, then id.
    var order: ServerOrderKey { ServerOrderKey(created: created, launchIndex: launchIndex, id: id) }
}

/// Sort key of the listing order; listings walk it from the largest down.
struct ServerOrderKey: Sendable, Comparable, Hashable {
    var created: Timestamp
    var launchIndex: Int
    var id: String

    static func < (a: ServerOrderKey, b: ServerOrderKey) -> Bool {
        if a.created != b.created { return a.created < b.created }
        if a.launchIndex != b.launchIndex { return a.launchIndex < b.launchIndex }
        return a.id < b.id
    }
}

extension Server: Codable {
    /// Version of the record layout on disk; bump it with a migration in `init(from:)`.
    public static let recordFormat = 1

    enum CodingKeys: String, CodingKey {
        case format, id, name, status, flavor, image, network, address, metadata, created, updated
        case projectID = "project_id"
        case userID = "user_id"
        case keyName = "key_name"
        case reservationID = "reservation_id"
        case launchIndex = "launch_index"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let format = try c.decode(Int.self, forKey: .format)
        guard format == Self.recordFormat else {
            throw DecodingError.dataCorruptedError(
                forKey: .format, in: c, debugDescription: "unsupported server record format \(format)")
        }
        self.init(
            id: try c.decode(String.self, forKey: .id), name: try c.decode(String.self, forKey: .name),
            projectID: try c.decode(String.self, forKey: .projectID), userID: try c.decode(String.self, forKey: .userID),
            status: try c.decode(ServerStatus.self, forKey: .status), flavor: try c.decode(FlavorSnapshot.self, forKey: .flavor),
            image: try c.decode(String.self, forKey: .image), keyName: try c.decodeIfPresent(String.self, forKey: .keyName),
            network: try c.decodeIfPresent(String.self, forKey: .network),
            address: try c.decodeIfPresent(IPv4Address.self, forKey: .address),
            metadata: try c.decode([String: String].self, forKey: .metadata),
            reservationID: try c.decode(String.self, forKey: .reservationID),
            launchIndex: try c.decode(Int.self, forKey: .launchIndex),
            created: try c.decode(Timestamp.self, forKey: .created), updated: try c.decode(Timestamp.self, forKey: .updated))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.recordFormat, forKey: .format)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(projectID, forKey: .projectID)
        try c.encode(userID, forKey: .userID)
        try c.encode(status, forKey: .status)
        try c.encode(flavor, forKey: .flavor)
        try c.encode(image, forKey: .image)
        try c.encode(keyName, forKey: .keyName)
        try c.encode(network, forKey: .network)
        try c.encode(address, forKey: .address)
        try c.encode(metadata, forKey: .metadata)
        try c.encode(reservationID, forKey: .reservationID)
        try c.encode(launchIndex, forKey: .launchIndex)
        try c.encode(created, forKey: .created)
        try c.encode(updated, forKey: .updated)
    }
}
