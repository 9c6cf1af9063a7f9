import ComputeCore

// What a Nova request body may say, decoded strictly: unknown keys are refused (Nova's schemas
// say `additionalProperties: false`), and so are known Nova fields this service cannot honour,
// rather than being dropped silently.

/// `POST /servers`.
struct NovaServerCreateRequest: Decodable {
    var draft: ServerDraft
    var returnReservationID: Bool
    var adminPass: String?
    /// The server group the servers join (`os:scheduler_hints` `{"group": id}`).
    var serverGroup: String?
    /// The security groups named, as given (the service resolves them in the caller's project).
    var securityGroupNames: [String] = []

    init(from decoder: any Decoder) throws {
        let version = decoder.microversion
        let body = try StrictObject(decoder, allowed: ["server", "os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"])
        for key in ["os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"] where body.contains(key) {
            // Placement hints mean nothing on the one host there is; a group is kept.
            guard let hints = try? body.object(key, allowed: ["group"]) else {
                throw ComputeError.invalidInput(
                    "Of the scheduler hints only 'group' is supported by this service: it has one host.")
            }
            if let group = try hints.string("group") {
                guard Validation.isUUIDForm(group) else {
                    throw ComputeError.invalidField("\(key).group", "'\(group.prefix(64))' is not a server group's id.")
                }
                serverGroup = group
            }
        }
        var allowed =
            [
                "name", "imageRef", "flavorRef", "networks", "block_device_mapping_v2", "metadata", "key_name", "min_count",
                "max_count", "return_reservation_id", "adminPass", "security_groups", "tags",
            ] + NovaServerAccessFields.names
        if version >= Microversion(19) { allowed.append("description") }
        let server = try body.requiredObject("server", allowed: allowed)

        let network: ServerDraft.NetworkChoice
        switch try server.decode(NetworksField.self, "networks") {
        case nil:
            guard version < Microversion(37) else {
                throw ComputeError.invalidField("server", "'networks' is a required property.")
            }
            network = .automatic
        case .keyword(let word):
            guard version >= Microversion(37), word == "auto" || word == "none" else {
                throw ComputeError.invalidField(
                    "server.networks",
                    "'\(word.prefix(32))' is not valid here: give a list of {\"uuid\": …}"
                        + (version >= Microversion(37) ? ", \"auto\" or \"none\"." : " (\"auto\" and \"none\" need 2.37)."))
            }
            network = word == "auto" ? .automatic : .none
        case .list(let items):
            guard items.count <= 1 else {
                throw ComputeError.invalidField("server.networks", "a server has at most one network here.")
            }
            if let item = items.first {
                guard let uuid = item["uuid"], item.keys.allSatisfy({ $0 == "uuid" || $0 == "tag" }) else {
                    throw ComputeError.invalidField(
                        "server.networks[0]", "only 'uuid' is supported (ports and fixed IPs are not).")
                }
                network = .reference(.id(uuid))
            } else {
                network = .automatic
            }
        }

        // Names (or ids) of security groups; none, or [] (what Ansible's openstack.cloud.server
        // sends when told none), is the project's `default` group, as in Nova.
        for group in try server.decode([[String: String]].self, "security_groups") ?? [] {
            guard group.keys.allSatisfy({ $0 == "name" }), let name = group["name"] else {
                throw ComputeError.invalidField("server.security_groups", "each item is {\"name\": …}.")
            }
            securityGroupNames.append(name)
        }

        // More metadata than a server may have is Nova's quota refusal (403), not a 400.
        if let metadata = try server.stringMap("metadata"), metadata.count > Validation.maxMetadataPairs {
            throw ComputeError.forbidden(
                "Quota exceeded for metadata_items: a server has at most \(Validation.maxMetadataPairs) pairs.")
        }

        // Tags on create came with 2.52; openstacksdk sends an empty list with every create.
        let tags = try server.decode([String].self, "tags") ?? []
        guard tags.isEmpty || version >= Microversion(52) else {
            throw ComputeError.invalidField("server.tags", "tags on create need microversion 2.52 or later.")
        }

        let bootImage = try server.decode([BlockDeviceMapping].self, "block_device_mapping_v2").map {
            mappings throws -> String in
            guard mappings.count == 1, let root = mappings.first, root.bootIndex == 0 else {
                throw ComputeError.invalidField(
                    "server.block_device_mapping_v2", "only one mapping, the boot disk (boot_index 0), is supported.")
            }
            return root.imageID
        }
        let imageRef = try server.string("imageRef").map(Self.lastPathSegment) ?? ""
        if let bootImage, !imageRef.isEmpty, bootImage != imageRef {
            throw ComputeError.invalidInput("imageRef and the boot disk's image (block_device_mapping_v2) differ.")
        }
        guard let image = bootImage ?? (imageRef.isEmpty ? nil : imageRef) else {
            throw ComputeError.invalidInput("Missing imageRef attribute")
        }
        draft = try ServerDraft(
            name: server.requiredString("name"), flavorReference: .id(Self.lastPathSegment(server.requiredString("flavorRef"))),
            image: .id(image), description: server.nullableString("description"), keyName: server.string("key_name"),
            network: network, access: NovaServerAccessFields(server).access,
            metadata: server.stringMap("metadata") ?? [:], minCount: server.integer("min_count") ?? 1,
            maxCount: server.integer("max_count"), fields: Self.fieldNames)
        draft.tags = try ServerTags.normalized(tags, field: "server.tags")
        returnReservationID = try server.boolean("return_reservation_id") ?? false
        adminPass = try server.string("adminPass")
    }

