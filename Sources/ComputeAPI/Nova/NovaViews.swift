import ComputeCore

/// Absolute links, as Nova writes them: `self` under `/v2.1`, `bookmark` without a version.
struct NovaLinks {
    /// `scheme://host[:port]` the client used.
    let base: String

    func versioned(_ path: String) -> String { "\(base)/v2.1/\(path)" }

    /// `"links": [self, bookmark]` for `collection/id`.
    func write(_ collection: String, _ id: String, into w: inout JSONWriter, bookmarkOnly: Bool = false) {
        w.key("links")
        w.beginArray()
        if !bookmarkOnly { Self.link("self", versioned("\(collection)/\(id)"), into: &w) }
        Self.link("bookmark", "\(base)/\(collection)/\(id)", into: &w)
        w.endArray()
    }

    static func link(_ rel: String, _ href: String, into w: inout JSONWriter) {
        w.beginObject()
        w.field("rel", rel)
        w.field("href", href)
        w.endObject()
    }
}

/// The Nova representations, per microversion (NOVA-COMPAT §1.3–1.4, checked key by key in
/// `NovaViewTests` against what tempest's schemas require and allow).
enum NovaView {
    /// Where a server view is used: the keys differ.
    enum ServerShape {
        /// `GET /servers/detail` items.
        case detail
        /// `GET /servers/{id}`: the detail view plus `server_groups` (2.71).
        case show
        /// `PUT /servers/{id}`: below 2.75 the basic view without the detail-only keys.
        case update
        /// The `rebuild` action's answer: the update's view, with `key_name` from 2.54,
        /// `user_data` from 2.57 and the `adminPass` that was set.
        case rebuild
    }

    static func server(
        _ server: Server, shape: ServerShape, version v: Microversion, links: NovaLinks, groups: [String] = [],
        securityGroups: [String] = [], adminPass: String? = nil, into w: inout JSONWriter
    ) {
        let detailKeys = (shape != .update && shape != .rebuild) || v >= Microversion(75)
        // A deleted server (kept for `changes-since`) is shown as Nova shows one: DELETED, with
        // its network gone.
        let deleted = server.deleted != nil
        w.beginObject()
        w.field("id", server.id)
        w.field("name", server.name)
        w.field("status", deleted ? "DELETED" : server.status.rawValue)
        w.field("tenant_id", server.projectID)
        w.field("user_id", server.userID)
        w.key("metadata")
        w.stringDictionary(server.metadata)
        w.field("hostId", "")
        w.key("image")
        if server.imageID.isEmpty {
            w.string("")
        } else {
            w.beginObject()
            w.field("id", server.imageID)
            links.write("images", server.imageID, into: &w, bookmarkOnly: true)
            w.endObject()
        }
        w.key("flavor")
        flavorOfServer(server.flavor, version: v, links: links, into: &w)
        w.timestamp("created", server.created)
        w.timestamp("updated", server.updated)
        w.addresses(of: server) { w, address in
            if detailKeys {
                w.field("OS-EXT-IPS:type", "fixed")
                w.field("OS-EXT-IPS-MAC:mac_addr", macAddress(address))
            }
        }
        w.field("accessIPv4", server.access.ipv4?.description ?? "")
        w.field("accessIPv6", server.access.ipv6 ?? "")
        links.write("servers", server.id, into: &w)
        w.field("OS-DCF:diskConfig", server.access.diskConfig.rawValue)
        if !deleted, server.status == .active || server.status == .build { w.field("progress", 0) }
        if detailKeys {
            // Left out when the server is in no group, as Nova does.
            if !securityGroups.isEmpty { Self.securityGroups(securityGroups, into: &w) }
            w.field("key_name", server.keyName)
            w.field("config_drive", "")
            w.field("OS-EXT-AZ:availability_zone", NovaAPI.availabilityZone)
            w.field("OS-EXT-STS:vm_state", deleted ? "deleted" : server.status.vmState)
            w.field("OS-EXT-STS:task_state", deleted ? nil : server.status.taskState)
            w.field("OS-EXT-STS:power_state", deleted ? 0 : server.status.powerState)
            w.timestamp("OS-SRV-USG:launched_at", server.created)
            if let terminated = server.deleted {
                w.timestamp("OS-SRV-USG:terminated_at", terminated)
            } else {
                w.field("OS-SRV-USG:terminated_at", nil)
            }
            w.key("os-extended-volumes:volumes_attached")
            w.beginArray()
            w.endArray()
            if v >= Microversion(3) {
                w.field("OS-EXT-SRV-ATTR:reservation_id", server.reservationID)
                w.field("OS-EXT-SRV-ATTR:launch_index", server.launchIndex)
                w.field("OS-EXT-SRV-ATTR:hostname", server.name)
            }
        }
        if v >= Microversion(9) { w.field("locked", false) }
        if v >= Microversion(19) { w.field("description", server.description) }
        if v >= Microversion(26) {
            w.key("tags")
            w.stringArray(server.tags)
        }
        if v >= Microversion(63) {
            w.key("trusted_image_certificates")
            w.null()
        }
        if v >= Microversion(71) && shape != .detail {
            w.key("server_groups")
            w.stringArray(groups)
        }
        if v >= Microversion(73) { w.field("locked_reason", nil) }
        if v >= Microversion(96) { w.field("pinned_availability_zone", nil) }
        if v >= Microversion(100) {
            w.key("scheduler_hints")
            w.beginObject()
            if let group = groups.first { w.field("group", group) }
            w.endObject()
        }
        if shape == .rebuild {
            if !detailKeys && v >= Microversion(54) { w.field("key_name", server.keyName) }
            if v >= Microversion(57) { w.field("user_data", nil) }
            w.field("adminPass", adminPass)
        }
        w.endObject()
    }

