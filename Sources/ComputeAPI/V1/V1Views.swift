import ComputeCore

/// The v1 representations (CONTRACT §3).
enum V1View {
    static func server(_ server: Server, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", server.id)
        w.field("name", server.name)
        w.field("status", server.status.rawValue)
        w.key("flavor")
        w.beginObject()
        w.field("id", server.flavor.id)
        w.field("name", server.flavor.name)
        w.field("vcpus", server.flavor.vcpus)
        w.field("ram", server.flavor.ram)
        w.field("disk", server.flavor.disk)
        w.endObject()
        w.field("image", server.image)
        w.field("keyname", server.keyName)
        w.field("network", server.network)
        w.key("addresses")
        w.beginObject()
        if let network = server.network, let address = server.address {
            w.key(network)
            w.beginArray()
            w.beginObject()
            w.field("version", 4)
            w.field("addr", address.description)
            w.endObject()
            w.endArray()
        }
        w.endObject()
        w.key("metadata")
        w.stringDictionary(server.metadata)
        w.field("reservation_id", server.reservationID)
        w.field("created", server.created.iso8601Seconds)
        w.field("updated", server.updated.iso8601Seconds)
        w.endObject()
    }

    /// `"servers": [view…]` inside an open object.
    static func servers(_ servers: [Server], into w: inout JSONWriter) {
        w.key("servers")
        w.beginArray()
        for server in servers { Self.server(server, into: &w) }
        w.endArray()
    }

    static func flavor(_ flavor: Flavor, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", flavor.id)
        w.field("name", flavor.name)
        w.field("vcpus", flavor.vcpus)
        w.field("ram", flavor.ram)
        w.field("disk", flavor.disk)
        w.field("swap", flavor.swap)
        w.field("ephemeral", flavor.ephemeral)
        w.field("is_public", flavor.isPublic)
        w.field("description", flavor.description)
        w.endObject()
    }

    /// `{"server": view}`.
    static func serverDocument(_ server: Server) -> [UInt8] {
        var w = JSONWriter(capacity: 640)
        w.beginObject()
        w.key("server")
        Self.server(server, into: &w)
        w.endObject()
        return w.bytes
    }

    /// `{"flavor": view}`.
    static func flavorDocument(_ flavor: Flavor) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("flavor")
        Self.flavor(flavor, into: &w)
        w.endObject()
        return w.bytes
    }
}
