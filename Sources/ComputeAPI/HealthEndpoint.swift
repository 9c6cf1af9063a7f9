import ComputeCore
import HTTPTypes

/// `GET /healthz`: liveness, readiness and status in one JSON document, like php-fpm's
/// status page. 200 when the store accepts writes, 503 (same document, `"status":
/// "degraded"`) when it does not; when the store cannot even be read (a database that is
/// down), its counts are null and `store.problem` says why. nginx serves it to localhost only, and the worker answers it
/// only for requests that came through that restricted location.
struct HealthEndpoint: Sendable {
    let inventory: Inventory
    let statistics: RequestStatistics
    let version: String
    let startedAt: Timestamp
    /// Its failed sign-ins and lockouts are reported; nil without the identity API.
    let identity: Identity?

    func register(into router: inout Router<RequestContext>) {
        router.add(.get, "/healthz", .health) { _, _ in report() }
    }

    func report() -> APIResponse {
        var store = inventory.storeHealth
        let counts: InventoryCounts?
        do {
            counts = try inventory.counts()
        } catch {
            counts = nil
            if store.writable { store.problem = error.message }
        }
        let uptime = (SystemClock().now().microsecondsSinceEpoch - startedAt.microsecondsSinceEpoch) / 1_000_000
        var w = JSONWriter(capacity: 512)
        w.beginObject()
        w.field("status", store.writable ? "ok" : "degraded")
        w.field("version", version)
        w.field("uptime_seconds", Int(uptime))
        w.key("store")
        w.beginObject()
        w.field("writable", store.writable)
        w.field("problem", store.problem)
        for (name, value) in store.counters.sorted(by: { $0.key < $1.key }) {
            w.key(name)
            w.int(value)
        }
        w.endObject()
        let requests = statistics.snapshot
        w.key("requests")
        w.beginObject()
        w.field("served", requests.served)
        w.field("in_flight", requests.inFlight)
        w.field("slow", requests.slow)
        w.field("slow_threshold_ms", statistics.slowThresholdMicroseconds / 1000)
        w.field("server_errors", requests.serverErrors)
        w.endObject()
        if let signIns = identity?.signInStatistics {
            w.key("sign_ins")
            w.beginObject()
            w.field("failed", signIns.failedSignIns)
            w.field("lockouts", signIns.lockouts)
            w.field("locked_out_now", signIns.lockedOut)
            w.endObject()
        }
        guard let counts else {
            for name: StaticString in ["servers", "flavors", "networks"] {
                w.key(name)
                w.null()
            }
            w.endObject()
            return .json(.serviceUnavailable, w.bytes)
        }
        w.field("servers", counts.servers)
        w.field("flavors", counts.flavors)
        w.key("networks")
        w.beginArray()
        for network in counts.networks {
            w.beginObject()
            w.field("name", network.name)
            w.field("cidr", network.cidr)
            w.field("used", network.used)
            w.field("free", network.free)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return .json(store.writable ? .ok : .serviceUnavailable, w.bytes)
    }
}