    static let fieldNames: ServerDraft.FieldNames = {
        var names = ServerDraft.FieldNames()
        names.flavor = "server.flavorRef"
        names.image = "server.imageRef"
        names.keyName = "server.key_name"
        return names
    }()

    /// `http://host/v2.1/flavors/2` → `2`: Nova takes references as ids or as links.
    static func lastPathSegment(_ reference: String) -> String {
        guard reference.contains("/") else { return reference }
        return reference.split(separator: "/").last.map(String.init) ?? reference
    }
}

/// `networks`: `"auto"`, `"none"`, or `[{"uuid": …}]`.
enum NetworksField: Decodable {
    case keyword(String)
    case list([[String: String]])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let word = try? container.decode(String.self) {
            self = .keyword(word)
        } else {
            self = .list(try container.decode([[String: String]].self))
        }
    }
}

/// One item of `block_device_mapping_v2`: only an image-backed local boot disk is supported.
struct BlockDeviceMapping: Decodable {
    var bootIndex: Int?
    var imageID: String

    init(from decoder: any Decoder) throws {
        let item = try StrictObject(
            decoder,
            allowed: [
                "boot_index", "uuid", "source_type", "destination_type", "delete_on_termination", "volume_size",
                "device_name", "device_type", "disk_bus", "guest_format", "tag",
            ])
        // OSC sends boot_index as a number or a string.
        bootIndex = try item.integer("boot_index")
        guard try item.string("source_type") == "image", let uuid = try item.string("uuid") else {
            throw ComputeError.invalidField(item.path, "only source_type 'image' with a 'uuid' is supported.")
        }
        let destination = try item.string("destination_type") ?? "local"
        guard destination == "local" else {
            throw ComputeError.invalidField(item.field("destination_type"), "only 'local' is supported (there are no volumes).")
        }
        imageID = uuid
    }
}

/// `PUT /servers/{id}`.
struct NovaServerUpdateRequest: Decodable {
    var update: ServerUpdate

    init(from decoder: any Decoder) throws {
        let body = try StrictObject(decoder, allowed: ["server"])
        let allowed = (decoder.microversion >= Microversion(19) ? ["name", "description"] : ["name"])
        let server = try body.requiredObject("server", allowed: allowed + NovaServerAccessFields.names)
        let description: String?? = server.contains("description") ? .some(try server.nullableString("description")) : nil
        let access = try NovaServerAccessFields(server)
        update = try ServerUpdate(
            name: server.string("name"), description: description, accessIPv4: access.ipv4, accessIPv6: access.ipv6,
            diskConfig: access.diskConfig, nameField: "server.name", descriptionField: "server.description")
    }
}

