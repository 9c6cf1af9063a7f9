public import ComputeCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A record file that is not a valid record of this release; the store sets it aside.
public struct RecordFormatError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(description: String) { self.description = description }
}

/// The record format of a server: one JSON object per file, written by `JSONEncoder` (pretty,
/// sorted keys, so `jq` and a diff read it), read by `RecordScanner`. The PostgreSQL store
/// keeps the same document in a `jsonb` column, so export and import are lossless.
public enum ServerRecord {
    /// Version of the layout; bump it with a migration in `decode`. Format 2 added `image_id`
    /// and `description` (a format-1 record reads with no image id, which the store looks up
    /// by name, and no description); format 3 added `version` (older ones read as version 1);
    /// format 4 added `access_ipv4`, `access_ipv6`, `disk_config` and `tags` (older ones read
    /// as none, `MANUAL` and no tags); format 5 added `security_groups` (null, as older ones
    /// read: the project's default group alone) and `actions`, Nova's instance actions (older
    /// ones read with none); format 6 added `deleted` (null, as older ones read: a server in the
    /// inventory; set on what is kept of a deleted one).
    public static let format = 6

    /// The record's bytes, ending in a newline.
    public static func encode(_ server: Server) throws -> [UInt8] {
        try RecordEncoding.encode(Document(server))
    }

