/// A Nova key pair: a user's named SSH public key (the private half, when the service made it,
/// was returned once and not kept). Stored with the identity records, so every host sees it.
public struct KeypairRecord: NamedIdentityRecord {
    public static let collection = IdentityCollection.keypairs
    public var format = 1
    public var id: String
    public var name: String
    public var user: String
    /// Nova's `type`: always `ssh` here (x509 certificates are not offered).
    public var type = "ssh"
    public var publicKey: String
    public var fingerprint: String
    public var created: String

    enum CodingKeys: String, CodingKey {
        case format, id, name, user, type, fingerprint, created
        case publicKey = "public_key"
    }

    public init(id: String, name: String, user: String, key: SSHPublicKey, created: Timestamp) {
        self.id = id
        self.name = name
        self.user = user
        self.publicKey = key.line
        self.fingerprint = key.fingerprint
        self.created = created.iso8601Microseconds
    }

    public var createdAt: Timestamp? { Timestamp(canonical: created) }
}

/// Nova's key pairs API over the identity records: each user's own, names unique per user
/// (on several hosts the database's index keeps them so), at most `maxPerUser` a user.
extension Identity {
    /// Nova's default `key_pairs` quota.
    public static let maxKeypairsPerUser = 100

    /// `user`'s key pairs, by name.
    public func keypairs(user: String) throws(ComputeError) -> [KeypairRecord] {
        try store.all(KeypairRecord.self).filter { $0.user == user }.sorted { $0.name < $1.name }
    }

    /// `user`'s key pair `name`, or Nova's 404.
    public func keypair(user: String, name: String) throws(ComputeError) -> KeypairRecord {
        guard let found = try keypairs(user: user).first(where: { $0.name == name }) else {
            throw .notFound("Keypair \(name.prefix(255)) not found for user \(user)")
        }
        return found
    }

    /// Imports `publicKey` as `user`'s key pair `name`, or makes one when it is nil (the
    /// private key is returned, and only here). 409 when the name is taken, 403 over the quota
    /// (`limit` key pairs a user; -1: none).
    public func createKeypair(
        user: String, name: String, publicKey: String?, limit: Int = maxKeypairsPerUser
    ) throws(ComputeError) -> (record: KeypairRecord, privateKey: String?) {
        try Self.checkKeypairName(name)
        let generated = try publicKey == nil ? GeneratedKeypair.make(comment: "Generated-by-Nova") : nil
        let key: SSHPublicKey
        if let generated { key = generated.publicKey } else { key = try SSHPublicKey(publicKey ?? "") }
        let record = KeypairRecord(id: Secrets.hex(Secrets.random(16)), name: name, user: user, key: key, created: clock.now())
        try writer.withLock { _ throws(ComputeError) in
            let existing = try keypairs(user: user)
            guard !existing.contains(where: { $0.name == name }) else { throw .conflict("Key pair '\(name)' already exists.") }
            guard limit < 0 || existing.count < limit else {
                throw .forbidden("Quota exceeded, too many key pairs.")
            }
            try store.save(record)
        }
        return (record, generated?.privateKeyPEM)
    }

    public func deleteKeypair(user: String, name: String) throws(ComputeError) {
        try writer.withLock { _ throws(ComputeError) in
            let found = try keypair(user: user, name: name)
            guard try store.remove(KeypairRecord.self, id: found.id) else {
                throw .notFound("Keypair \(name.prefix(255)) not found for user \(user)")
            }
        }
    }

    /// Nova's rule before 2.92: 1 to 255 of letters, digits, space, `_` and `-`.
    static func checkKeypairName(_ name: String) throws(ComputeError) {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x20 || byte == 0x5F || byte == 0x2D
        }
        guard (1...255).contains(name.utf8.count), allowed, name.first != " ", name.last != " " else {
            throw .invalidField(
                "keypair.name", "1 to 255 letters, digits, spaces, '_' and '-' (not starting or ending with a space).")
        }
    }
}