/// `accessIPv4`, `accessIPv6` and `OS-DCF:diskConfig`, which create and update both take; each
/// nil when the body leaves it out.
struct NovaServerAccessFields {
    static let names = ["accessIPv4", "accessIPv6", "OS-DCF:diskConfig"]

    var ipv4: IPv4Address?
    var ipv6: String?
    var diskConfig: ServerAccess.DiskConfig?

    init(_ server: StrictObject) throws {
        ipv4 = try server.string("accessIPv4").map { try ServerAccess.ipv4($0, field: "server.accessIPv4") }
        ipv6 = try server.string("accessIPv6").map { try ServerAccess.ipv6($0, field: "server.accessIPv6") }
        diskConfig = try server.string("OS-DCF:diskConfig").map {
            try ServerAccess.diskConfig($0, field: "server.OS-DCF:diskConfig")
        }
    }

    /// For a new server: what is left out is unset.
    var access: ServerAccess { ServerAccess(ipv4: ipv4, ipv6: ipv6, diskConfig: diskConfig ?? .manual) }
}

/// `POST /servers/{id}/action`: exactly one action.
struct NovaServerActionRequest: Decodable {
    enum Action {
        case power(ServerAction)
        /// With the `adminPass` the client chose, if it did.
        case rebuild(ServerRebuild, adminPass: String?)
        /// `addSecurityGroup` or `removeSecurityGroup`, by name or id.
        case securityGroup(String, add: Bool)
        /// An action Nova has and this service does not (no guests, one host): refused once
        /// the server is found, so a missing server is still a 404.
        case unsupported(String)
    }

    /// Nova's other server actions.
    static let unsupportedActions: Set<String> = [
        "addFixedIp", "removeFixedIp", "addFloatingIp", "removeFloatingIp", "changePassword", "confirmResize",
        "revertResize", "resize", "createBackup", "createImage", "evacuate", "forceDelete", "restore",
        "os-getConsoleOutput", "os-getVNCConsole", "os-getSPICEConsole", "os-getRDPConsole", "os-getSerialConsole",
        "injectNetworkInfo", "lock", "unlock", "migrate", "os-migrateLive", "os-resetState", "resetNetwork", "pause",
        "unpause", "rescue", "unrescue", "shelve", "shelveOffload", "unshelve", "suspend", "resume", "trigger_crash_dump",
    ]

    var action: Action

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        guard container.allKeys.count == 1, let key = container.allKeys.first else {
            throw ComputeError.invalidInput("The action body must hold exactly one action.")
        }
        switch key.stringValue {
        case "os-stop": action = .power(.stop)
        case "os-start": action = .power(.start)
        case "reboot":
            let reboot = try StrictObject(container.superDecoder(forKey: key), allowed: ["type"])
            switch try reboot.requiredString("type").uppercased() {
            case "SOFT": action = .power(.reboot(hard: false))
            case "HARD": action = .power(.reboot(hard: true))
            default: throw ComputeError.invalidField("reboot.type", "must be 'SOFT' or 'HARD'.")
            }
        case "rebuild":
            action = try Self.rebuild(container.superDecoder(forKey: key))
        case "addSecurityGroup", "removeSecurityGroup":
            let body = try StrictObject(container.superDecoder(forKey: key), allowed: ["name"])
            action = .securityGroup(try body.requiredString("name"), add: key.stringValue == "addSecurityGroup")
        case let name where Self.unsupportedActions.contains(name):
            action = .unsupported(name)
        default:
            throw ComputeError.invalidInput("There is no such action: \(key.stringValue.prefix(64))")
        }
    }
}

