import CLibCrypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An OpenSSH public key line (`ssh-ed25519 AAAA… comment`), checked to be a key of the type
/// it names: its base64 blob must hold the type again, then that type's fields whole (RSA's
/// exponent and modulus, Ed25519's 32 bytes, an ECDSA curve's name and point) and nothing more.
public struct SSHPublicKey: Sendable, Equatable {
    /// `ssh-rsa`, `ssh-ed25519`, `ecdsa-sha2-nistp256`, …
    public var type: String
    /// The decoded blob.
    public var blob: [UInt8]
    /// The line as given, without surrounding white space.
    public var line: String

    public static let types = [
        "ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    ]

    public init(_ text: String) throws(ComputeError) {
        var trimmed = Substring(text)
        while trimmed.first?.isWhitespace == true { trimmed.removeFirst() }
        while trimmed.last?.isWhitespace == true { trimmed.removeLast() }
        let line = String(trimmed)
        let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard fields.count >= 2, line.utf8.count <= 16_384 else { throw Self.refused("not an OpenSSH public key line") }
        let type = String(fields[0])
        guard Self.types.contains(type) else {
            throw Self.refused("the type '\(type.prefix(32))' is not one of \(Self.types.joined(separator: ", "))")
        }
        guard let data = Data(base64Encoded: String(fields[1])) else { throw Self.refused("its key is not base64") }
        let blob = [UInt8](data)
        var reader = Reader(bytes: blob)
        guard let named = reader.string(), Array(named) == Array(type.utf8) else {
            throw Self.refused("its key does not hold the type it names")
        }
        switch type {
        case "ssh-rsa":
            guard let exponent = reader.string(), !exponent.isEmpty, let modulus = reader.string(),
                modulus.drop(while: { $0 == 0 }).count * 8 >= 1024
            else { throw Self.refused("not an RSA key of at least 1024 bits") }
        case "ssh-ed25519":
            guard reader.string()?.count == 32 else { throw Self.refused("not a 32-byte Ed25519 key") }
        default:
            let curve = String(type.dropFirst("ecdsa-sha2-".count))
            guard reader.string().map({ Array($0) }) == Array(curve.utf8), let point = reader.string(), point.first == 4,
                point.count == 1 + 2 * ["nistp256": 32, "nistp384": 48, "nistp521": 66][curve, default: 0]
            else { throw Self.refused("not an ECDSA key on \(curve)") }
        }
        guard reader.atEnd else { throw Self.refused("its key has bytes after its fields") }
        self.type = type
        self.blob = blob
        self.line = line
    }

    /// Nova's fingerprint: the MD5 of the blob, as colon-separated hex (`ab:cd:…`).
    public var fingerprint: String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = blob.withUnsafeBytes { EVP_Digest($0.baseAddress, $0.count, &digest, &length, EVP_md5(), nil) }
        let hex = Array(Secrets.hex(Array(digest.prefix(Int(length)))))
        return stride(from: 0, to: hex.count, by: 2).map { String(hex[$0..<$0 + 2]) }.joined(separator: ":")
    }

    private static func refused(_ why: String) -> ComputeError {
        .invalidInput("Keypair data is invalid: \(why).")
    }

    /// Reads SSH wire-format strings (a 4-byte big-endian length, then the bytes).
    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var atEnd: Bool { offset == bytes.count }

        mutating func string() -> ArraySlice<UInt8>? {
            guard bytes.count - offset >= 4 else { return nil }
            let length = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            guard length <= bytes.count - offset - 4 else { return nil }
            defer { offset += 4 + length }
            return bytes[offset + 4..<offset + 4 + length]
        }
    }
}
