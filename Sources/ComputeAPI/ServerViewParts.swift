import ComputeCore

/// Pieces both APIs' server views write the same way.
extension JSONWriter {
    /// `"addresses": {"NET": [{"version": 4, "addr": "10.0.0.2", …}]}`, `{}` for a server
    /// without an address; `details` adds fields to the address object.
    mutating func addresses(of server: Server, details: (inout JSONWriter, IPv4Address) -> Void = { _, _ in }) {
        key("addresses")
        addressesByNetwork(of: server, only: nil, details: details)
    }

    /// `{"<network>": [{"version": 4, "addr": …}]}`: the server's networks (only the one named
    /// `only`, when given) and their addresses. A deleted server has none: its address is free.
    mutating func addressesByNetwork(
        of server: Server, only: String?, details: (inout JSONWriter, IPv4Address) -> Void = { _, _ in }
    ) {
        beginObject()
        if server.deleted == nil, let network = server.network, let address = server.address,
            only.map({ $0 == network }) ?? true
        {
            key(network)
            beginArray()
            beginObject()
            field("version", 4)
            key("addr")
            unescapedString { address.appendDottedQuad(to: &$0) }
            details(&self, address)
            endObject()
            endArray()
        }
        endObject()
    }

    /// `"name": "2026-11-29T05:11:36Z"`.
    mutating func timestamp(_ name: StaticString, _ value: Timestamp) {
        key(name)
        unescapedString { value.appendISO8601(to: &$0) }
    }
}