extension NovaServerActionRequest {
    /// `{"rebuild": {"imageRef": …, "name"?, "metadata"?, "adminPass"?, "description"? (2.19),
    /// "key_name"? (2.54, null to remove it), "accessIPv4"?, "accessIPv6"?, "OS-DCF:diskConfig"?,
    /// "preserve_ephemeral"?}}`. What needs a guest or a feature this service lacks (personality,
    /// user_data, trusted certificates, hostname) is refused, not ignored.
    static func rebuild(_ decoder: any Decoder) throws -> Action {
        var allowed = ["imageRef", "name", "metadata", "adminPass", "preserve_ephemeral"] + NovaServerAccessFields.names
        if decoder.microversion >= Microversion(19) { allowed.append("description") }
        if decoder.microversion >= Microversion(54) { allowed.append("key_name") }
        let body = try StrictObject(decoder, allowed: allowed)
        guard let image = try body.string("imageRef").map(NovaServerCreateRequest.lastPathSegment), !image.isEmpty else {
            throw ComputeError.invalidField("rebuild.imageRef", "'imageRef' is a required property.")
        }
        _ = try body.boolean("preserve_ephemeral")  // nothing to preserve: no disks are written
        let metadata = try body.stringMap("metadata")
        if let metadata, metadata.count > Validation.maxMetadataPairs {
            throw ComputeError.forbidden(
                "Quota exceeded for metadata_items: a server has at most \(Validation.maxMetadataPairs) pairs.")
        }
        let description: String?? = body.contains("description") ? .some(try body.nullableString("description")) : nil
        let access = try NovaServerAccessFields(body)
        let update = try ServerUpdate(
            name: body.string("name"), metadata: metadata, description: description, accessIPv4: access.ipv4,
            accessIPv6: access.ipv6, diskConfig: access.diskConfig, nameField: "rebuild.name",
            metadataField: "rebuild.metadata", descriptionField: "rebuild.description")
        let keyName: String?? = body.contains("key_name") ? .some(try body.nullableString("key_name")) : nil
        return .rebuild(
            ServerRebuild(image: .id(image), update: update, keyName: keyName), adminPass: try body.string("adminPass"))
    }
}

/// `POST /flavors`.
struct NovaFlavorCreateRequest: Decodable {
    var draft: FlavorDraft

    init(from decoder: any Decoder) throws {
        let body = try StrictObject(decoder, allowed: ["flavor"])
        var allowed = [
            "name", "ram", "vcpus", "disk", "id", "OS-FLV-EXT-DATA:ephemeral", "swap", "rxtx_factor",
            "os-flavor-access:is_public",
        ]
        if decoder.microversion >= Microversion(55) { allowed.append("description") }
        let flavor = try body.requiredObject("flavor", allowed: allowed)
        if let factor = try flavor.decode(Double.self, "rxtx_factor"), factor != 1 {
            throw ComputeError.invalidField("flavor.rxtx_factor", "only 1.0 is supported.")
        }
        draft = try FlavorDraft(
            id: flavor.flavorID("id"), name: flavor.requiredString("name"), vcpus: flavor.requiredInteger("vcpus"),
            ram: flavor.requiredInteger("ram"), disk: flavor.requiredInteger("disk"),
            swap: flavor.swapSize("swap"), ephemeral: flavor.integer("OS-FLV-EXT-DATA:ephemeral") ?? 0,
            isPublic: flavor.boolean("os-flavor-access:is_public") ?? true,
            description: flavor.nullableString("description"))
    }
}

/// `POST /flavors/{id}/action`: `{"addTenantAccess": {"tenant": …}}` or
/// `{"removeTenantAccess": {"tenant": …}}` (Nova's flavor access).
struct NovaFlavorActionRequest: Decodable {
    var projectID: String
    var grants: Bool

    init(from decoder: any Decoder) throws {
        let actions = ["addTenantAccess", "removeTenantAccess"]
        let body = try StrictObject(decoder, allowed: actions)
        let given = actions.filter { body.contains($0) }
        guard given.count == 1, let action = given.first else {
            throw ComputeError.invalidInput("The body must hold exactly one of addTenantAccess and removeTenantAccess.")
        }
        let project = try body.requiredObject(action, allowed: ["tenant"]).requiredString("tenant")
        guard (1...255).contains(project.count) else {
            throw ComputeError.invalidField("\(action).tenant", "must be 1–255 characters long.")
        }
        projectID = project
        grants = action == "addTenantAccess"
    }
}

