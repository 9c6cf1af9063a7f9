import ComputeCore

/// `POST /servers`: `{"server": {name, flavor, image, keyname?, network?, metadata?, min_count?,
/// max_count?, return_reservation_id?}}`.
struct V1ServerCreateRequest: Decodable {
    var draft: ServerDraft
    var returnReservationID: Bool

    init(from decoder: any Decoder) throws {
        let body = try StrictObject(decoder, allowed: ["server"])
        let server = try body.requiredObject(
            "server",
            allowed: [
                "name", "flavor", "image", "keyname", "network", "metadata", "min_count", "max_count", "return_reservation_id",
            ])
        draft = try ServerDraft(
            name: server.requiredString("name"), flavorReference: .idOrName(server.requiredString("flavor")),
            image: .idOrName(server.requiredString("image")), keyName: server.nullableString("keyname"),
            network: server.string("network").map { .named($0) } ?? .automatic,
            metadata: server.stringMap("metadata") ?? [:], minCount: server.integer("min_count") ?? 1,
            maxCount: server.integer("max_count"))
        returnReservationID = try server.boolean("return_reservation_id") ?? false
    }
}

/// `PATCH /servers/{ref}`: `{"server": {new_name?, metadata?}}`, at least one of them.
struct V1ServerUpdateRequest: Decodable {
    var update: ServerUpdate

    init(from decoder: any Decoder) throws {
        let body = try StrictObject(decoder, allowed: ["server"])
        let server = try body.requiredObject("server", allowed: ["new_name", "metadata"])
        update = try ServerUpdate(name: server.string("new_name"), metadata: server.stringMap("metadata"))
        guard update.name != nil || update.metadata != nil else {
            throw ComputeError.invalidField("server", "give 'new_name', 'metadata' or both.")
        }
    }
}

/// `POST /flavors`: `{"flavor": {name, vcpus, ram, disk, id?, swap?, ephemeral?, is_public?, description?}}`.
struct V1FlavorCreateRequest: Decodable {
    var draft: FlavorDraft

    init(from decoder: any Decoder) throws {
        let body = try StrictObject(decoder, allowed: ["flavor"])
        let flavor = try body.requiredObject(
            "flavor", allowed: ["name", "vcpus", "ram", "disk", "id", "swap", "ephemeral", "is_public", "description"])
        draft = try FlavorDraft(
            id: flavor.flavorID("id"), name: flavor.requiredString("name"), vcpus: flavor.requiredInteger("vcpus"),
            ram: flavor.requiredInteger("ram"), disk: flavor.requiredInteger("disk"), swap: flavor.integer("swap") ?? 0,
            ephemeral: flavor.integer("ephemeral") ?? 0, isPublic: flavor.boolean("is_public") ?? true,
            description: flavor.nullableString("description"))
    }
}

extension StrictObject {
    /// A flavor id: a string, or a non-negative integer (Nova accepts `"id": 42`); null means
    /// "generate one".
    func flavorID(_ key: String) throws -> String? {
        guard try has(key) else { return nil }
        if let text = try? string(key) { return text }
        if let number = try? integer(key), number >= 0 { return String(number) }
        throw ComputeError.invalidField(field(key), "must be a string or a non-negative integer.")
    }
}
