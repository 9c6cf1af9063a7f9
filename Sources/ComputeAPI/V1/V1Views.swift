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

    /// `"servers": [view…]` inside an open object, from the views `views` keeps.
    static func servers(_ servers: [Server], views: ServerViews, into w: inout JSONWriter) {
        w.key("servers")
        w.beginArray()
        for server in servers { w.raw(views.view(of: server)) }
        w.endArray()
    }

    /// `{"server": view}` from the view `views` keeps.
    static func serverDocument(_ server: Server, views: ServerViews) -> [UInt8] {
        let view = views.view(of: server)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(view.count + 12)
        bytes.append(contentsOf: #"{"server":"#.utf8)
        bytes.append(contentsOf: view)
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