    /// Reads a record's bytes.
    public static func decode(_ bytes: [UInt8]) throws(RecordFormatError) -> Server {
        let outcome = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(RecordFormatError) in try decode(buffer) }
        }
        return try outcome.get()
    }

    /// The same, from a buffer (the store reads files into a reused one).
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>) throws(RecordFormatError) -> Server {
        do {
            return try RecordScanner.scan(bytes) { scanner throws(RecordScanner.Failure) in try scan(&scanner) }
        } catch {
            throw RecordFormatError(description: error.description)
        }
    }

    private static func scan(_ scanner: inout RecordScanner) throws(RecordScanner.Failure) -> Server {
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
        var accessIPv4: String?
        var accessIPv6: String?
        var diskConfig: String?
        var metadata: [String: String]?
        var tags: [String]?
        var securityGroups: [String]?
        var actions: [InstanceAction] = []
        var reservationID: String?
        var launchIndex: Int?
        var created: String?
        var updated: String?
        var version: Int?
        var deleted: String?
        try scanner.object { key, s throws(RecordScanner.Failure) in
            switch key {
            case "format": format = try s.int()
            case "id": id = try s.string()
            case "name": name = try s.string()
            case "project_id": projectID = try s.string()
            case "user_id": userID = try s.string()
            case "status": status = try s.string()
            case "flavor": flavor = try scanSnapshot(&s)
            case "image": image = try s.string()
            case "image_id": imageID = try s.string()
            case "description": description = try s.null() ? nil : s.string()
            case "key_name": keyName = try s.null() ? nil : s.string()
            case "network": network = try s.null() ? nil : s.string()
            case "address": address = try s.null() ? nil : s.string()
            case "access_ipv4": accessIPv4 = try s.null() ? nil : s.string()
            case "access_ipv6": accessIPv6 = try s.null() ? nil : s.string()
            case "disk_config": diskConfig = try s.string()
            case "metadata": metadata = try s.stringMap()
            case "tags": tags = Set(try s.stringArray()).sorted()
            case "security_groups": securityGroups = try s.null() ? nil : s.stringArray()
            case "actions": try s.array { s throws(RecordScanner.Failure) in actions.append(try scanAction(&s)) }
            case "reservation_id": reservationID = try s.string()
            case "launch_index": launchIndex = try s.int()
            case "created": created = try s.string()
            case "updated": updated = try s.string()
            case "version": version = try s.int()
            case "deleted": deleted = try s.null() ? nil : s.string()
            default: try s.skipValue()
            }
        }
        guard let format, (1...Self.format).contains(format) else {
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
            address: try address.map { a throws(RecordScanner.Failure) in try required(IPv4Address(a), "address") },
            access: ServerAccess(
                ipv4: try accessIPv4.map { a throws(RecordScanner.Failure) in try required(IPv4Address(a), "access_ipv4") },
                ipv6: try accessIPv6.map { a throws(RecordScanner.Failure) in
                    try required(ServerAccess.canonicalIPv6(a), "access_ipv6")
                },
                diskConfig: format < 4
                    ? .manual : try required(diskConfig.flatMap(ServerAccess.DiskConfig.init(rawValue:)), "disk_config")),
            metadata: try required(metadata, "metadata"), tags: format < 4 ? [] : try required(tags, "tags"),
            securityGroups: securityGroups, actions: actions,
            reservationID: try required(reservationID, "reservation_id"),
            launchIndex: try required(launchIndex, "launch_index"),
            created: try required(created.flatMap(Timestamp.init(canonical:)), "created"),
            updated: try required(updated.flatMap(Timestamp.init(canonical:)), "updated"),
            version: format < 3 ? 1 : try required(version.flatMap { $0 >= 1 ? $0 : nil }, "version"),
            deleted: try deleted.map { d throws(RecordScanner.Failure) in try required(Timestamp(canonical: d), "deleted") })
    }

    /// One of a server record's `actions`.
    private static func scanAction(_ scanner: inout RecordScanner) throws(RecordScanner.Failure) -> InstanceAction {
        var (action, requestID, userID, projectID, started): (String?, String?, String?, String?, String?)
        try scanner.object { key, s throws(RecordScanner.Failure) in
            switch key {
            case "action": action = try s.string()
            case "request_id": requestID = try s.string()
            case "user_id": userID = try s.string()
            case "project_id": projectID = try s.string()
            case "start_time": started = try s.string()
            default: try s.skipValue()
            }
        }
        guard let action, let requestID, let userID, let projectID, let time = started.flatMap(Timestamp.init(canonical:))
        else { throw scanner.failure("an action without action, request_id, user_id, project_id or start_time") }
        return InstanceAction(action: action, requestID: requestID, userID: userID, projectID: projectID, started: time)
    }

    /// The `flavor` object of a server record.
    private static func scanSnapshot(_ scanner: inout RecordScanner) throws(RecordScanner.Failure) -> FlavorSnapshot {
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
        return FlavorSnapshot(
            id: id, name: name, vcpus: vcpus, ram: ram, disk: disk, swap: swap, ephemeral: ephemeral, extraSpecs: extraSpecs)
    }

    /// What `JSONEncoder` writes.
    private struct Document: Encodable {
        let server: Server

        init(_ server: Server) { self.server = server }

        enum CodingKeys: String, CodingKey {
            case format, id, name, status, flavor, image, description, network, address, metadata, tags, created, updated
            case version, deleted
            case securityGroups = "security_groups"
            case actions
            case imageID = "image_id"
            case projectID = "project_id"
            case userID = "user_id"
            case keyName = "key_name"
            case accessIPv4 = "access_ipv4"
            case accessIPv6 = "access_ipv6"
            case diskConfig = "disk_config"
            case reservationID = "reservation_id"
            case launchIndex = "launch_index"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(ServerRecord.format, forKey: .format)
            try c.encode(server.id, forKey: .id)
            try c.encode(server.name, forKey: .name)
            try c.encode(server.projectID, forKey: .projectID)
            try c.encode(server.userID, forKey: .userID)
            try c.encode(server.status.rawValue, forKey: .status)
            try c.encode(SnapshotDocument(snapshot: server.flavor), forKey: .flavor)
            try c.encode(server.image, forKey: .image)
            try c.encode(server.imageID, forKey: .imageID)
            try c.encode(server.description, forKey: .description)
            try c.encode(server.keyName, forKey: .keyName)
            try c.encode(server.network, forKey: .network)
            try c.encode(server.address?.description, forKey: .address)
            try c.encode(server.access.ipv4?.description, forKey: .accessIPv4)
            try c.encode(server.access.ipv6, forKey: .accessIPv6)
            try c.encode(server.access.diskConfig.rawValue, forKey: .diskConfig)
            try c.encode(server.metadata, forKey: .metadata)
            try c.encode(server.tags, forKey: .tags)
            try c.encode(server.securityGroups, forKey: .securityGroups)
            try c.encode(server.actions.map(ActionDocument.init), forKey: .actions)
            try c.encode(server.reservationID, forKey: .reservationID)
            try c.encode(server.launchIndex, forKey: .launchIndex)
            try c.encode(server.created, forKey: .created)
            try c.encode(server.updated, forKey: .updated)
            try c.encode(server.version, forKey: .version)
            try c.encode(server.deleted, forKey: .deleted)
        }
    }

    private struct ActionDocument: Encodable {
        let action: InstanceAction

        enum CodingKeys: String, CodingKey {
            case action
            case requestID = "request_id"
            case userID = "user_id"
            case projectID = "project_id"
            case started = "start_time"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(action.action, forKey: .action)
            try c.encode(action.requestID, forKey: .requestID)
            try c.encode(action.userID, forKey: .userID)
            try c.encode(action.projectID, forKey: .projectID)
            try c.encode(action.started, forKey: .started)
        }
    }

    private struct SnapshotDocument: Encodable {
        let snapshot: FlavorSnapshot

        enum CodingKeys: String, CodingKey {
            case id, name, vcpus, ram, disk, swap, ephemeral
            case extraSpecs = "extra_specs"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(snapshot.id, forKey: .id)
            try c.encode(snapshot.name, forKey: .name)
            try c.encode(snapshot.vcpus, forKey: .vcpus)
            try c.encode(snapshot.ram, forKey: .ram)
            try c.encode(snapshot.disk, forKey: .disk)
            try c.encode(snapshot.swap, forKey: .swap)
            try c.encode(snapshot.ephemeral, forKey: .ephemeral)
            try c.encode(snapshot.extraSpecs, forKey: .extraSpecs)
        }
    }
}

