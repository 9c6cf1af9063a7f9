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
        w.addresses(of: server)
        w.key("metadata")
        w.stringDictionary(server.metadata)
        w.field("reservation_id", server.reservationID)
        w.timestamp("created", server.created)
        w.timestamp("updated", server.updated)
        w.endObject()
    }

    /// The view of one server, as the inventory keeps it (see `ComputeService`).
    static let render: ServerRenderer = { server in
        var w = JSONWriter(capacity: 512)
        Self.server(server, into: &w)
        return w.bytes
    }

    /// `"servers": [view…]` inside an open object.
    static func servers(_ servers: [Server], into w: inout JSONWriter) {
        w.key("servers")
        w.beginArray()
        for server in servers { Self.server(server, into: &w) }
        w.endArray()
    }

    /// `"servers": [view…]` from the views the inventory keeps.
    static func servers(_ entries: [ServerEntry], into w: inout JSONWriter) {
        w.key("servers")
        w.beginArray()
        for entry in entries { w.raw(entry.view) }
        w.endArray()
    }

    /// `{"server": view}` from the view the inventory keeps.
    static func serverDocument(_ entry: ServerEntry) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(entry.view.count + 12)
        bytes.append(contentsOf: #"{"server":"#.utf8)
        bytes.append(contentsOf: entry.view)
        bytes.append(UInt8(ascii: "}"))
        return bytes
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