/// `PUT /flavors/{id}` (2.55): `{"flavor": {"description": …}}`.
struct NovaFlavorUpdateRequest: Decodable {
    var description: String?

    init(from decoder: any Decoder) throws {
        let body = try StrictObject(decoder, allowed: ["flavor"])
        let flavor = try body.requiredObject("flavor", allowed: ["description"])
        guard flavor.contains("description") else {
            throw ComputeError.invalidField("flavor", "'description' is a required property.")
        }
        description = try flavor.nullableString("description")
        if let description, description.unicodeScalars.count > FlavorDraft.maxDescriptionLength {
            throw ComputeError.invalidField(
                "flavor.description", "must be at most \(FlavorDraft.maxDescriptionLength) characters long.")
        }
    }
}

/// `{"extra_specs": {…}}` (POST), or `{"KEY": "value"}` (PUT of one key).
struct NovaExtraSpecsRequest: Decodable {
    var specs: [String: String]

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        if container.contains(AnyKey("extra_specs")) && container.allKeys.count == 1 {
            specs = try container.decode([String: String].self, forKey: AnyKey("extra_specs"))
        } else {
            specs = try decoder.singleValueContainer().decode([String: String].self)
        }
        try Validation.extraSpecs(specs, field: "extra_specs")
    }
}

extension StrictObject {
    /// Nova's `swap`: an integer, or `""` for none.
    func swapSize(_ key: String) throws -> Int {
        if let text = try? decode(String.self, key), text.isEmpty { return 0 }
        return try integer(key) ?? 0
    }
}

/// `PUT /os-quota-sets/{project}`: `{"quota_set": {"instances": 20, "cores": 40, "ram": …}}`
/// (`force` as Nova takes it). The other resources Nova lists are reported at fixed values here
/// and cannot be changed: naming one is a 400 rather than a change silently dropped.
struct QuotaSetUpdate: Decodable {
    /// The limits named (its project is the route's).
    var change: QuotaOverride

    init(from decoder: any Decoder) throws {
        let resources = NovaAPI.quotaResources(at: decoder.microversion)
        change = try Self.change(decoder, key: "quota_set", resources: resources, extra: ["force"])
    }

    /// `{key: {resource: limit, …}}`: `instances`, `cores`, `ram` and `resources`, each -1 or more.
    static func change(_ decoder: any Decoder, key: String, resources: [QuotaResource], extra: [String]) throws
        -> QuotaOverride
    {
        let others = resources.map(\.rawValue)
        let set = try StrictObject(decoder, allowed: [key]).requiredObject(
            key, allowed: ["instances", "cores", "ram"] + others + extra)
        if extra.contains("force") { _ = try set.boolean("force") }
        var change = QuotaOverride(
            project: "", instances: try set.integer("instances"), cores: try set.integer("cores"), ram: try set.integer("ram"))
        var named: [String: Int] = [:]
        for name in others { if let value = try set.integer(name) { named[name] = value } }
        change.others = named.isEmpty ? nil : named
        for (name, value) in [("instances", change.instances), ("cores", change.cores), ("ram", change.ram)]
            + named.map({ ($0.key, Optional($0.value)) })
        {
            if let value, value < -1 || value > Int(Int32.max) {
                throw ComputeError.invalidField("\(key).\(name)", "must be -1 (unlimited) or from 0 to \(Int32.max).")
            }
        }
        return change
    }
}

/// `PUT /os-quota-class-sets/default`: `{"quota_class_set": {resource: limit, …}}`.
struct QuotaClassSetUpdate: Decodable {
    var change: QuotaOverride

    init(from decoder: any Decoder) throws {
        let resources = NovaAPI.quotaClassResources(at: decoder.microversion)
        change = try QuotaSetUpdate.change(decoder, key: "quota_class_set", resources: resources, extra: [])
        change.project = QuotaOverride.defaultClass
    }
}
