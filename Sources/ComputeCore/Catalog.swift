/// An image servers boot from. The service keeps no image data: the images are configuration
/// (`serve --image NAME=ID`), listed Glance-style on `/v2.1/images` and checked on create.
public struct Image: Sendable, Hashable {
    public var id: String
    public var name: String

    public init(id: String, name: String) throws(ComputeError) {
        try Validation.text(name, field: "image name", maxLength: Validation.maxNameLength)
        try Validation.identifier(id, field: "image id")
        self.id = id
        self.name = name
    }

    /// The seed's image, and the short name the OpenStack quick starts use.
    public static let defaults: [Image] = {
        do {
            return [
                try Image(id: "5b2b0c2e-0b7f-4c1a-9d3e-3f8a1c7e6d21", name: "cirros-0.3.4-x86_64-uec"),
                try Image(id: "9e6f3a44-2d1b-4f8e-8c5a-7b0d2e4f6a13", name: "cirros"),
            ]
        } catch {
            preconditionFailure("the built-in images are valid")
        }
    }()
}

/// How a request names a server, flavor, image or network: Nova's API takes ids only, the
/// v1 API an id or a name.
public enum Reference: Sendable, Hashable, ExpressibleByStringLiteral {
    case id(String)
    case idOrName(String)

    public init(stringLiteral value: String) { self = .idOrName(value) }

    public var text: String {
        switch self {
        case .id(let text), .idOrName(let text): text
        }
    }

    /// The item this reference names in `items`: by id first, then (if allowed) by name.
    func resolve<Item>(in items: [Item], id: (Item) -> String, name: (Item) -> String) -> Item? {
        if let item = items.first(where: { id($0) == text }) { return item }
        guard case .idOrName = self else { return nil }
        return items.first(where: { name($0) == text })
    }

    /// After Nova's "could not be found": the first few of what this reference could have
    /// named (names, or ids where only an id will do), so the caller can correct the request
    /// without another lookup.
    func choices<Item>(_ items: [Item], of kind: String, id: (Item) -> String, name: (Item) -> String) -> String {
        guard !items.isEmpty else { return " There are no \(kind)s." }
        let shown = 5
        let (what, values): (String, [String]) =
            switch self {
            case .id: ("\(kind) ids", items.map(id))
            case .idOrName: ("\(kind)s", items.map(name))
            }
        let more = values.count > shown ? " and \(values.count - shown) more" : ""
        return " The \(what) there are: \(values.prefix(shown).joined(separator: ", "))\(more)."
    }
}
