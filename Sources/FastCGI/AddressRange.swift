#if canImport(Glibc)
    import Glibc
#endif

/// A range of IP addresses allowed to connect to a TCP FastCGI socket (`--allow-from`):
/// `10.0.0.5` (one address), `10.0.0.0/24`, `fd00::/8`. An IPv4 range also matches the same
/// addresses seen as IPv4-mapped IPv6 (`::ffff:10.0.0.5`), as a socket bound to `::` sees them.
public struct AddressRange: Sendable, Equatable, CustomStringConvertible {
    /// The network's bytes (4 or 16), bits past `prefixLength` zero.
    private let network: [UInt8]
    private let prefixLength: Int

    public let description: String

    /// Parses `ADDRESS` or `ADDRESS/BITS`; nil when it is not one.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.bytes(of: String(parts[0])) else { return nil }
        let maximum = bytes.count * 8
        var length = maximum
        if parts.count == 2 {
            guard let bits = Int(parts[1]), (0...maximum).contains(bits), parts[1].allSatisfy({ $0.isASCII && $0.isNumber })
            else {
                return nil
            }
            length = bits
        }
        network = Self.masked(bytes, length)
        prefixLength = length
        description = parts.count == 2 ? text : "\(text)/\(maximum)"
    }

    /// Whether `address` (4 or 16 bytes) is in the range.
    public func contains(_ address: [UInt8]) -> Bool {
        var address = address
        if network.count == 4, address.count == 16, address.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
            address = Array(address.suffix(4))
        }
        return address.count == network.count && Self.masked(address, prefixLength) == network
    }

    /// The bytes of a numeric IPv4 or IPv6 address; nil when `text` is not one.
    public static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    private static func masked(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let keep = min(max(length - index * 8, 0), 8)
            return keep == 8 ? byte : byte & ~(UInt8.max >> keep)
        }
    }
}

/// The text `inet_ntop` wrote into `buffer`.
private func printed(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// A peer's IP address from `accept`, as bytes (4 or 16), and printed; nil for a unix socket.
func peerAddress(_ storage: sockaddr_storage) -> (bytes: [UInt8], text: String)? {
    var storage = storage
    return withUnsafePointer(to: &storage) { pointer -> (bytes: [UInt8], text: String)? in
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch Int32(pointer.pointee.ss_family) {
        case AF_INET:
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                var address = $0.pointee.sin_addr
                inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
                return (withUnsafeBytes(of: &address) { Array($0) }, printed(text))
            }
        case AF_INET6:
            return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                var address = $0.pointee.sin6_addr
                inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
                return (withUnsafeBytes(of: &address) { Array($0) }, printed(text))
            }
        default:
            return nil
        }
    }
}
