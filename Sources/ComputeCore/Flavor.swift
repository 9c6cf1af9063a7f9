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
    /// Counts the flavor's changes, from 1 (see `Server.version`).
    public var version: Int

    public init(
        id: String, name: String, vcpus: Int, ram: Int, disk: Int, swap: Int = 0, ephemeral: Int = 0,
        isPublic: Bool = true, accessProjects: Set<String> = [], description: String? = nil,
        extraSpecs: [String: String] = [:], created: Timestamp, version: Int = 1
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
        self.version = version
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
    public static func defaults(created: Timestamp) -> [Flavor] {
        [
            ("1", "m1.tiny", 1, 512, 1), ("2", "m1.small", 1, 2048, 20), ("3", "m1.medium", 2, 4096, 40),
            ("4", "m1.large", 4, 8192, 80), ("5", "m1.xlarge", 8, 16384, 160),
        ].map { id, name, vcpus, ram, disk in
            Flavor(id: id, name: name, vcpus: vcpus, ram: ram, disk: disk, created: created)
        }
    }
}

/// A server's own copy of its flavor, taken at create time; later flavor changes don't touch it.
///
/// Immutable, and held by reference: servers of one flavor can share one copy (the in-memory
/// store keeps each distinct snapshot once), where each used to hold its own 80 bytes.
public struct FlavorSnapshot: Sendable, Hashable {
    private final class Storage: Sendable {
        let id: String
        let name: String
        let vcpus: Int
        let ram: Int
        let disk: Int
        let swap: Int
        let ephemeral: Int
        let extraSpecs: [String: String]

        init(id: String, name: String, vcpus: Int, ram: Int, disk: Int, swap: Int, ephemeral: Int, extraSpecs: [String: String]) {
            self.id = id
            self.name = name
            self.vcpus = vcpus
            self.ram = ram
            self.disk = disk
            self.swap = swap
            self.ephemeral = ephemeral
            self.extraSpecs = extraSpecs
        }
    }

    private let storage: Storage

    public var id: String { storage.id }
    public var name: String { storage.name }
    public var vcpus: Int { storage.vcpus }
    public var ram: Int { storage.ram }
    public var disk: Int { storage.disk }
    public var swap: Int { storage.swap }
    public var ephemeral: Int { storage.ephemeral }
    public var extraSpecs: [String: String] { storage.extraSpecs }

    public init(
        id: String, name: String, vcpus: Int, ram: Int, disk: Int, swap: Int, ephemeral: Int, extraSpecs: [String: String]
    ) {
        storage = Storage(
            id: id, name: name, vcpus: vcpus, ram: ram, disk: disk, swap: swap, ephemeral: ephemeral, extraSpecs: extraSpecs)
    }

    public static func == (a: FlavorSnapshot, b: FlavorSnapshot) -> Bool {
        a.storage === b.storage
            || (a.id == b.id && a.name == b.name && a.vcpus == b.vcpus && a.ram == b.ram && a.disk == b.disk
                && a.swap == b.swap && a.ephemeral == b.ephemeral && a.extraSpecs == b.extraSpecs)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(name)
        hasher.combine(vcpus)
        hasher.combine(ram)
    }
}
