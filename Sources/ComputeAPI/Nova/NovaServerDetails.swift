import ComputeCore
import HTTPTypes

/// What Nova answers about a server beside its own document: its addresses by network
/// (`/servers/{id}/ips`), its encrypted admin password (`os-server-password`: none here, as no
/// guest runs to set one), and the availability zones (one, `nova`, as every server shows).
extension NovaAPI {
    func registerServerDetails(into router: inout Router<RequestContext>) {
        route(&router, .get, "/servers/{id}/ips", .addressesRead) { n, p in
            let server = try inventory.server(.id(p["id"]), caller: n.caller)
            return APIResponse.document("addresses") { w in w.addressesByNetwork(of: server, only: nil) }
        }
        route(&router, .get, "/servers/{id}/ips/{network}", .addressesRead) { n, p in
            let server = try inventory.server(.id(p["id"]), caller: n.caller)
            guard server.network == p["network"], server.address != nil else {
                throw ComputeError.notFound("Instance is not a member of specified network")
            }
            var w = JSONWriter()
            w.addressesByNetwork(of: server, only: p["network"])
            return .json(.ok, w.bytes)
        }
        route(&router, .get, "/servers/{id}/os-server-password", .serverPasswordRead) { n, p in
            _ = try inventory.server(.id(p["id"]), caller: n.caller)
            return APIResponse.document("password") { w in w.string("") }
        }
        route(&router, .delete, "/servers/{id}/os-server-password", .serverPasswordClear) { n, p in
            _ = try inventory.server(.id(p["id"]), caller: n.caller)
            return .empty(.noContent)
        }
        route(&router, .get, "/os-availability-zone", .availabilityZones) { _, _ in
            APIResponse.document("availabilityZoneInfo") { w in
                w.beginArray()
                w.beginObject()
                w.field("zoneName", Self.availabilityZone)
                w.key("zoneState")
                w.beginObject()
                w.field("available", true)
                w.endObject()
                w.key("hosts")
                w.null()
                w.endObject()
                w.endArray()
            }
        }
    }

    /// The one zone every server is in (`OS-EXT-AZ:availability_zone`).
    static let availabilityZone = "nova"
}
