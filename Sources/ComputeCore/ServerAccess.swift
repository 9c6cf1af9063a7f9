#if canImport(Glibc)
    import Glibc
#endif

/// What Nova keeps of a server for its clients without acting on it: the addresses they say it
/// is reached at (`accessIPv4`, `accessIPv6`) and how its disk was to be partitioned
/// (`OS-DCF:diskConfig`). No guest runs here, so they are stored and shown, nothing more.
public struct ServerAccess: Sendable, Equatable {
    public var ipv4: IPv4Address?
    /// In its canonical text form (RFC 5952: `::babe:dc0c:1602`), as Nova shows it.
    public var ipv6: String?
    public var diskConfig: DiskConfig

    /// Nova's `OS-DCF:diskConfig`.
    public enum DiskConfig: String, Sendable, CaseIterable {
        /// The disk is grown to the flavor's size and partitioned as one.
        case auto = "AUTO"
        /// The image's partitions as they are (what a server shows when none was asked for).
        case manual = "MANUAL"
    }

    /// A server created without any of them.
    public static let unset = ServerAccess()

    public init(ipv4: IPv4Address? = nil, ipv6: String? = nil, diskConfig: DiskConfig = .manual) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.diskConfig = diskConfig
    }

    /// `text` as an IPv4 address (strict dotted quad), or the client's 400 naming `field`.
    public static func ipv4(_ text: String, field: String) throws(ComputeError) -> IPv4Address {
        guard let address = IPv4Address(text) else {
            throw .invalidField(field, "'\(text.prefix(64))' is not an IPv4 address.")
        }
        return address
    }

    /// `text` as an IPv6 address in canonical form, or the client's 400 naming `field`.
    public static func ipv6(_ text: String, field: String) throws(ComputeError) -> String {
        guard let canonical = canonicalIPv6(text) else {
            throw .invalidField(field, "'\(text.prefix(64))' is not an IPv6 address.")
        }
        return canonical
    }

    /// `text` as `AUTO` or `MANUAL`, or the client's 400 naming `field`.
    public static func diskConfig(_ text: String, field: String) throws(ComputeError) -> DiskConfig {
        guard let value = DiskConfig(rawValue: text) else {
            throw .invalidField(field, "'\(text.prefix(64))' is not one of 'AUTO', 'MANUAL'.")
        }
        return value
    }

    /// The canonical text of an IPv6 address (libc's parser: no zone, no prefix length), or nil.
    public static func canonicalIPv6(_ text: String) -> String? {
        guard text.utf8.count <= 45, !text.utf8.contains(0) else { return nil }
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
