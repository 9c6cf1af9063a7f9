/// The states a server can be in, by the status name both APIs show.
///
/// The service runs no guests, so transitions are immediate: a create is ACTIVE when it is
/// acknowledged and a reboot is over when it is; BUILD, REBOOT, HARD_REBOOT and ERROR are
/// never entered, but records and filters accept them.
public enum ServerStatus: String, Sendable, CaseIterable, Encodable {
    case active = "ACTIVE"
    case build = "BUILD"
    case shutoff = "SHUTOFF"
    case reboot = "REBOOT"
    case hardReboot = "HARD_REBOOT"
    case error = "ERROR"

    /// Nova's `OS-EXT-STS:vm_state`.
    public var vmState: String {
        switch self {
        case .active, .reboot, .hardReboot: "active"
        case .build: "building"
        case .shutoff: "stopped"
        case .error: "error"
        }
    }

    /// Nova's `OS-EXT-STS:task_state`: what is under way (nothing, once a change is acknowledged).
    public var taskState: String? {
        switch self {
        case .build: "spawning"
        case .reboot: "rebooting"
        case .hardReboot: "rebooting_hard"
        case .active, .shutoff, .error: nil
        }
    }

    /// Nova's `OS-EXT-STS:power_state`: 0 no state, 1 running, 4 shut down.
    public var powerState: Int {
        switch self {
        case .active, .reboot, .hardReboot: 1
        case .shutoff: 4
        case .build, .error: 0
        }
    }
}

/// A change of a server's power state (Nova's `os-stop`, `os-start` and `reboot` actions).
public enum ServerAction: Sendable, Equatable {
    case stop
    case start
    case reboot(hard: Bool)

    /// The name Nova's messages use.
    public var name: String {
        switch self {
        case .stop: "stop"
        case .start: "start"
        case .reboot: "reboot"
        }
    }

    /// Where the server ends up, or nil when it cannot take the action in `status` (Nova's
    /// table: stop from ACTIVE or ERROR, start from SHUTOFF, soft reboot from ACTIVE, hard
    /// reboot from anything but BUILD).
    public func outcome(from status: ServerStatus) -> ServerStatus? {
        switch (self, status) {
        case (.stop, .active), (.stop, .error): .shutoff
        case (.start, .shutoff): .active
        case (.reboot(hard: false), .active): .active
        case (.reboot(hard: true), let status) where status != .build: .active
        default: nil
        }
    }
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
    /// The image's name, as the v1 API shows it.
    public var image: String
    /// The image's id in the catalog; empty for a record written before ids were kept whose
    /// image is no longer configured.
    public var imageID: String
    /// Free text (Nova's `description`, microversion 2.19), nil when not set.
    public var description: String?
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
        flavor: FlavorSnapshot, image: String, imageID: String, description: String? = nil, keyName: String?,
        network: String?, address: IPv4Address?, metadata: [String: String], reservationID: String, launchIndex: Int,
        created: Timestamp, updated: Timestamp
    ) {
        self.id = id
        self.name = name
        self.projectID = projectID
        self.userID = userID
        self.status = status
        self.flavor = flavor
        self.image = image
        self.imageID = imageID
        self.description = description
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

/// A record file that is not a valid record of this release; the store sets it aside.
public struct RecordFormatError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension Server: Encodable {
    /// Version of the record layout on disk; bump it with a migration in `init(record:)`.
    /// Format 2 added `image_id` and `description`; a format-1 record reads with no image id
    /// (the inventory looks it up by name) and no description.
    public static let recordFormat = 2

    enum CodingKeys: String, CodingKey {
        case format, id, name, status, flavor, image, description, network, address, metadata, created, updated
        case imageID = "image_id"
        case projectID = "project_id"
        case userID = "user_id"
        case keyName = "key_name"
        case reservationID = "reservation_id"
        case launchIndex = "launch_index"
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
                var projectID: String?
                var userID: String?
                var status: String?
                var flavor: FlavorSnapshot?
                var image: String?
                var imageID: String?
                var description: String?
                var keyName: String?
                var network: String?
                var address: String?
                var metadata: [String: String]?
                var reservationID: String?
                var launchIndex: Int?
                var created: String?
                var updated: String?
                try scanner.object { key, s throws(RecordScanner.Failure) in
                    switch key {
                    case "format": format = try s.int()
                    case "id": id = try s.string()
                    case "name": name = try s.string()
                    case "project_id": projectID = try s.string()
                    case "user_id": userID = try s.string()
                    case "status": status = try s.string()
                    case "flavor": flavor = try FlavorSnapshot(scanning: &s)
                    case "image": image = try s.string()
                    case "image_id": imageID = try s.string()
                    case "description": description = try s.null() ? nil : s.string()
                    case "key_name": keyName = try s.null() ? nil : s.string()
                    case "network": network = try s.null() ? nil : s.string()
                    case "address": address = try s.null() ? nil : s.string()
                    case "metadata": metadata = try s.stringMap()
                    case "reservation_id": reservationID = try s.string()
                    case "launch_index": launchIndex = try s.int()
                    case "created": created = try s.string()
                    case "updated": updated = try s.string()
                    default: try s.skipValue()
                    }
                }
                guard let format, (1...Self.recordFormat).contains(format) else {
                    throw scanner.failure("unsupported server record format \(format.map(String.init) ?? "(none)")")
                }
                func required<T>(_ value: T?, _ field: String) throws(RecordScanner.Failure) -> T {
                    guard let value else { throw RecordScanner.Failure(description: "missing or invalid \(field)") }
                    return value
                }
                return Server(
                    id: try required(id, "id"), name: try required(name, "name"),
                    projectID: try required(projectID, "project_id"), userID: try required(userID, "user_id"),
                    status: try required(status.flatMap(ServerStatus.init(rawValue:)), "status"),
                    flavor: try required(flavor, "flavor"), image: try required(image, "image"),
                    imageID: format == 1 ? "" : try required(imageID, "image_id"), description: description,
                    keyName: keyName, network: network,
                    address: try address.map { a throws(RecordScanner.Failure) in
                        try required(IPv4Address(a), "address")
                    },
                    metadata: try required(metadata, "metadata"), reservationID: try required(reservationID, "reservation_id"),
                    launchIndex: try required(launchIndex, "launch_index"),
                    created: try required(created.flatMap(Timestamp.init(canonical:)), "created"),
                    updated: try required(updated.flatMap(Timestamp.init(canonical:)), "updated"))
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
        try c.encode(projectID, forKey: .projectID)
        try c.encode(userID, forKey: .userID)
        try c.encode(status, forKey: .status)
        try c.encode(flavor, forKey: .flavor)
        try c.encode(image, forKey: .image)
        try c.encode(imageID, forKey: .imageID)
        try c.encode(description, forKey: .description)
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