/// The record format of a flavor. `record_key` names its file: flavor ids may be `..` or 255
/// characters long, so they cannot name files; a UUID the store chose does.
public enum FlavorRecord {
    /// Format 2 added `access_projects`, format 3 `version` (a format-1 record reads with no
    /// access list; a record before format 3 as version 1). The release before format 3 wrote
    /// format-2 records without `version`: they must keep loading (they were set aside as
    /// damaged, and every flavor lost, until `aFormatTwoFlavorOfTheLastReleaseLoads`).
    public static let format = 3

    public static func encode(_ flavor: Flavor, recordKey: String) throws -> [UInt8] {
        try RecordEncoding.encode(Document(flavor: flavor, recordKey: recordKey))
    }

    public static func decode(_ bytes: [UInt8]) throws(RecordFormatError) -> (flavor: Flavor, recordKey: String) {
        let outcome = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(RecordFormatError) in try decode(buffer) }
        }
        return try outcome.get()
    }

    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>) throws(RecordFormatError) -> (
        flavor: Flavor, recordKey: String
    ) {
        do {
            return try RecordScanner.scan(bytes) { scanner throws(RecordScanner.Failure) in try scan(&scanner) }
        } catch {
            throw RecordFormatError(description: error.description)
        }
    }

    private static func scan(_ scanner: inout RecordScanner) throws(RecordScanner.Failure) -> (Flavor, String) {
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
        var version: Int?
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
            case "version": version = try s.int()
            default: try s.skipValue()
            }
        }
        guard let format, (1...Self.format).contains(format) else {
            throw scanner.failure("unsupported flavor record format \(format.map(String.init) ?? "(none)")")
        }
        if format == 1 { accessProjects = accessProjects ?? [] }
        if format < 3 { version = version ?? 1 }
        guard let id, let name, let vcpus, let ram, let disk, let swap, let ephemeral, let isPublic, let accessProjects,
            let extraSpecs, let created = created.flatMap(Timestamp.init(canonical:)), let recordKey, let version,
            version >= 1
        else { throw scanner.failure("incomplete flavor record") }
        let flavor = Flavor(
            id: id, name: name, vcpus: vcpus, ram: ram, disk: disk, swap: swap, ephemeral: ephemeral, isPublic: isPublic,
            accessProjects: Set(accessProjects), description: description, extraSpecs: extraSpecs, created: created,
            version: version)
        return (flavor, recordKey)
    }

    private struct Document: Encodable {
        let flavor: Flavor
        let recordKey: String

        enum CodingKeys: String, CodingKey {
            case format, id, name, vcpus, ram, disk, swap, ephemeral, description, created, version
            case isPublic = "is_public"
            case accessProjects = "access_projects"
            case extraSpecs = "extra_specs"
            case recordKey = "record_key"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(FlavorRecord.format, forKey: .format)
            try c.encode(flavor.id, forKey: .id)
            try c.encode(flavor.name, forKey: .name)
            try c.encode(flavor.vcpus, forKey: .vcpus)
            try c.encode(flavor.ram, forKey: .ram)
            try c.encode(flavor.disk, forKey: .disk)
            try c.encode(flavor.swap, forKey: .swap)
            try c.encode(flavor.ephemeral, forKey: .ephemeral)
            try c.encode(flavor.isPublic, forKey: .isPublic)
            try c.encode(flavor.accessProjects.sorted(), forKey: .accessProjects)
            try c.encode(flavor.description, forKey: .description)
            try c.encode(flavor.extraSpecs, forKey: .extraSpecs)
            try c.encode(flavor.created, forKey: .created)
            try c.encode(recordKey, forKey: .recordKey)
            try c.encode(flavor.version, forKey: .version)
        }
    }
}

/// Pretty-printed, sorted keys, a final newline: what a person reads with `jq` or `less`.
enum RecordEncoding {
    static func encode(_ document: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var bytes = [UInt8](try encoder.encode(document))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }
}
