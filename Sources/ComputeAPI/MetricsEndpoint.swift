import ComputeCore
import CoreMetrics
import HTTPTypes

/// `GET /metrics`: the metrics in Prometheus's text format, for this host only (like
/// `/healthz`, through nginx's restricted location). Requests by route, method and status,
/// latency per route, store commits and failures and token failures are recorded as they
/// happen; what is a level rather than an event (requests in flight, servers, flavors, free
/// addresses, whether the store takes writes) is read when the scrape asks.
struct MetricsEndpoint: Sendable {
    let health: HealthEndpoint
    let exposition: @Sendable () -> [UInt8]

    func register(into router: inout Router<RequestContext>) {
        router.add(.get, "/metrics", .metrics) { _, _ in report() }
    }

    func report() -> APIResponse {
        Gauge(label: "alliance_http_requests_in_flight").record(health.statistics.snapshot.inFlight)
        let store = health.inventory.storeHealth
        Gauge(label: "alliance_store_writable").record(store.writable ? 1 : 0)
        if let counts = try? health.inventory.counts() {
            Gauge(label: "alliance_servers").record(counts.servers)
            Gauge(label: "alliance_flavors").record(counts.flavors)
            for network in counts.networks {
                Gauge(label: "alliance_network_addresses_free", dimensions: [("network", network.name)]).record(network.free)
                Gauge(label: "alliance_network_addresses_used", dimensions: [("network", network.name)]).record(network.used)
            }
        }
        return APIResponse(
            status: .ok, headerFields: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: exposition())
    }
}
