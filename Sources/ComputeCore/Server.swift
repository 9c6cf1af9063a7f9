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
    /// Nova's accessIPv4/accessIPv6 and OS-DCF:diskConfig, as the client gave them.
    public var access: ServerAccess
    public var metadata: [String: String]
    /// Nova's server tags, sorted, each once (`ServerTags`).
    public var tags: [String]
    /// The ids of the security groups it is in: nil for its project's `default` group alone
    /// (what most servers are in, so it costs nothing), empty for none.
    public var securityGroups: [String]?
    /// Nova's instance actions, oldest first (the most recent `InstanceAction.maxKept`).
    public var actions: [InstanceAction]
    /// Shared by all servers of one create request (`r-` and 8 characters).
    public var reservationID: String
    /// The server's position within its create request, from 0.
    public var launchIndex: Int
    public var created: Timestamp
    public var updated: Timestamp
    /// Counts the server's changes, from 1: a change is stored only over the version it was
    /// made from (optimistic concurrency), so two changes never silently overwrite each other.
    public var version: Int
    /// When it was deleted: set only on what a store keeps of a deleted server for a while (Nova's
    /// `changes-since` shows it as `DELETED`), never on a server in the inventory.
    public var deleted: Timestamp?

    public init(
        id: String, name: String, projectID: String, userID: String, status: ServerStatus = .active,
        flavor: FlavorSnapshot, image: String, imageID: String, description: String? = nil, keyName: String?,
        network: String?, address: IPv4Address?, access: ServerAccess = .unset, metadata: [String: String],
        tags: [String] = [], securityGroups: [String]? = nil, actions: [InstanceAction] = [], reservationID: String,
        launchIndex: Int, created: Timestamp,
        updated: Timestamp, version: Int = 1, deleted: Timestamp? = nil
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
        self.access = access
        self.metadata = metadata
        self.tags = tags
        self.securityGroups = securityGroups
        self.actions = actions
        self.reservationID = reservationID
        self.launchIndex = launchIndex
        self.created = created
        self.updated = updated
        self.version = version
        self.deleted = deleted
    }

    /// Where the server sits in listings: newest first, then the later launch index, then id.
    public var order: ServerOrderKey { ServerOrderKey(created: created, launchIndex: launchIndex, id: id) }
}

/// Sort key of the listing order; listings walk it from the largest down, and a page's marker
/// is the key of its last server (keyset pagination).
public struct ServerOrderKey: Sendable, Comparable, Hashable {
    public var created: Timestamp
    public var launchIndex: Int
    public var id: String

    public init(created: Timestamp, launchIndex: Int, id: String) {
        self.created = created
        self.launchIndex = launchIndex
        self.id = id
    }

    public static func < (a: ServerOrderKey, b: ServerOrderKey) -> Bool {
        if a.created != b.created { return a.created < b.created }
        if a.launchIndex != b.launchIndex { return a.launchIndex < b.launchIndex }
        return a.id < b.id
    }
}
