import CLibCrypto

/// The few cryptographic operations identity needs, from libcrypto (already linked for
/// tokens): SHA-256 of high-entropy secrets (tokens, application-credential secrets), a slow
/// salted hash of passwords, constant-time comparison, and random bytes.
public enum Secrets {
    public static func sha256(_ bytes: some Collection<UInt8>) -> [UInt8] {
        let input = Array(bytes)
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = input.withUnsafeBytes { input in
            EVP_Digest(input.baseAddress, input.count, &digest, &length, EVP_sha256(), nil)
        }
        precondition(ok == 1 && length == 32, "libcrypto's SHA-256 failed")
        return digest
    }

    /// PBKDF2-HMAC-SHA256 (RFC 8018), 32 bytes.
    public static func pbkdf2SHA256(password: some Collection<UInt8>, salt: [UInt8], iterations: Int) -> [UInt8] {
        let password = Array(password)
        var key = [UInt8](repeating: 0, count: 32)
        let ok = password.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { p in
                PKCS5_PBKDF2_HMAC(
                    p.baseAddress, Int32(p.count), salt, Int32(salt.count), Int32(iterations), EVP_sha256(), 32, &key)
            }
        }
        precondition(ok == 1, "libcrypto's PBKDF2 failed")
        return key
    }

    /// Whether `a` and `b` are equal, in time that depends only on their length.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { a in b.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) } }
            == 0
    }

    /// `count` bytes from the system's generator (getrandom).
    public static func random(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xf)]] }, as: UTF8.self)
    }

    /// The bytes of lowercase hex digits; nil for anything else.
    public static func bytes(hex: some StringProtocol) -> [UInt8]? {
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        let utf8 = Array(hex.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        for index in stride(from: 0, to: utf8.count, by: 2) {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    public static func isHex(_ text: some StringProtocol, count: Int) -> Bool {
        text.utf8.count == count && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

/// A password as stored: PBKDF2-HMAC-SHA256 with a random 16-byte salt, and the work factor
/// it was made with (so a stronger one applies to new passwords without breaking old ones).
public struct PasswordHash: Codable, Sendable, Equatable {
    public var algorithm: String
    public var iterations: Int
    public var salt: String
    public var hash: String

    /// OWASP's 2023 figure for PBKDF2-HMAC-SHA256; about 0.25 s of one core here, which is
    /// also why repeated failures lock a user out rather than being retried freely.
    public static let defaultIterations = 600_000

    public init(password: String, iterations: Int = defaultIterations) {
        let salt = Secrets.random(16)
        algorithm = "pbkdf2-sha256"
        self.iterations = iterations
        self.salt = Secrets.hex(salt)
        hash = Secrets.hex(Secrets.pbkdf2SHA256(password: password.utf8, salt: salt, iterations: iterations))
    }

    /// A hash no password matches (its digest is random, not derived from anything), made
    /// without the work of hashing: checked in place of a user that does not exist, it costs
    /// the same `iterations` as a real one. Hashing a random password instead took 0.25 s of
    /// the worker's start-up here.
    public static func unmatchable(iterations: Int) -> PasswordHash {
        PasswordHash(
            algorithm: "pbkdf2-sha256", iterations: iterations, salt: Secrets.hex(Secrets.random(16)),
            hash: Secrets.hex(Secrets.random(32)))
    }

    private init(algorithm: String, iterations: Int, salt: String, hash: String) {
        (self.algorithm, self.iterations, self.salt, self.hash) = (algorithm, iterations, salt, hash)
    }

    public func matches(_ password: String) -> Bool {
        guard algorithm == "pbkdf2-sha256", (1...10_000_000).contains(iterations), let salt = Secrets.bytes(hex: salt),
            let expected = Secrets.bytes(hex: hash)
        else { return false }
        return Secrets.equal(Secrets.pbkdf2SHA256(password: password.utf8, salt: salt, iterations: iterations), expected)
    }
}
