import CLibCrypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A key pair Nova makes when a client asks for one without giving a public key (before 2.92):
/// a 2048-bit RSA key, its private half returned once as PEM (`-----BEGIN RSA PRIVATE KEY-----`,
/// what `ssh -i` reads) and never kept, its public half kept as an OpenSSH line.
public struct GeneratedKeypair: Sendable {
    public var publicKey: SSHPublicKey
    public var privateKeyPEM: String

    public static func make(comment: String) throws(ComputeError) -> GeneratedKeypair {
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nil) else { throw failed("EVP_PKEY_CTX_new_id") }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_CTX_set_rsa_keygen_bits(context, 2048) == 1,
            EVP_PKEY_keygen(context, &key) == 1, let key
        else { throw failed("RSA key generation") }
        defer { EVP_PKEY_free(key) }

        guard let exponent = bigNumber(key, OSSL_PKEY_PARAM_RSA_E), let modulus = bigNumber(key, OSSL_PKEY_PARAM_RSA_N) else {
            throw failed("reading the RSA key's numbers")
        }
        var blob: [UInt8] = []
        for field in [Array("ssh-rsa".utf8), mpint(exponent), mpint(modulus)] {
            blob += withUnsafeBytes(of: UInt32(field.count).bigEndian, Array.init) + field
        }
        let line = "ssh-rsa \(Data(blob).base64EncodedString()) \(comment)"

        guard let memory = BIO_new(BIO_s_mem()) else { throw failed("BIO_new") }
        defer { BIO_free(memory) }
        guard PEM_write_bio_PrivateKey_traditional(memory, key, nil, nil, 0, nil, nil) == 1 else {
            throw failed("writing the private key")
        }
        var start: UnsafeMutablePointer<CChar>?
        let length = BIO_ctrl(memory, BIO_CTRL_INFO, 0, &start)
        guard let start, length > 0 else { throw failed("reading the private key") }
        let pem = String(decoding: UnsafeRawBufferPointer(start: start, count: length), as: UTF8.self)
        return GeneratedKeypair(publicKey: try SSHPublicKey(line), privateKeyPEM: pem)
    }

    private static func bigNumber(_ key: OpaquePointer, _ name: String) -> [UInt8]? {
        var number: OpaquePointer?
        guard EVP_PKEY_get_bn_param(key, name, &number) == 1, let number else { return nil }
        defer { BN_free(number) }
        var bytes = [UInt8](repeating: 0, count: (Int(BN_num_bits(number)) + 7) / 8)
        _ = BN_bn2bin(number, &bytes)
        return bytes
    }

    /// SSH's mpint: big-endian, with a 0 in front when the top bit is set (it is not negative).
    private static func mpint(_ bytes: [UInt8]) -> [UInt8] {
        (bytes.first ?? 0) & 0x80 != 0 ? [0] + bytes : bytes
    }

    private static func failed(_ step: String) -> ComputeError {
        .unavailable("Could not make a key pair (\(step) failed); give a public key instead.")
    }
}