    /// `"security_groups": [{"name": …}, …]`.
    static func securityGroups(_ names: [String], into w: inout JSONWriter) {
        w.key("security_groups")
        w.beginArray()
        for name in names {
            w.beginObject()
            w.field("name", name)
            w.endObject()
        }
        w.endArray()
    }

    /// A server's flavor: a reference below 2.47, the embedded snapshot from 2.47.
    static func flavorOfServer(_ flavor: FlavorSnapshot, version: Microversion, links: NovaLinks, into w: inout JSONWriter) {
        w.beginObject()
        if version < Microversion(47) {
            w.field("id", flavor.id)
            links.write("flavors", flavor.id, into: &w, bookmarkOnly: true)
        } else {
            w.field("original_name", flavor.name)
            w.field("vcpus", flavor.vcpus)
            w.field("ram", flavor.ram)
            w.field("disk", flavor.disk)
            w.field("ephemeral", flavor.ephemeral)
            w.field("swap", flavor.swap)
            w.key("extra_specs")
            w.stringDictionary(flavor.extraSpecs)
        }
        w.endObject()
    }

    /// A locally administered MAC (Neutron's `fa:16:3e` prefix) derived from the address, so
    /// it is stable and unique within a network.
    static func macAddress(_ address: IPv4Address) -> String {
        let bytes = [0xfa, 0x16, 0x3e, (address.value >> 16) & 0xff, (address.value >> 8) & 0xff, address.value & 0xff]
        return bytes.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }

    /// `{id, name, links}`: the items of `GET /servers`.
    static func serverBrief(_ server: Server, links: NovaLinks, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", server.id)
        w.field("name", server.name)
        links.write("servers", server.id, into: &w)
        w.endObject()
    }

    static func flavor(_ flavor: Flavor, detailed: Bool, version v: Microversion, links: NovaLinks, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", flavor.id)
        w.field("name", flavor.name)
        links.write("flavors", flavor.id, into: &w)
        if v >= Microversion(55) { w.field("description", flavor.description) }
        if detailed {
            w.field("ram", flavor.ram)
            w.field("vcpus", flavor.vcpus)
            w.field("disk", flavor.disk)
            if flavor.swap == 0 && v < Microversion(75) {
                w.field("swap", "")
            } else {
                w.field("swap", flavor.swap)
            }
            w.field("OS-FLV-EXT-DATA:ephemeral", flavor.ephemeral)
            w.field("OS-FLV-DISABLED:disabled", false)
            w.field("os-flavor-access:is_public", flavor.isPublic)
            w.key("rxtx_factor")
            w.raw(Array("1.0".utf8))
            if v >= Microversion(61) {
                w.key("extra_specs")
                w.stringDictionary(flavor.extraSpecs)
            }
        }
        w.endObject()
    }

    /// A Glance v2 image (unwrapped, as the image service returns it).
    static func image(_ image: Image, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", image.id)
        w.field("name", image.name)
        w.field("status", "active")
        w.field("visibility", "public")
        w.field("protected", false)
        w.field("os_hidden", false)
        w.field("container_format", "bare")
        w.field("disk_format", "qcow2")
        w.field("min_disk", 0)
        w.field("min_ram", 0)
        w.key("tags")
        w.beginArray()
        w.endArray()
        w.field("self", "/v2/images/\(image.id)")
        w.field("file", "/v2/images/\(image.id)/file")
        w.field("schema", "/v2/schemas/image")
        w.endObject()
    }

    /// A network as Nova's `os-networks` proxy shows it (nova-network's fields).
    static func novaNetwork(_ network: NetworkConfig, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", network.id)
        w.field("label", network.name)
        w.field("cidr", network.cidr)
        w.field("gateway", IPv4Address(network.network.value + 1).description)
        w.field("dhcp_start", network.firstHost.description)
        w.field("netmask", IPv4Address(network.prefixLength == 0 ? 0 : ~UInt32(0) << (32 - network.prefixLength)).description)
        w.field("broadcast", IPv4Address(network.lastHost.value + 1).description)
        w.field("cidr_v6", nil)
        w.field("project_id", nil)
        w.field("multi_host", false)
        w.endObject()
    }

    /// A Keystone v3 project: projects here are the names tokens and servers carry.
    static func project(_ id: String, links: NovaLinks, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", id)
        w.field("name", id)
        w.field("domain_id", "default")
        w.field("enabled", true)
        w.field("is_domain", false)
        w.field("parent_id", nil)
        w.field("description", "")
        w.key("tags")
        w.beginArray()
        w.endArray()
        w.key("links")
        w.beginObject()
        w.field("self", links.versioned("projects/\(id)"))
        w.endObject()
        w.endObject()
    }

    /// The v2.1 entry of the version documents.
    static func version(links: NovaLinks, mediaTypes: Bool, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", "v2.1")
        w.field("status", "CURRENT")
        w.field("version", Microversion.maximum.description)
        w.field("min_version", Microversion.minimum.description)
        w.field("updated", "2013-07-23T11:33:21Z")
        w.key("links")
        w.beginArray()
        NovaLinks.link("self", links.versioned(""), into: &w)
        w.endArray()
        if mediaTypes {
            w.key("media-types")
            w.beginArray()
            w.beginObject()
            w.field("base", "application/json")
            w.field("type", "application/vnd.openstack.compute+json;version=2.1")
            w.endObject()
            w.endArray()
        }
        w.endObject()
    }
}
